import { randomUUID } from 'node:crypto';
import { injectable } from 'inversify';
import type {
  ClusterEvent,
  ClusterObject,
  ContainerWaiting,
  JobCondition,
  JobObject,
  JobStatusView,
  Labels,
  ObjectKind,
  ObjectRef,
  PodView,
} from '../../domain/cluster-objects.js';
import { AlreadyExistsError, ConflictError, NotFoundError, PermanentError } from '../../domain/errors.js';
import type { Cluster, CreateOutcome, DeleteOutcome, JobWatchEvent, JobWatchListener, WatchHandle } from '../../ports/cluster.js';
import { validateClusterObject, validateLabelSelector } from './cluster-object-validation.js';
import { FaultPlan } from './fault-plan.js';
import { utf8Tail } from '../log-tail.js';

export interface AutoCompletion {
  /** Delay between a Job's creation and its end. */
  readonly afterMs: number;
  /** The log to fail the Job with, or undefined to let it complete. */
  readonly fail?: (job: JobObject) => string | undefined;
  /** What the pod's container leaves behind before it ends, e.g. the record step's annotations. */
  readonly work?: (job: JobObject, podName: string) => void;
}

export interface MemoryClusterOptions {
  /**
   * Milliseconds since the epoch for timestamps (default Date.now). Timestamps have whole-second
   * precision like the API's, so pods created within one second tie unless the clock moves.
   */
  readonly now?: () => number;
  /** Shared with the test so it can inject failures; a fresh plan by default. */
  readonly faults?: FaultPlan;
  /** Ends every created Job by itself after a delay (for the sandbox). */
  readonly autoComplete?: AutoCompletion;
  /**
   * Models the pvc-protection finalizer (W14): a deleted claim stays Terminating (listed, its
   * name taken) until finishTerminations().
   */
  readonly deletePvcAsync?: boolean;
}

export type ClusterCallVerb = 'create' | 'delete' | 'list' | 'annotateJob' | 'listPods' | 'readPodLog' | 'listEvents' | 'watch';

/** One port call as the cluster received it, for asserting the order of creates and deletes. */
export interface ClusterCall {
  readonly verb: ClusterCallVerb;
  readonly kind?: ObjectKind;
  /** The object, pod or event subject named by the call. */
  readonly name?: string;
  readonly selector?: Labels;
  readonly object?: ClusterObject;
  readonly outcome?: CreateOutcome | DeleteOutcome | 'annotated';
  /** Set when the call failed (injected fault, validation, conflict, missing pod). */
  readonly error?: Error;
}

/** What the API server adds to a stored object. */
export interface StoredObjectMetadata {
  readonly uid: string;
  readonly resourceVersion: string;
  readonly creationTimestamp: string;
  /** Deleted but held by a finalizer (only with `deletePvcAsync`). */
  readonly terminating: boolean;
}

type DescriptionOf<K extends ObjectKind> = Extract<ClusterObject, { readonly kind: K }>;

interface StoredObject {
  readonly description: ClusterObject;
  readonly uid: string;
  resourceVersion: string;
  readonly creationTimestamp: string;
  terminating: boolean;
}

interface StoredJob extends StoredObject {
  readonly description: JobObject;
  annotations: Readonly<Record<string, string>>;
  conditions: readonly JobCondition[];
}

interface StoredPod {
  readonly name: string;
  /** The uid of the Job owning the pod: deleting that Job collects it. */
  readonly ownerUid: string;
  readonly container: string;
  readonly labels: Labels;
  annotations: Readonly<Record<string, string>>;
  readonly creationTimestamp: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  waiting: readonly ContainerWaiting[];
  scheduled: NonNullable<PodView['scheduled']>;
  log: Uint8Array;
}

interface StoredEvent {
  readonly objectName: string;
  readonly event: ClusterEvent;
}

type RecordedCall = { -readonly [Field in keyof ClusterCall]: ClusterCall[Field] };

const JOB_ID_LABEL = 'bespin-job-id';

/** Resource names as the API's error messages spell them. */
const RESOURCE: Record<ObjectKind, string> = {
  PersistentVolumeClaim: 'persistentvolumeclaims',
  ConfigMap: 'configmaps',
  Job: 'jobs.batch',
};

