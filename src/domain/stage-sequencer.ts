import { inject, injectable } from 'inversify';

import type { BespinJob, ShareGroup, StageGroup } from './bespin-job.js';
import { BespinPaths, workflowPaths } from './bespin-paths.js';
import type {
  ConfigMapObject,
  EnvVar,
  JobObject,
  Labels,
  ObjectKind,
  PvcObject,
  Volume,
} from './cluster-objects.js';
import type { StepType } from './job-codes.js';
import { jobNames, labelValue, podTemplateName, type JobNames } from './job-names.js';
import { stepByType } from './job-steps.js';
import { LANDO_SETTINGS, type LandoSettings } from './settings.js';
import {
  CommandFileKeys,
  commandFilePath,
  organizeOutputCommandFile,
  saveOutputCommandFile,
  stageDataCommandFile,
} from './step-commands.js';

/** A step that reads a command file: its ConfigMap must exist before its Job. */
export interface ConfiguredStepObjects {
  readonly configMap: ConfigMapObject;
  readonly job: JobObject;
}

export interface StepJobObject {
  readonly job: JobObject;
}

export interface ObjectToDelete {
  readonly kind: ObjectKind;
  readonly name: string;
}

/** A volume together with where the step's container mounts it. */
interface MountedVolume {
  readonly volume: Volume;
  readonly mountPath: string;
}

interface ContainerSpec {
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly env: readonly EnvVar[];
  readonly workingDir?: string;
  readonly mounts: readonly MountedVolume[];
  readonly serviceAccountName?: string;
}

const GIB = 1024 ** 3;
const READ_WRITE_MANY = 'ReadWriteMany';
const POD_NAME_FIELD = 'metadata.name';
const DDSCLIENT_CONF: EnvVar = { name: 'DDSCLIENT_CONF', value: BespinPaths.ddsClientConfigFile };

/**
 * What each step of a bespin job creates and deletes in the cluster (kubernetes.md §2-§8,
 * §11), as domain objects. Pure: it decides, the JobRunner and the Cluster port act.
 */
@injectable()
export class StageSequencer {
  constructor(@inject(LANDO_SETTINGS) private readonly settings: LandoSettings) {}

  names(job: BespinJob): JobNames {
    return jobNames(job.id, job.username);
  }

  /** On every object of the job; also the selector of its cleanup lists. */
  jobLabels(job: BespinJob): Labels {
    const installation = this.settings.installationLabel;
    return {
      'bespin-job': 'true',
      'bespin-job-id': labelValue(String(job.id)),
      ...(installation === undefined ? {} : { [installation.key]: labelValue(installation.value) }),
    };
  }

  /** On a step's Job and its pod template. */
  stepLabels(job: BespinJob, step: StepType): Labels {
    return { ...this.jobLabels(job), 'bespin-job-step': step };
  }

  cleanupSelector(job: BespinJob): Labels {
    return this.jobLabels(job);
  }

  /** Finds the record step's pod, whose annotations carry the output project ids. */
  recordStepPodSelector(job: BespinJob): Labels {
    return this.stepLabels(job, 'record_output_project');
  }

  /** Holds the workflow, job order and inputs; sized for the inputs plus a configured margin. */
  jobDataPvc(job: BespinJob, stageGroup: StageGroup): PvcObject {
    const inputBytes = [...stageGroup.ddsFiles, ...stageGroup.urlFiles].reduce((total, file) => total + file.size, 0);
    const sizeGiB = this.settings.baseStageDataVolumeSizeInG + Math.ceil(inputBytes / GIB);
    return this.pvc(job, this.names(job).stagePvc, sizeGiB);
  }

  outputDataPvc(job: BespinJob): PvcObject {
    return this.pvc(job, this.names(job).outputPvc, job.volumeSizeGiB);
  }

