import type {
  ClusterEvent,
  ClusterObject,
  JobStatusView,
  Labels,
  ObjectKind,
  ObjectRef,
  PodView,
} from '../domain/cluster-objects.js';

export type CreateOutcome = 'created' | 'adopted';
export type DeleteOutcome = 'deleted' | 'absent';

export interface JobWatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly job: JobStatusView;
}

export type JobWatchListener = (event: JobWatchEvent) => Promise<void>;

export interface WatchHandle {
  stop(): Promise<void>;
}

/**
 * The namespace lando works in. Every call is idempotent where the domain needs it to be:
 * creating an object that already exists with the same `bespin-job-id` label is adoption,
 * not an error; deleting one that is gone is success.
 */
export interface Cluster {
  /** Throws AlreadyExistsError when the name is taken by an object of another job. */
  create(object: ClusterObject): Promise<CreateOutcome>;
  /** Jobs are deleted with background propagation so their pods go too. */
  delete(kind: ObjectKind, name: string): Promise<DeleteOutcome>;
  list(kind: ObjectKind, selector: Labels): Promise<ObjectRef[]>;
  /** Adds annotations to a Job (a merge patch); a Job that is gone is 'absent'. */
  annotateJob(name: string, annotations: Readonly<Record<string, string>>): Promise<'annotated' | 'absent'>;
  listPods(selector: Labels): Promise<PodView[]>;
  /** The last `maxBytes` bytes of the pod's current log, decoded as UTF-8 (invalid bytes replaced). */
  readPodLog(podName: string, maxBytes: number): Promise<string>;
  /** Events about one object, oldest first. */
  listEvents(objectName: string): Promise<ClusterEvent[]>;
  /**
   * Watches Jobs matching the selector like a controller does: the current list first (as
   * ADDED), then changes; it survives ended streams, expired resource versions and outages,
   * and periodically re-lists. The events of one Job reach the listener one at a time and in
   * order; events of different Jobs may be handled concurrently. The listener's failures are
   * logged, never end the watch.
   */
  watchJobs(selector: Labels, listener: JobWatchListener): Promise<WatchHandle>;
}

export const CLUSTER = Symbol.for('lando-k8s.Cluster');