/** The API server's generateName: at most 58 characters of the base, then 5 of this alphabet. */
const GENERATED_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const GENERATED_NAME_BASE_MAX = 58;
const GENERATED_NAME_RANDOM_LENGTH = 5;

/**
 * A namespace held in memory that behaves like the API server plus the Job controller: it
 * validates objects, creates a pod per Job, reports Job status changes to watches, and lets a
 * test or sandbox decide how each Job ends. Every port call is recorded in `calls` and passes
 * through `faults` first (operations `create:<Kind>`, `delete:<Kind>`, `list:<Kind>`,
 * `listPods`, `readPodLog`, `listEvents`, `watchJobs`).
 */
@injectable()
export class MemoryCluster implements Cluster {
  readonly faults: FaultPlan;
  private readonly now: () => number;
  private readonly autoComplete: AutoCompletion | undefined;
  private readonly deletePvcAsync: boolean;

  private readonly claims = new Map<string, StoredObject>();
  private readonly configMaps = new Map<string, StoredObject>();
  private readonly jobs = new Map<string, StoredJob>();
  /** In creation order, which is how a Job's current attempt is found. */
  private readonly pods = new Map<string, StoredPod>();
  private readonly events: StoredEvent[] = [];
  private readonly watches = new Set<MemoryJobWatch>();
  /** Pending auto-completion timers by Job uid. */
  private readonly autoCompletions = new Map<string, NodeJS.Timeout>();
  private readonly callLog: RecordedCall[] = [];
  private readonly listenerFailures: unknown[] = [];
  private lastResourceVersion = 0;

  constructor(options: MemoryClusterOptions = {}) {
    this.faults = options.faults ?? new FaultPlan();
    this.now = options.now ?? Date.now;
    this.autoComplete = options.autoComplete;
    this.deletePvcAsync = options.deletePvcAsync ?? false;
  }

  // ---- the port ----

  async create(object: ClusterObject): Promise<CreateOutcome> {
    const call = { verb: 'create', kind: object.kind, name: object.metadata.name, object } as const;
    return this.perform(`create:${object.kind}`, call, () => this.store(object), (outcome) => outcome);
  }

  async delete(kind: ObjectKind, name: string): Promise<DeleteOutcome> {
    return this.perform(`delete:${kind}`, { verb: 'delete', kind, name }, () => this.remove(kind, name), (outcome) => outcome);
  }

  async list(kind: ObjectKind, selector: Labels): Promise<ObjectRef[]> {
    return this.perform(`list:${kind}`, { verb: 'list', kind, selector }, () => {
      validateLabelSelector(selector);
      return this.sortedObjects(kind)
        .filter((stored) => matchesSelector(stored.description.metadata.labels, selector))
        .map((stored) => ({ kind, name: stored.description.metadata.name, labels: { ...stored.description.metadata.labels } }));
    });
  }

  async annotateJob(name: string, annotations: Readonly<Record<string, string>>): Promise<'annotated' | 'absent'> {
    return this.perform(
      'annotateJob',
      { verb: 'annotateJob', kind: 'Job', name },
      () => {
        const job = this.jobs.get(name);
        if (!job) return 'absent' as const;
        job.annotations = { ...job.annotations, ...annotations };
        job.resourceVersion = this.nextResourceVersion();
        this.notify('MODIFIED', job);
        return 'annotated' as const;
      },
      (outcome) => outcome,
    );
  }

  async listPods(selector: Labels): Promise<PodView[]> {
    return this.perform('listPods', { verb: 'listPods', selector }, () => {
      validateLabelSelector(selector);
      return sortedByName([...this.pods.values()], (pod) => pod.name)
        .filter((pod) => matchesSelector(pod.labels, selector))
        .map(podView);
    });
  }

  async readPodLog(podName: string, maxBytes: number): Promise<string> {
    return this.perform('readPodLog', { verb: 'readPodLog', name: podName }, () => {
      return utf8Tail(this.requirePod(podName).log, maxBytes);
    });
  }

