/** bespin-api's one-letter job state codes (overview §2). Case matters: `c` and `C` differ. */
export const JobState = {
  New: 'N',
  Authorized: 'A',
  Starting: 'S',
  Running: 'R',
  Finished: 'F',
  Error: 'E',
  Canceling: 'c',
  Canceled: 'C',
  Restarting: 'r',
  Deleted: 'D',
} as const;
export type JobStateCode = string;

/** bespin-api's one-letter job step codes (overview §2). `o` is organize, `O` is store output. */
export const JobStep = {
  CreateVm: 'V',
  Staging: 'S',
  RunningWorkflow: 'R',
  OrganizeOutput: 'o',
  StoreOutput: 'O',
  RecordOutputProject: 'P',
  TerminateVm: 'T',
  None: '',
} as const;
export type JobStepCode = string;

/** The five Kubernetes steps, as written in the `bespin-job-step` label. */
export const STEP_TYPES = [
  'stage_data',
  'run_workflow',
  'organize_output',
  'save_output',
  'record_output_project',
] as const;
export type StepType = (typeof STEP_TYPES)[number];

export function isStepType(value: string): value is StepType {
  return (STEP_TYPES as readonly string[]).includes(value);
}
