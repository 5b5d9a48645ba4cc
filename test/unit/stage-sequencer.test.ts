import assert from 'node:assert/strict';

import { Container } from 'inversify';

import type { BespinJob, StageGroup } from '../../src/domain/bespin-job.js';
import type { ClusterObject, JobObject } from '../../src/domain/cluster-objects.js';
import { InvalidJobError } from '../../src/domain/errors.js';
import { STEP_TYPES, type StepType } from '../../src/domain/job-codes.js';
import { isDnsLabel } from '../../src/domain/job-names.js';
import { JOB_STEPS, stepByBespinCode, stepByLabel, stepByType } from '../../src/domain/job-steps.js';
import { LANDO_SETTINGS, type LandoSettings } from '../../src/domain/settings.js';
import { StageSequencer } from '../../src/domain/stage-sequencer.js';
import {
  k8sEvents,
  loadHappyPath,
  TRANSCRIPT_SETTINGS,
  transcriptMessage,
  type HappyPath,
} from '../support/bespin-fixtures.js';

const zipped = loadHappyPath('zipped');
const packed = loadHappyPath('packed');
const sequencer = new StageSequencer(TRANSCRIPT_SETTINGS);

function recordedConfigMapValue(path: HappyPath, command: string, key: string): string {
  const event = k8sEvents(transcriptMessage(path.transcript, command)).find(
    (candidate) => candidate.verb === 'create' && candidate.resource === 'configmaps',
  );
  const data = event?.body?.['data'] as Record<string, string> | undefined;
  const value = data?.[key];
  if (value === undefined) throw new Error(`${path.transcript.scenario} ${command} created no ConfigMap with ${key}`);
  return value;
}

/** Every object the five steps create, for checks that apply to all of them. */
function allObjects(seq: StageSequencer, path: HappyPath): ClusterObject[] {
  const { job, stageGroup, shareGroup, methodsContent } = path;
  const stage = seq.stageData(job, stageGroup);
  const organize = seq.organizeOutput(job, methodsContent);
  const save = seq.saveOutput(job, shareGroup);
  return [
    seq.jobDataPvc(job, stageGroup),
    seq.outputDataPvc(job),
    stage.configMap,
    stage.job,
    seq.runWorkflow(job).job,
    organize.configMap,
    organize.job,
    save.configMap,
    save.job,
    seq.recordOutputProject(job).job,
  ];
}

function jobObjects(objects: ClusterObject[]): JobObject[] {
  return objects.filter((object): object is JobObject => object.kind === 'Job');
}

function isInvalidJob(message: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof InvalidJobError && message.test(error.message);
}

function withStageGroup(sizes: { dds: number[]; url: number[] }): StageGroup {
  return {
    ddsFiles: sizes.dds.map((size, index) => ({ fileId: `f${index}`, destinationPath: `d${index}`, size })),
    urlFiles: sizes.url.map((size, index) => ({ url: `https://x/${index}`, destinationPath: `u${index}`, size })),
  };
}