  stageData(job: BespinJob, stageGroup: StageGroup): ConfiguredStepObjects {
    const names = this.names(job);
    return {
      configMap: this.configMap(job, names.stageData, CommandFileKeys.stageData, stageDataCommandFile(job, stageGroup)),
      job: this.stepJob(job, 'stage_data', {
        command: [...job.steps.stage_data.baseCommand],
        args: [commandFilePath(CommandFileKeys.stageData), BespinPaths.inputFileMetadata],
        env: [DDSCLIENT_CONF],
        mounts: [
          pvcVolume(names.stagePvc, names.stagePvc, false, BespinPaths.jobDataMount),
          configMapVolume(names.stageData, names.stageData, CommandFileKeys.stageData),
          this.dataStoreVolume(names),
        ],
      }),
    };
  }

  runWorkflow(job: BespinJob): StepJobObject {
    const names = this.names(job);
    const systemData = this.settings.systemDataVolume;
    return {
      job: this.stepJob(job, 'run_workflow', {
        command: this.runWorkflowCommand(job, names),
        args: [],
        env: [{ name: 'CALRISSIAN_POD_NAME', fieldPath: POD_NAME_FIELD }],
        mounts: [
          pvcVolume(names.stagePvc, names.stagePvc, true, BespinPaths.jobDataMount),
          pvcVolume(names.outputPvc, names.outputPvc, false, BespinPaths.outputDataMount),
          ...(systemData === undefined
            ? []
            : [pvcVolume(names.systemDataVolume, systemData.volumeClaimName, true, systemData.mountPath)]),
        ],
      }),
    };
  }

  /** `methodsContent` is the workflow's methods document, or null when it has none. */
  organizeOutput(job: BespinJob, methodsContent: string | null): ConfiguredStepObjects {
    const names = this.names(job);
    return {
      configMap: this.configMap(
        job,
        names.organizeOutput,
        CommandFileKeys.organizeOutput,
        organizeOutputCommandFile(job, names, methodsContent),
      ),
      job: this.stepJob(job, 'organize_output', {
        command: [...job.steps.organize_output.baseCommand],
        args: [commandFilePath(CommandFileKeys.organizeOutput)],
        env: [],
        mounts: [
          pvcVolume(names.stagePvc, names.stagePvc, true, BespinPaths.jobDataMount),
          pvcVolume(names.outputPvc, names.outputPvc, false, BespinPaths.outputDataMount),
          configMapVolume(names.organizeOutput, names.organizeOutput, CommandFileKeys.organizeOutput),
        ],
      }),
    };
  }

  saveOutput(job: BespinJob, shareGroup: ShareGroup): ConfiguredStepObjects {
    const names = this.names(job);
    return {
      configMap: this.configMap(job, names.saveOutput, CommandFileKeys.saveOutput, saveOutputCommandFile(job, shareGroup)),
      job: this.stepJob(job, 'save_output', {
        command: [...job.steps.save_output.baseCommand],
        args: [commandFilePath(CommandFileKeys.saveOutput), BespinPaths.annotateScript],
        env: [DDSCLIENT_CONF],
        workingDir: BespinPaths.resultsDir,
        mounts: [
          pvcVolume(names.stagePvc, names.stagePvc, true, BespinPaths.jobDataMount),
          // Writable: the upload writes the annotate script the record step runs.
          pvcVolume(names.outputPvc, names.outputPvc, false, BespinPaths.outputDataMount),
          // Q1: the original names this volume after the stage step; kept for identical specs.
          configMapVolume(names.stageData, names.saveOutput, CommandFileKeys.saveOutput),
          this.dataStoreVolume(names),
        ],
      }),
    };
  }

  /** Annotates its own pod with the output project ids; ignores the step's base command. */
  recordOutputProject(job: BespinJob): StepJobObject {
    const names = this.names(job);
    return {
      job: this.stepJob(job, 'record_output_project', {
        command: ['sh'],
        args: [BespinPaths.annotateScript],
        env: [{ name: 'MY_POD_NAME', fieldPath: POD_NAME_FIELD }],
        workingDir: BespinPaths.resultsDir,
        mounts: [pvcVolume(names.outputPvc, names.outputPvc, true, BespinPaths.outputDataMount)],
        serviceAccountName: this.settings.recordOutputProjectServiceAccount,
      }),
    };
  }

