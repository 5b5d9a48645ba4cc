/** The body of a `job_status` notification (messages.md §6), keys in this order. */
export interface JobProgress {
  readonly job: number;
  readonly state: string;
  readonly step: string;
}

/** Broadcasts job progress on the `job_status` fanout exchange. */
export interface ProgressPublisher {
  publish(progress: JobProgress): Promise<void>;
}

export const PROGRESS_PUBLISHER = Symbol.for('lando-k8s.ProgressPublisher');