  async listEvents(objectName: string): Promise<ClusterEvent[]> {
    return this.perform('listEvents', { verb: 'listEvents', name: objectName }, () =>
      this.events.filter((stored) => stored.objectName === objectName).map((stored) => ({ ...stored.event })),
    );
  }

  async watchJobs(selector: Labels, listener: JobWatchListener): Promise<WatchHandle> {
    return this.perform('watchJobs', { verb: 'watch', selector }, () => {
      validateLabelSelector(selector);
      const watch = new MemoryJobWatch(
        selector,
        listener,
        (error) => this.listenerFailures.push(error),
        (stopped) => this.watches.delete(stopped),
      );
      this.watches.add(watch);
      this.replayTo(watch);
      return watch;
    });
  }

  // ---- controls for tests and the sandbox ----

  /** The Job's current pod succeeds and the Job gets Complete=True. */
  completeJob(name: string): void {
    this.finishJob(this.requireJob(name), 'Complete');
  }

  /** The Job's current pod fails (with this log, when given) and the Job gets Failed=True. */
  failJob(name: string, log?: string | Uint8Array): void {
    this.finishJob(this.requireJob(name), 'Failed', log);
  }

  setPodLog(podName: string, log: string | Uint8Array): void {
    this.requirePod(podName).log = toBytes(log);
  }

  /** What the record step's `kubectl annotate pod` does. */
  annotatePod(podName: string, annotations: Readonly<Record<string, string>>): void {
    const pod = this.requirePod(podName);
    pod.annotations = { ...pod.annotations, ...annotations };
  }

  /** The Job's current pod is scheduled but its container cannot start (ImagePullBackOff, ...): W10. */
  holdPodWaiting(jobName: string, reason: string, message?: string): void {
    const pod = this.requireCurrentPod(jobName);
    pod.phase = 'Pending';
    pod.waiting = [message === undefined ? { container: pod.container, reason } : { container: pod.container, reason, message }];
    pod.scheduled = { status: 'True', since: this.timestamp() };
    this.recordEvent(pod.name, 'Failed', `Error: ${message ?? reason}`, 'Warning');
  }

  /** The scheduler cannot place the Job's current pod (PodScheduled=False): W10. */
  holdPodUnschedulable(jobName: string, message: string): void {
    const pod = this.requireCurrentPod(jobName);
    pod.phase = 'Pending';
    pod.waiting = [];
    pod.scheduled = { status: 'False', reason: 'Unschedulable', message, since: this.timestamp() };
    this.recordEvent(pod.name, 'FailedScheduling', message, 'Warning');
  }

  /**
   * The Job controller's retry (W11, W12): with restartPolicy Never a new pod means the
   * previous attempt failed, so a still-running current pod is marked Failed first.
   * Returns the new pod's name.
   */
  addPod(jobName: string): string {
    const job = this.requireJob(jobName);
    const previous = this.currentPod(job);
    if (previous && !isTerminalPhase(previous.phase)) {
      previous.phase = 'Failed';
      previous.waiting = [];
    }
    return this.startPod(job).name;
  }

  recordEvent(objectName: string, reason: string, message: string, type = 'Normal'): void {
    this.events.push({ objectName, event: { reason, message, type, lastTimestamp: this.timestamp() } });
  }

  /** Every watch receives the current list again as ADDED, as after a relist following 410 Gone. */
  restartWatches(): void {
    for (const watch of this.watches) this.replayTo(watch);
  }

  /** The finalizers let go: Terminating claims disappear. */
  finishTerminations(): void {
    for (const [name, claim] of this.claims) {
      if (claim.terminating) this.claims.delete(name);
    }
  }

  /** Resolves once every watch listener has handled every event so far (never await it inside a listener). */
  async settled(): Promise<void> {
    for (;;) {
      const pending = new Map([...this.watches].map((watch) => [watch, watch.idle]));
      await Promise.all(pending.values());
      if ([...this.watches].every((watch) => pending.get(watch) === watch.idle)) return;
    }
  }