describe('StageSequencer', () => {
  describe('command files', () => {
    for (const path of [zipped, packed]) {
      const scenario = path.transcript.scenario;

      it(`writes organizeoutput.json byte for byte as recorded (${scenario})`, () => {
        const { configMap } = sequencer.organizeOutput(path.job, path.methodsContent);
        assert.deepEqual(Object.keys(configMap.data), ['organizeoutput.json']);
        assert.equal(
          configMap.data['organizeoutput.json'],
          recordedConfigMapValue(path, 'run_job_complete', 'organizeoutput.json'),
        );
      });

      it(`writes saveoutput.json byte for byte as recorded (${scenario})`, () => {
        const { configMap } = sequencer.saveOutput(path.job, path.shareGroup);
        assert.deepEqual(Object.keys(configMap.data), ['saveoutput.json']);
        assert.equal(
          configMap.data['saveoutput.json'],
          recordedConfigMapValue(path, 'organize_output_complete', 'saveoutput.json'),
        );
      });
    }

    it('writes stagedata.json byte for byte as recorded when there are no URL inputs', () => {
      const { configMap } = sequencer.stageData(packed.job, packed.stageGroup);
      assert.equal(configMap.data['stagedata.json'], recordedConfigMapValue(packed, 'start_job', 'stagedata.json'));
    });

    it('stages URL input files after the DukeDS files (W15)', () => {
      const urlItem =
        '{"type": "url", "source": "https://example.org/data/intervals.bed", "dest": "/bespin/job-data/intervals.bed"}';
      const recorded = recordedConfigMapValue(zipped, 'start_job', 'stagedata.json');
      assert.equal(recorded.endsWith(']}'), true);
      const expected = `${recorded.slice(0, -2)}, ${urlItem}]}`;
      assert.equal(
        expected,
        '{"items": [{"type": "url", "source": "https://github.com/bespin-workflows/exomeseq-gatk4/archive/v2.0.0.zip", "dest": "/bespin/job-data/workflow/v2.0.0.zip", "unzip_to": "/bespin/job-data/workflow"}, ' +
          '{"type": "write", "source": "{\\"threads\\": 32, \\"library\\": \\"Library1\\", \\"platform\\": \\"ILLUMINA\\", \\"read_pair\\": {\\"name\\": \\"sample1\\", \\"read1_files\\": [{\\"class\\": \\"File\\", \\"path\\": \\"sample1_R1.fastq.gz\\"}], \\"read2_files\\": [{\\"class\\": \\"File\\", \\"path\\": \\"sample1_R2.fastq.gz\\"}]}, \\"intervals\\": [{\\"class\\": \\"File\\", \\"path\\": \\"intervals.bed\\"}]}", "dest": "/bespin/job-data/job-order.json"}, ' +
          '{"type": "DukeDS", "source": "0a3b6c2e-6f0e-4b8e-9a53-8f6f2c1d7e21", "dest": "/bespin/job-data/sample1_R1.fastq.gz"}, ' +
          '{"type": "DukeDS", "source": "9c4d1e7f-2b3a-4c5d-8e9f-0a1b2c3d4e5f", "dest": "/bespin/job-data/sample1_R2.fastq.gz"}, ' +
          '{"type": "url", "source": "https://example.org/data/intervals.bed", "dest": "/bespin/job-data/intervals.bed"}]}',
      );
      const { configMap } = sequencer.stageData(zipped.job, zipped.stageGroup);
      assert.equal(configMap.data['stagedata.json'], expected);
    });

    it('escapes non-ASCII text as Python does', () => {
      const job: BespinJob = { ...packed.job, name: 'Échantillon 😀' };
      const saveOutput = sequencer.saveOutput(job, packed.shareGroup).configMap.data['saveoutput.json'];
      assert.ok(saveOutput?.includes('"destination": "Bespin myworkflow v1 \\u00c9chantillon \\ud83d\\ude00 2019-03-11"'));
      assert.ok(saveOutput?.includes('"name": "\\u00c9chantillon \\ud83d\\ude00 - Bespin Job 51"'));
    });

    it('refuses a created time without a date', () => {
      const job: BespinJob = { ...packed.job, created: 'yesterday' };
      assert.throws(() => sequencer.saveOutput(job, packed.shareGroup), isInvalidJob(/"yesterday"/));
    });

    it('refuses an unknown workflow type', () => {
      const job = { ...packed.job, workflow: { ...packed.job.workflow, type: 'cwl' } } as unknown as BespinJob;
      assert.throws(() => sequencer.stageData(job, packed.stageGroup), isInvalidJob(/^Unknown workflow type cwl$/));
      assert.throws(() => sequencer.runWorkflow(job), isInvalidJob(/^Unknown workflow type cwl$/));
    });
  });

  describe('cleanup', () => {
    const completions: [string, StepType][] = [
      ['stage_job_complete', 'stage_data'],
      ['run_job_complete', 'run_workflow'],
      ['organize_output_complete', 'organize_output'],
      ['store_job_output_complete', 'save_output'],
      ['record_output_project_complete', 'record_output_project'],
    ];
    const kindOf = { jobs: 'Job', configmaps: 'ConfigMap', persistentvolumeclaims: 'PersistentVolumeClaim', pods: 'Pod' };

    for (const path of [zipped, packed]) {
      for (const [command, step] of completions) {
        it(`deletes what the original deleted after ${command}, in order (${path.transcript.scenario})`, () => {
          const recorded = k8sEvents(transcriptMessage(path.transcript, command))
            .filter((event) => event.verb === 'delete')
            .map((event) => ({ kind: kindOf[event.resource], name: event.name }));
          assert.ok(recorded.length > 0);
          assert.deepEqual(sequencer.cleanupAfter(path.job, step), recorded);
        });
      }
    }
  });

  describe('volumes', () => {
    it('sizes the job-data PVC from the inputs plus the base size', () => {
      assert.equal(sequencer.jobDataPvc(zipped.job, zipped.stageGroup).storage, '7Gi');
      assert.equal(sequencer.jobDataPvc(packed.job, packed.stageGroup).storage, '1Gi');
      const size = (sizes: { dds: number[]; url: number[] }, seq = sequencer): string =>
        seq.jobDataPvc(packed.job, withStageGroup(sizes)).storage;
      assert.equal(size({ dds: [], url: [] }), '1Gi');
      assert.equal(size({ dds: [1], url: [] }), '2Gi');
      assert.equal(size({ dds: [2 ** 30], url: [] }), '2Gi');
      assert.equal(size({ dds: [2 ** 30 - 1], url: [1] }), '2Gi');
      assert.equal(size({ dds: [2 ** 30], url: [1] }), '3Gi');
      assert.equal(size({ dds: [], url: [5 * 2 ** 30] }), '6Gi');
      const bigBase = new StageSequencer({ ...TRANSCRIPT_SETTINGS, baseStageDataVolumeSizeInG: 10 });
      assert.equal(size({ dds: [2 ** 30], url: [] }, bigBase), '11Gi');
    });

    it('sizes the output PVC from the job volume size', () => {
      assert.equal(sequencer.outputDataPvc(zipped.job).storage, '200Gi');
      assert.equal(sequencer.outputDataPvc(packed.job).storage, '3Gi');
    });

    it('requests ReadWriteMany and the configured storage class', () => {
      const pvc = sequencer.outputDataPvc(zipped.job);
      assert.deepEqual(pvc.accessModes, ['ReadWriteMany']);
      assert.equal(pvc.storageClassName, 'glusterfs-storage');
    });

    it('leaves the storage class out when none is configured', () => {
      const { storageClassName: _unused, ...settings } = TRANSCRIPT_SETTINGS;
      const seq = new StageSequencer(settings);
      assert.ok(!('storageClassName' in seq.jobDataPvc(zipped.job, zipped.stageGroup)));
      assert.ok(!('storageClassName' in seq.outputDataPvc(zipped.job)));
    });

    it('mounts no system data volume when none is configured', () => {
      const { systemDataVolume: _unused, ...settings } = TRANSCRIPT_SETTINGS;
      const { template } = new StageSequencer(settings).runWorkflow(zipped.job).job;
      assert.deepEqual(template.volumes.map((volume) => volume.name), ['job-data-42-jdoe12', 'output-data-42-jdoe12']);
      assert.deepEqual(template.container.volumeMounts.map((mount) => mount.name), [
        'job-data-42-jdoe12',
        'output-data-42-jdoe12',
      ]);
    });
  });

  describe('labels', () => {
    it('labels objects and selects them as the original did', () => {
      assert.deepEqual(sequencer.jobLabels(zipped.job), { 'bespin-job': 'true', 'bespin-job-id': '42' });
      assert.deepEqual(sequencer.cleanupSelector(zipped.job), sequencer.jobLabels(zipped.job));
      assert.deepEqual(sequencer.stepLabels(zipped.job, 'run_workflow'), {
        'bespin-job': 'true',
        'bespin-job-id': '42',
        'bespin-job-step': 'run_workflow',
      });
      const recordedSelector = k8sEvents(transcriptMessage(zipped.transcript, 'record_output_project_complete')).find(
        (event) => event.verb === 'list',
      )?.labelSelector;
      const selector = Object.entries(sequencer.recordStepPodSelector(zipped.job))
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
      assert.equal(selector, recordedSelector);
    });

    it('adds the installation label to every object, pod template and selector', () => {
      const installationLabel = { key: 'lando.example.org/installation', value: 'prod-east' };
      const seq = new StageSequencer({ ...TRANSCRIPT_SETTINGS, installationLabel });
      const objects = allObjects(seq, zipped);
      for (const object of objects) {
        assert.equal(object.metadata.labels[installationLabel.key], 'prod-east', object.metadata.name);
      }
      for (const job of jobObjects(objects)) {
        assert.equal(job.template.metadata.labels[installationLabel.key], 'prod-east', job.metadata.name);
      }
      assert.equal(seq.cleanupSelector(zipped.job)[installationLabel.key], 'prod-east');
      assert.equal(seq.recordStepPodSelector(zipped.job)[installationLabel.key], 'prod-east');
      for (const object of allObjects(sequencer, zipped)) {
        assert.ok(!(installationLabel.key in object.metadata.labels));
      }
    });

    it('makes an installation label value valid', () => {
      const seq = new StageSequencer({ ...TRANSCRIPT_SETTINGS, installationLabel: { key: 'installation', value: 'prod east' } });
      assert.match(seq.jobLabels(zipped.job)['installation'], /^prod-east-[0-9a-f]{8}$/);
    });
  });

  describe('jobs', () => {
    it('never extends the bespin base command in place (Q2)', () => {
      const baseCommand = zipped.job.steps.run_workflow.baseCommand;
      const before = [...baseCommand];
      const first = sequencer.runWorkflow(zipped.job).job.template.container.command;
      const second = sequencer.runWorkflow(zipped.job).job.template.container.command;
      assert.deepEqual(baseCommand, before);
      assert.deepEqual(second, first);
      assert.notEqual(first, baseCommand);
      for (const job of jobObjects(allObjects(sequencer, zipped))) {
        const step = job.metadata.labels['bespin-job-step'] as StepType;
        assert.notEqual(job.template.container.command, zipped.job.steps[step].baseCommand, step);
      }
    });

    it('sizes containers by their step flavor and calrissian by the job flavor', () => {
      const job: BespinJob = {
        ...packed.job,
        jobFlavor: { cpus: 12, memory: '48Gi' },
        steps: { ...packed.job.steps, run_workflow: { ...packed.job.steps.run_workflow, flavor: { cpus: 3, memory: '5Gi' } } },
      };
      const { container } = sequencer.runWorkflow(job).job.template;
      assert.deepEqual(container.requests, { cpu: 3, memory: '5Gi' });
      const command = container.command;
      assert.deepEqual(command.slice(command.lastIndexOf('--max-ram'), command.lastIndexOf('--max-ram') + 4), [
        '--max-ram',
        '48Gi',
        '--max-cores',
        '12',
      ]);
    });

    it('derives valid, consistent names for usernames Kubernetes would refuse (W8)', () => {
      const job: BespinJob = { ...zipped.job, username: 'Jane.Doe_2@x' };
      const names = sequencer.names(job);
      const objects = allObjects(sequencer, { ...zipped, job });
      for (const object of objects) assert.equal(isDnsLabel(object.metadata.name), true, object.metadata.name);
      for (const { template } of jobObjects(objects)) {
        assert.equal(isDnsLabel(template.container.name), true);
        for (const volume of template.volumes) assert.equal(isDnsLabel(volume.name), true, volume.name);
      }
      const record = sequencer.recordOutputProject(job).job.template;
      assert.deepEqual(record.volumes, [
        { name: names.outputPvc, source: { type: 'pvc', claimName: names.outputPvc, readOnly: true } },
      ]);
      assert.deepEqual(sequencer.cleanupAfter(job, 'record_output_project'), [
        { kind: 'Job', name: names.recordOutputProject },
        { kind: 'PersistentVolumeClaim', name: names.outputPvc },
      ]);
    });
  });
});