  /** What a step's `*_complete` handler deletes, in order. */
  cleanupAfter(job: BespinJob, step: StepType): readonly ObjectToDelete[] {
    const names = this.names(job);
    return stepByType(step).cleanupAfterCompletion.map((entry) => ({ kind: entry.kind, name: names[entry.name] }));
  }

  /**
   * kubernetes.md §8. A fresh array, so the job's base command is never extended in place
   * (Q2). The job flavor sets calrissian's limits; the step flavor only sizes its own pod.
   */
  private runWorkflowCommand(job: BespinJob, names: JobNames): string[] {
    return [
      ...job.steps.run_workflow.baseCommand,
      '--cachedir',
      `${BespinPaths.cwlCacheDir}/`,
      '--outdir',
      `${BespinPaths.resultsDir}/`,
      '--max-ram',
      job.jobFlavor.memory,
      '--max-cores',
      String(job.jobFlavor.cpus),
      '--usage-report',
      names.usageReportPath,
      '--stdout',
      BespinPaths.workflowStdout,
      '--stderr',
      BespinPaths.workflowStderr,
      workflowPaths(job.workflow).toRun,
      BespinPaths.jobOrder,
    ];
  }

  private dataStoreVolume(names: JobNames): MountedVolume {
    return {
      volume: { name: names.dataStoreVolume, source: { type: 'secret', secretName: this.settings.dataStoreSecretName } },
      mountPath: BespinPaths.ddsClientConfigMount,
    };
  }

  private pvc(job: BespinJob, name: string, sizeGiB: number): PvcObject {
    const storageClassName = this.settings.storageClassName;
    return {
      kind: 'PersistentVolumeClaim',
      metadata: { name, labels: this.jobLabels(job) },
      accessModes: [READ_WRITE_MANY],
      storage: `${sizeGiB}Gi`,
      ...(storageClassName === undefined ? {} : { storageClassName }),
    };
  }

  private configMap(job: BespinJob, name: string, key: string, content: string): ConfigMapObject {
    return { kind: 'ConfigMap', metadata: { name, labels: this.jobLabels(job) }, data: { [key]: content } };
  }

  private stepJob(job: BespinJob, step: StepType, spec: ContainerSpec): JobObject {
    const name = this.names(job)[stepByType(step).jobName];
    const { imageName, flavor } = job.steps[step];
    const labels = this.stepLabels(job, step);
    return {
      kind: 'Job',
      metadata: { name, labels },
      template: {
        metadata: { name: podTemplateName(name), labels },
        container: {
          name,
          image: imageName,
          command: spec.command,
          args: spec.args,
          ...(spec.workingDir === undefined ? {} : { workingDir: spec.workingDir }),
          env: spec.env,
          requests: { cpu: flavor.cpus, memory: flavor.memory },
          volumeMounts: spec.mounts.map(({ volume, mountPath }) => ({ name: volume.name, mountPath })),
        },
        volumes: spec.mounts.map(({ volume }) => volume),
        ...(spec.serviceAccountName === undefined ? {} : { serviceAccountName: spec.serviceAccountName }),
      },
    };
  }
}

function pvcVolume(name: string, claimName: string, readOnly: boolean, mountPath: string): MountedVolume {
  return { volume: { name, source: { type: 'pvc', claimName, readOnly } }, mountPath };
}

/** A ConfigMap's single command file, mounted as /bespin/config/<key>. */
function configMapVolume(name: string, configMapName: string, key: string): MountedVolume {
  return {
    volume: { name, source: { type: 'configMap', configMapName, items: [{ key, path: key }] } },
    mountPath: BespinPaths.configMount,
  };
}