  /** Back to an empty namespace: objects, pods, events, calls, watches, timers and faults. */
  reset(): void {
    for (const timer of this.autoCompletions.values()) clearTimeout(timer);
    this.autoCompletions.clear();
    for (const watch of [...this.watches]) watch.deactivate();
    this.watches.clear();
    this.claims.clear();
    this.configMaps.clear();
    this.jobs.clear();
    this.pods.clear();
    this.events.length = 0;
    this.callLog.length = 0;
    this.listenerFailures.length = 0;
    this.lastResourceVersion = 0;
    this.faults.clear();
  }

  // ---- inspection ----

  /** Every port call so far, oldest first. */
  get calls(): readonly ClusterCall[] {
    return this.callLog.map((call) => ({ ...call }));
  }

  /** Errors thrown by watch listeners (each was swallowed so its watch went on). */
  get listenerErrors(): readonly unknown[] {
    return [...this.listenerFailures];
  }

  /** The stored descriptions of one kind, by name (Terminating ones included). */
  objects<K extends ObjectKind>(kind: K): DescriptionOf<K>[] {
    return this.sortedObjects(kind)
      .map((stored) => stored.description)
      .filter((description): description is DescriptionOf<K> => description.kind === kind);
  }

  names(kind: ObjectKind): string[] {
    return this.sortedObjects(kind).map((stored) => stored.description.metadata.name);
  }

  metadataOf(kind: ObjectKind, name: string): StoredObjectMetadata | undefined {
    const stored = this.table(kind).get(name);
    if (!stored) return undefined;
    const { uid, resourceVersion, creationTimestamp, terminating } = stored;
    return { uid, resourceVersion, creationTimestamp, terminating };
  }

  jobStatus(name: string): JobStatusView | undefined {
    const job = this.jobs.get(name);
    return job && jobView(job);
  }

  // ---- internals ----

  private async perform<T>(
    operation: string,
    call: RecordedCall,
    body: () => T,
    outcomeOf?: (result: T) => CreateOutcome | DeleteOutcome | 'annotated',
  ): Promise<T> {
    const record: RecordedCall = { ...call };
    this.callLog.push(record);
    try {
      await this.faults.before(operation);
      const result = body();
      if (outcomeOf) record.outcome = outcomeOf(result);
      return result;
    } catch (error) {
      record.error = error instanceof Error ? error : new Error(String(error));
      throw error;
    }
  }

  private store(object: ClusterObject): CreateOutcome {
    validateClusterObject(object);
    const name = object.metadata.name;
    const existing = this.table(object.kind).get(name);
    if (existing) {
      if (existing.terminating) {
        // As the Kubernetes adapter reports it: retryable, the name frees itself once the finalizers finish.
        throw new ConflictError(`create ${object.kind} ${name}: ${object.kind} ${name} is still terminating`);
      }
      const owner = existing.description.metadata.labels[JOB_ID_LABEL];
      if (owner && owner === object.metadata.labels[JOB_ID_LABEL]) return 'adopted';
      throw new AlreadyExistsError(`${RESOURCE[object.kind]} "${name}" already exists`);
    }
    const description = structuredClone(object);
    const stored = { uid: randomUUID(), resourceVersion: this.nextResourceVersion(), creationTimestamp: this.timestamp(), terminating: false };
    switch (description.kind) {
      case 'Job':
        this.startJob({ ...stored, description, conditions: [], annotations: {} });
        break;
      case 'ConfigMap':
        this.configMaps.set(name, { ...stored, description });
        break;
      case 'PersistentVolumeClaim':
        this.claims.set(name, { ...stored, description });
        break;
    }
    return 'created';
  }

  private remove(kind: ObjectKind, name: string): DeleteOutcome {
    if (kind === 'Job') {
      const job = this.jobs.get(name);
      if (!job) return 'absent';
      this.jobs.delete(name);
      clearTimeout(this.autoCompletions.get(job.uid));
      this.autoCompletions.delete(job.uid);
      // Background propagation: the garbage collector takes the pods the Job owned.
      for (const [podName, pod] of this.pods) {
        if (pod.ownerUid === job.uid) this.pods.delete(podName);
      }
      this.notify('DELETED', job);
      return 'deleted';
    }
    const table = kind === 'ConfigMap' ? this.configMaps : this.claims;
    const stored = table.get(name);
    if (!stored) return 'absent';
    if (kind === 'PersistentVolumeClaim' && this.deletePvcAsync) {
      stored.terminating = true;
      stored.resourceVersion = this.nextResourceVersion();
    } else {
      table.delete(name);
    }
    return 'deleted';
  }

