import type { BespinJob, JobErrorRecord, OutputProjectRecord, ShareGroup, StageGroup } from '../domain/bespin-job.js';

/**
 * bespin-api's admin endpoints that lando uses (bespin-api.md §2). Job ids in paths are the
 * payload's job id as received. Failures surface as domain errors: NotFoundError for 404,
 * InvalidJobError for a record lando cannot use, TransientError once retries ran out,
 * PermanentError for any other refusal.
 */
export interface BespinApi {
  getJob(jobId: string | number): Promise<BespinJob>;
  setJobState(jobId: string | number, state: string): Promise<void>;
  setJobStep(jobId: string | number, step: string): Promise<void>;
  getStageGroup(stageGroupId: number): Promise<StageGroup>;
  getShareGroup(shareGroupId: number): Promise<ShareGroup>;
  /** The methods document's `content`. */
  getMethodsDocument(documentId: number): Promise<string>;
  recordJobError(error: JobErrorRecord): Promise<void>;
  saveOutputProject(project: OutputProjectRecord): Promise<void>;
}

export const BESPIN_API = Symbol.for('lando-k8s.BespinApi');
