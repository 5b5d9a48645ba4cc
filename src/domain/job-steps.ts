import type { ObjectKind } from './cluster-objects.js';
import { STEP_OUTCOME_COMMANDS, type LandoCommandName } from './commands.js';
import { JobStep, type JobStepCode, type StepType } from './job-codes.js';
import type { JobNames } from './job-names.js';

/**
 * Set by lando on a failed step's Job once the failure is recorded in bespin-api. Failed Jobs
 * stay for inspection until a restart or cancel, so a watcher that starts (or becomes leader)
 * sees them again; this tells it lando is not waiting for that outcome any more.
 */
export const ERROR_RECORDED_ANNOTATION = 'bespin-job/error-recorded';

/** A name in JobNames that is an object name (not the suffix or a path). */
export type ObjectNameKey = Exclude<keyof JobNames, 'suffix' | 'usageReportPath' | 'dataStoreVolume' | 'systemDataVolume'>;

export interface StepCleanupEntry {
  readonly kind: ObjectKind;
  readonly name: ObjectNameKey;
}

/** One of the five Kubernetes steps and everything fixed about it (overview.md §3). */
export interface StepDefinition {
  /** Also the `bespin-job-step` label value of the step's Job and pods. */
  readonly type: StepType;
  /** The bespin job `step` code while this step runs. */
  readonly bespinStep: JobStepCode;
  /** The step's Job (and container) name within JobNames. */
  readonly jobName: ObjectNameKey;
  readonly completeCommand: LandoCommandName;
  readonly errorCommand: LandoCommandName;
  /** The status text of the step's `*_error` handler (overview.md §5.2). */
  readonly failureStatus: string;
  /** What the step's `*_complete` handler deletes, in the original's order (kubernetes.md §11). */
  readonly cleanupAfterCompletion: readonly StepCleanupEntry[];
}

function step(definition: Omit<StepDefinition, 'completeCommand' | 'errorCommand'>): StepDefinition {
  const outcome = STEP_OUTCOME_COMMANDS[definition.type];
  return { ...definition, completeCommand: outcome.complete, errorCommand: outcome.error };
}

/** The steps in the order a job runs them. */
export const JOB_STEPS: readonly StepDefinition[] = [
  step({
    type: 'stage_data',
    bespinStep: JobStep.Staging,
    jobName: 'stageData',
    failureStatus: 'Staging job failed',
    cleanupAfterCompletion: [
      { kind: 'Job', name: 'stageData' },
      { kind: 'ConfigMap', name: 'stageData' },
    ],
  }),
  step({
    type: 'run_workflow',
    bespinStep: JobStep.RunningWorkflow,
    jobName: 'runWorkflow',
    failureStatus: 'Running job failed',
    cleanupAfterCompletion: [{ kind: 'Job', name: 'runWorkflow' }],
  }),
  step({
    type: 'organize_output',
    bespinStep: JobStep.OrganizeOutput,
    jobName: 'organizeOutput',
    failureStatus: 'Organize output job failed',
    // The original deletes the ConfigMap before the Job here, unlike every other step.
    cleanupAfterCompletion: [
      { kind: 'ConfigMap', name: 'organizeOutput' },
      { kind: 'Job', name: 'organizeOutput' },
    ],
  }),
  step({
    type: 'save_output',
    bespinStep: JobStep.StoreOutput,
    jobName: 'saveOutput',
    failureStatus: 'Storing job output failed',
    cleanupAfterCompletion: [
      { kind: 'Job', name: 'saveOutput' },
      { kind: 'ConfigMap', name: 'saveOutput' },
      { kind: 'PersistentVolumeClaim', name: 'stagePvc' },
    ],
  }),
  step({
    type: 'record_output_project',
    bespinStep: JobStep.RecordOutputProject,
    jobName: 'recordOutputProject',
    failureStatus: 'Recording output project failed',
    cleanupAfterCompletion: [
      { kind: 'Job', name: 'recordOutputProject' },
      { kind: 'PersistentVolumeClaim', name: 'outputPvc' },
    ],
  }),
];

export function stepByType(type: StepType): StepDefinition {
  const found = JOB_STEPS.find((candidate) => candidate.type === type);
  // Unreachable while JOB_STEPS lists every StepType; a clear failure if someone drops one.
  if (found === undefined) throw new Error(`No step definition for step type ${type}`);
  return found;
}

/** The step whose `bespin-job-step` label is `label`, if any (labels come from the cluster). */
export function stepByLabel(label: string): StepDefinition | undefined {
  return JOB_STEPS.find((candidate) => candidate.type === label);
}

/** The step running while the bespin job's step is `code`, if any (`V`, `T` and `""` have none). */
export function stepByBespinCode(code: JobStepCode): StepDefinition | undefined {
  return JOB_STEPS.find((candidate) => candidate.bespinStep === code);
}