  private startJob(job: StoredJob): void {
    this.jobs.set(job.description.metadata.name, job);
    this.notify('ADDED', job);
    this.startPod(job);
    // The controller then records startTime/active: a MODIFIED event without conditions.
    job.resourceVersion = this.nextResourceVersion();
    this.notify('MODIFIED', job);
    this.scheduleAutoCompletion(job);
  }

  private startPod(job: StoredJob): StoredPod {
    const jobName = job.description.metadata.name;
    const now = this.timestamp();
    const pod: StoredPod = {
      name: this.generateName(`${jobName}-`),
      ownerUid: job.uid,
      container: job.description.template.container.name,
      // Both the legacy labels and the batch.kubernetes.io ones current controllers add.
      labels: {
        ...job.description.template.metadata.labels,
        'batch.kubernetes.io/controller-uid': job.uid,
        'batch.kubernetes.io/job-name': jobName,
        'controller-uid': job.uid,
        'job-name': jobName,
      },
      annotations: {},
      creationTimestamp: now,
      phase: 'Running',
      waiting: [],
      scheduled: { status: 'True', since: now },
      log: new Uint8Array(),
    };
    this.pods.set(pod.name, pod);
    this.recordEvent(jobName, 'SuccessfulCreate', `Created pod: ${pod.name}`, 'Normal');
    return pod;
  }

