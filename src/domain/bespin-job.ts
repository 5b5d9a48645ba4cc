import type { JobStateCode, JobStepCode, StepType } from './job-codes.js';

/** A Kubernetes resource flavor as bespin-api gives it. */
export interface Flavor {
  readonly cpus: number;
  readonly memory: string;
}

/** How one step's container runs, from `job_settings.job_runtime_k8s.steps[]`. */
export interface StepSettings {
  readonly imageName: string;
  readonly baseCommand: readonly string[];
  readonly flavor: Flavor;
}

export type WorkflowType = 'packed' | 'zipped';

export interface WorkflowVersion {
  readonly url: string;
  readonly type: WorkflowType;
  readonly name: string;
  readonly version: string;
  readonly workflowPath: string;
  readonly methodsDocumentId: number | null;
}

/** The parts of bespin-api's admin job record that lando uses (bespin-api.md §3.1), validated. */
export interface BespinJob {
  readonly id: number;
  readonly username: string;
  readonly name: string;
  /** ISO 8601 text as bespin-api wrote it; the output project name uses its date part verbatim. */
  readonly created: string;
  readonly state: JobStateCode;
  readonly step: JobStepCode;
  readonly jobFlavor: Flavor;
  readonly stageGroupId: number | null;
  readonly shareGroupId: number | null;
  readonly jobOrder: string;
  readonly workflow: WorkflowVersion;
  readonly outputProjectId: number | null;
  readonly volumeSizeGiB: number;
  readonly steps: Readonly<Record<StepType, StepSettings>>;
}

export interface DukeDsInputFile {
  readonly fileId: string;
  readonly destinationPath: string;
  readonly size: number;
}

export interface UrlInputFile {
  readonly url: string;
  readonly destinationPath: string;
  readonly size: number;
}

/** `GET admin/job-file-stage-groups/<id>/`: the job's input files. */
export interface StageGroup {
  readonly ddsFiles: readonly DukeDsInputFile[];
  readonly urlFiles: readonly UrlInputFile[];
}

/** `GET admin/share-groups/<id>/`: who the output project is shared with. */
export interface ShareGroup {
  readonly ddsUserIds: readonly string[];
}

/** What `PUT admin/job-dds-output-projects/<id>/` records when a job finishes. */
export interface OutputProjectRecord {
  readonly id: number;
  /** The payload's job id exactly as received (bespin-api sends a string). */
  readonly job: string | number;
  readonly projectId: string;
  readonly readmeFileId: string;
}

/** What `POST admin/job-errors/` records. */
export interface JobErrorRecord {
  readonly job: string | number;
  readonly jobStep: JobStepCode;
  readonly content: string;
}