describe('JOB_STEPS', () => {
  it('lists the five steps in running order with their codes and commands', () => {
    assert.deepEqual(JOB_STEPS.map((step) => step.type), [...STEP_TYPES]);
    assert.deepEqual(JOB_STEPS.map((step) => step.bespinStep), ['S', 'R', 'o', 'O', 'P']);
    assert.deepEqual(JOB_STEPS.map((step) => [step.completeCommand, step.errorCommand]), [
      ['stage_job_complete', 'stage_job_error'],
      ['run_job_complete', 'run_job_error'],
      ['organize_output_complete', 'organize_output_error'],
      ['store_job_output_complete', 'store_job_output_error'],
      ['record_output_project_complete', 'record_output_project_error'],
    ]);
  });

  it('finds steps by bespin code, label and type', () => {
    assert.equal(stepByBespinCode('o')?.type, 'organize_output');
    assert.equal(stepByBespinCode('O')?.type, 'save_output');
    assert.equal(stepByBespinCode('V'), undefined);
    assert.equal(stepByBespinCode(''), undefined);
    assert.equal(stepByLabel('save_output')?.completeCommand, 'store_job_output_complete');
    assert.equal(stepByLabel('bogus'), undefined);
    assert.equal(stepByType('record_output_project').failureStatus, 'Recording output project failed');
  });

  it("names each step's Job as the sequencer does", () => {
    for (const job of jobObjects(allObjects(sequencer, zipped))) {
      const step = stepByLabel(job.metadata.labels['bespin-job-step'] ?? '');
      assert.equal(step && sequencer.names(zipped.job)[step.jobName], job.metadata.name);
    }
  });
});

describe('StageSequencer injection', () => {
  it('resolves from a container with the lando settings', () => {
    const settings: LandoSettings = {
      baseStageDataVolumeSizeInG: 1,
      dataStoreSecretName: 'secret',
      recordOutputProjectServiceAccount: 'sa',
    };
    const container = new Container();
    container.bind(LANDO_SETTINGS).toConstantValue(settings);
    container.bind(StageSequencer).toSelf();
    const seq = container.get(StageSequencer);
    assert.equal(seq.recordOutputProject(packed.job).job.template.serviceAccountName, 'sa');
    const dataStore = seq.stageData(packed.job, packed.stageGroup).job.template.volumes[2];
    assert.deepEqual(dataStore, { name: 'data-store-51-jpb', source: { type: 'secret', secretName: 'secret' } });
  });
});