  private finishJob(job: StoredJob, outcome: 'Complete' | 'Failed', log?: string | Uint8Array): void {
    const jobName = job.description.metadata.name;
    if (isFinished(job)) throw new PermanentError(`Job "${jobName}" has already finished`);
    const pod = this.currentPod(job);
    if (pod) {
      pod.phase = outcome === 'Complete' ? 'Succeeded' : 'Failed';
      pod.waiting = [];
      if (log !== undefined) pod.log = toBytes(log);
    }
    const condition: JobCondition =
      outcome === 'Complete'
        ? { type: 'Complete', status: 'True' }
        : { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    job.conditions = [...job.conditions, condition];
    job.resourceVersion = this.nextResourceVersion();
    this.notify('MODIFIED', job);
    if (outcome === 'Complete') this.recordEvent(jobName, 'Completed', 'Job completed', 'Normal');
    else this.recordEvent(jobName, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', 'Warning');
  }

  private scheduleAutoCompletion(job: StoredJob): void {
    const plan = this.autoComplete;
    if (!plan) return;
    const timer = setTimeout(() => {
      this.autoCompletions.delete(job.uid);
      if (this.jobs.get(job.description.metadata.name) !== job || isFinished(job)) return;
      // A held pod (holdPodWaiting/holdPodUnschedulable) never ends by itself: that is W10.
      if (this.currentPod(job)?.phase === 'Pending') return;
      const pod = this.currentPod(job);
      if (pod) plan.work?.(job.description, pod.name);
      const failureLog = plan.fail?.(job.description);
      this.finishJob(job, failureLog === undefined ? 'Complete' : 'Failed', failureLog);
    }, plan.afterMs);
    this.autoCompletions.set(job.uid, timer);
  }

  private notify(type: JobWatchEvent['type'], job: StoredJob): void {
    for (const watch of this.watches) {
      if (matchesSelector(job.description.metadata.labels, watch.selector)) watch.deliver({ type, job: jobView(job) });
    }
  }

  private replayTo(watch: MemoryJobWatch): void {
    for (const job of sortedByName([...this.jobs.values()], (stored) => stored.description.metadata.name)) {
      if (matchesSelector(job.description.metadata.labels, watch.selector)) watch.deliver({ type: 'ADDED', job: jobView(job) });
    }
  }

  private table(kind: ObjectKind): ReadonlyMap<string, StoredObject> {
    switch (kind) {
      case 'PersistentVolumeClaim':
        return this.claims;
      case 'ConfigMap':
        return this.configMaps;
      case 'Job':
        return this.jobs;
    }
  }

  /** Name order, as the API server lists. */
  private sortedObjects(kind: ObjectKind): StoredObject[] {
    return sortedByName([...this.table(kind).values()], (stored) => stored.description.metadata.name);
  }

  private currentPod(job: StoredJob): StoredPod | undefined {
    let current: StoredPod | undefined;
    for (const pod of this.pods.values()) {
      if (pod.ownerUid === job.uid) current = pod;
    }
    return current;
  }

  private requireJob(name: string): StoredJob {
    const job = this.jobs.get(name);
    if (!job) throw new NotFoundError(`jobs.batch "${name}" not found`);
    return job;
  }

  private requirePod(name: string): StoredPod {
    const pod = this.pods.get(name);
    if (!pod) throw new NotFoundError(`pods "${name}" not found`);
    return pod;
  }

  private requireCurrentPod(jobName: string): StoredPod {
    const pod = this.currentPod(this.requireJob(jobName));
    if (!pod) throw new NotFoundError(`Job "${jobName}" has no pod`);
    return pod;
  }

  private generateName(base: string): string {
    const prefix = base.slice(0, GENERATED_NAME_BASE_MAX);
    for (;;) {
      let name = prefix;
      for (let index = 0; index < GENERATED_NAME_RANDOM_LENGTH; index++) {
        name += GENERATED_NAME_ALPHABET[Math.floor(Math.random() * GENERATED_NAME_ALPHABET.length)];
      }
      if (!this.pods.has(name)) return name;
    }
  }

  private nextResourceVersion(): string {
    this.lastResourceVersion += 1;
    return String(this.lastResourceVersion);
  }

  /** RFC 3339 with whole seconds, as the API writes timestamps. */
  private timestamp(): string {
    return new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

/** One watch: events are delivered in order, each after the listener finished the previous one. */
class MemoryJobWatch implements WatchHandle {
  private delivered: Promise<void> = Promise.resolve();
  private active = true;

  constructor(
    readonly selector: Labels,
    private readonly listener: JobWatchListener,
    private readonly onListenerError: (error: unknown) => void,
    private readonly onStop: (watch: MemoryJobWatch) => void,
  ) {}

  /** Resolves when every event queued so far has been handled. */
  get idle(): Promise<void> {
    return this.delivered;
  }

  deliver(event: JobWatchEvent): void {
    if (!this.active) return;
    this.delivered = this.delivered.then(async () => {
      if (!this.active) return;
      try {
        await this.listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    });
  }

  /** Ends delivery without awaiting the event in progress, so a listener may stop its own watch. */
  async stop(): Promise<void> {
    if (!this.active) return;
    this.deactivate();
    this.onStop(this);
  }

  deactivate(): void {
    this.active = false;
  }
}

function matchesSelector(labels: Labels, selector: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value);
}

/** Sorts in place by code unit, the byte order the API server's storage lists in for ASCII names. */
function sortedByName<T>(items: T[], nameOf: (item: T) => string): T[] {
  return items.sort((left, right) => {
    const [a, b] = [nameOf(left), nameOf(right)];
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

function isFinished(job: StoredJob): boolean {
  return job.conditions.some((condition) => (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True');
}

function isTerminalPhase(phase: StoredPod['phase']): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

function jobView(job: StoredJob): JobStatusView {
  return {
    name: job.description.metadata.name,
    uid: job.uid,
    labels: { ...job.description.metadata.labels },
    annotations: { ...job.annotations },
    conditions: job.conditions.map((condition) => ({ ...condition })),
    creationTimestamp: job.creationTimestamp,
  };
}

function podView(pod: StoredPod): PodView {
  return {
    name: pod.name,
    labels: { ...pod.labels },
    annotations: { ...pod.annotations },
    creationTimestamp: pod.creationTimestamp,
    phase: pod.phase,
    waiting: pod.waiting.map((waiting) => ({ ...waiting })),
    scheduled: { ...pod.scheduled },
  };
}

function toBytes(log: string | Uint8Array): Uint8Array {
  return typeof log === 'string' ? new TextEncoder().encode(log) : Uint8Array.from(log);
}
