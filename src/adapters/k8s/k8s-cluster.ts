/**
 * The Cluster port on the Kubernetes API through @kubernetes/client-node 1.4 (kubernetes.md §1,
 * §5-§7, §10-§12). It sends exactly the bodies of object-bodies.ts, makes creates and deletes
 * idempotent (W14), caps pod logs (W19) and watches Jobs like a controller (W16, W17). Every
 * request has a timeout; every failure leaves as a domain error naming the request.
 */
import {
  BatchV1Api,
  PatchStrategy,
  setHeaderOptions,
  CoreV1Api,
  Watch,
  type ConfigurationOptions,
  type KubeConfig,
  type V1ConfigMap,
  type V1Job,
  type V1ListMeta,
  type V1ObjectMeta,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from '@kubernetes/client-node';
import type { ClusterEvent, ClusterObject, Labels, ObjectKind, ObjectRef, PodView } from '../../domain/cluster-objects.js';
import { AlreadyExistsError, ConflictError, NotFoundError, PermanentError } from '../../domain/errors.js';
import type { Clock } from '../../ports/clock.js';
import type { Cluster, CreateOutcome, DeleteOutcome, JobWatchListener, WatchHandle } from '../../ports/cluster.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../ports/metrics.js';
import { checkMaxBytes, utf8Tail } from '../log-tail.js';
import type { ApiList } from './json-list.js';
import {
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MIN_BACKOFF_MS,
  K8sJobWatch,
  listedJob,
  type JobWatchSource,
  type JobWatchTimings,
} from './k8s-job-watch.js';
import { listWithTimeout, positiveInteger, sendWithTimeout, type ListRequest } from './k8s-request.js';
import { eventView, involvedObjectSelector, labelSelectorText, objectRef, oldestFirst, podView } from './k8s-views.js';
import { buildKubeConfig, type ClusterCredentials } from './kube-config.js';
import { toApiBody, type ApiBody } from './object-bodies.js';

export interface K8sClusterOptions extends ClusterCredentials {
  /** Every object, list and watch lives here. */
  readonly namespace: string;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** For the watch's watchdog and resync schedule (default: the system clock). */
  readonly clock?: Pick<Clock, 'now'>;
  /** Per request, watch streams excepted (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Items per list page (default 500, as client-go's reflector). */
  readonly listPageSize?: number;
  readonly watch: JobWatchTimings;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_LIST_PAGE_SIZE = 500;
const JOB_ID_LABEL = 'bespin-job-id';

interface Listed<T> {
  readonly items: T[];
  readonly metadata?: V1ListMeta;
}

/** The requests one object kind needs; `options` carries the timeout and cancellation. */
interface KindRequests {
  create(body: ApiBody, options: ConfigurationOptions): Promise<unknown>;
  read(name: string, options: ConfigurationOptions): Promise<{ metadata?: V1ObjectMeta }>;
  delete(name: string, options: ConfigurationOptions): Promise<unknown>;
  listPage(labelSelector: string, continueToken: string | undefined, options: ConfigurationOptions): Promise<Listed<{ metadata?: V1ObjectMeta }>>;
}

export class K8sCluster implements Cluster {
  private readonly namespace: string;
  private readonly kubeConfig: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly batch: BatchV1Api;
  private readonly kinds: Readonly<Record<ObjectKind, KindRequests>>;
  private readonly requestTimeoutMs: number;
  private readonly pageSize: number;
  private readonly logger: Logger;
  private readonly watchTimings: Required<JobWatchTimings>;

  constructor(private readonly options: K8sClusterOptions) {
    if (options.namespace.trim() === '') throw new PermanentError('K8sCluster: namespace must not be empty');
    this.watchTimings = watchTimings(options.watch);
    this.namespace = options.namespace;
    this.logger = options.logger.child({ component: 'k8s-cluster', namespace: options.namespace });
    this.requestTimeoutMs = positiveInteger('K8sCluster', 'requestTimeoutMs', options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    this.pageSize = positiveInteger('K8sCluster', 'listPageSize', options.listPageSize ?? DEFAULT_LIST_PAGE_SIZE);
    this.kubeConfig = buildKubeConfig(options, this.logger);
    this.core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.batch = this.kubeConfig.makeApiClient(BatchV1Api);
    this.kinds = this.kindRequests();
  }

  async create(object: ClusterObject): Promise<CreateOutcome> {
    const { name } = object.metadata;
    const operation = `create ${object.kind} ${name}`;
    const requests = this.kinds[object.kind];
    try {
      await this.request(operation, (options) => requests.create(toApiBody(object), options));
      this.logger.debug({ kind: object.kind, name }, `Created ${object.kind} ${name}`);
      return 'created';
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
    }
    // W14: a repeated message or a restart finds the object it created before.
    const existing = await this.request(`read ${object.kind} ${name}`, (options) => requests.read(name, options)).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw new ConflictError(`${operation}: the existing ${object.kind} went away while being inspected; try again`);
      throw error;
    });
    if (existing.metadata?.deletionTimestamp) {
      throw new ConflictError(`${operation}: ${object.kind} ${name} is still terminating`);
    }
    const owner = existing.metadata?.labels?.[JOB_ID_LABEL];
    if (owner === undefined || owner !== object.metadata.labels[JOB_ID_LABEL]) {
      throw new AlreadyExistsError(`${operation}: the name is taken by ${owner === undefined ? 'an object of no bespin job' : `bespin job ${owner}`}`);
    }
    this.logger.info({ kind: object.kind, name }, `Adopted the existing ${object.kind} ${name}`);
    return 'adopted';
  }

  async delete(kind: ObjectKind, name: string): Promise<DeleteOutcome> {
    try {
      await this.request(`delete ${kind} ${name}`, (options) => this.kinds[kind].delete(name, options));
    } catch (error) {
      if (error instanceof NotFoundError) return 'absent';
      throw error;
    }
    this.logger.debug({ kind, name }, `Deleted ${kind} ${name}`);
    return 'deleted';
  }

  async list(kind: ObjectKind, selector: Labels): Promise<ObjectRef[]> {
    const labelSelector = labelSelectorText(selector);
    const items = await this.listAll(`list ${kind} ${labelSelector}`, (continueToken, options) =>
      this.kinds[kind].listPage(labelSelector, continueToken, options),
    );
    return items.map((item) => objectRef(kind, item.metadata));
  }

  /** Read as it arrives, not into client-node's model objects: the watcher lists the pods of every failed Job it reports. */
  async listPods(selector: Labels): Promise<PodView[]> {
    const labelSelector = labelSelectorText(selector);
    const operation = `list Pod ${labelSelector}`;
    const path = `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`;
    return this.allPages(async (continueToken) => {
      // Parsed JSON read through the V1Pod type: its timestamps are text, which podView accepts.
      const page = await this.listPage(operation, { path, query: { continue: continueToken, labelSelector, limit: this.pageSize }, read: (pod) => podView(pod as V1Pod) });
      return { items: page.items, next: page.metadata?.continue || undefined };
    });
  }

  /**
   * The log's last lines, enough of them to hold `maxBytes` bytes (every line has at least its
   * newline), cut to the last `maxBytes` bytes. `limitBytes` would give the log's head instead.
   */
  async annotateJob(name: string, annotations: Readonly<Record<string, string>>): Promise<'annotated' | 'absent'> {
    try {
      await this.request(`annotate Job ${name}`, (options) =>
        this.batch.patchNamespacedJob(
          { name, namespace: this.namespace, body: { metadata: { annotations } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch, options),
        ),
      );
      return 'annotated';
    } catch (error) {
      if (error instanceof NotFoundError) return 'absent';
      throw error;
    }
  }

  async readPodLog(podName: string, maxBytes: number): Promise<string> {
    checkMaxBytes(maxBytes);
    const log = await this.request(`read log of Pod ${podName}`, (options) =>
      this.core.readNamespacedPodLog({ name: podName, namespace: this.namespace, tailLines: maxBytes + 1 }, options),
    );
    return utf8Tail(log, maxBytes);
  }

  async listEvents(objectName: string): Promise<ClusterEvent[]> {
    const fieldSelector = involvedObjectSelector(objectName);
    const events = await this.listAll(`list Event of ${objectName}`, (continueToken, options) =>
      this.core.listNamespacedEvent({ namespace: this.namespace, fieldSelector, limit: this.pageSize, _continue: continueToken }, options),
    );
    return oldestFirst(events).map(eventView);
  }

  async watchJobs(selector: Labels, listener: JobWatchListener): Promise<WatchHandle> {
    const labelSelector = labelSelectorText(selector);
    const clock = this.options.clock;
    const watch = new K8sJobWatch({
      source: this.jobWatchSource(labelSelector),
      listener,
      timings: this.watchTimings,
      logger: this.logger.child({ watch: labelSelector }),
      metrics: this.options.metrics,
      now: clock ? () => clock.now() : Date.now,
    });
    watch.start();
    return watch;
  }

  private jobWatchSource(labelSelector: string): JobWatchSource {
    const path = `/apis/batch/v1/namespaces/${encodeURIComponent(this.namespace)}/jobs`;
    const operation = `list Job ${labelSelector}`;
    return {
      // Read as it arrives, not into client-node's model objects: the list is the watch's bulk (10,000 Jobs at a start).
      listPage: (continueToken, cancel) =>
        // Parsed JSON read through the V1Job type, as the watch events are.
        this.listPage(operation, { path, query: { continue: continueToken, labelSelector, limit: this.pageSize }, read: (job) => listedJob(job as V1Job) }, cancel),
      openStream: (resourceVersion, onEvent, onEnd) =>
        new Watch(this.kubeConfig).watch(
          path,
          { labelSelector, allowWatchBookmarks: true, resourceVersion: resourceVersion === '' ? undefined : resourceVersion },
          onEvent,
          onEnd,
        ),
    };
  }

  private kindRequests(): Record<ObjectKind, KindRequests> {
    const namespace = this.namespace;
    const page = (labelSelector: string, continueToken: string | undefined) => ({ namespace, labelSelector, limit: this.pageSize, _continue: continueToken });
    // client-node types bodies as its model classes; object-bodies.ts builds the same JSON shape.
    return {
      PersistentVolumeClaim: {
        create: (body, options) => this.core.createNamespacedPersistentVolumeClaim({ namespace, body: body as V1PersistentVolumeClaim }, options),
        read: (name, options) => this.core.readNamespacedPersistentVolumeClaim({ name, namespace }, options),
        delete: (name, options) => this.core.deleteNamespacedPersistentVolumeClaim({ name, namespace, body: {} }, options),
        listPage: (labelSelector, continueToken, options) => this.core.listNamespacedPersistentVolumeClaim(page(labelSelector, continueToken), options),
      },
      ConfigMap: {
        create: (body, options) => this.core.createNamespacedConfigMap({ namespace, body: body as V1ConfigMap }, options),
        read: (name, options) => this.core.readNamespacedConfigMap({ name, namespace }, options),
        delete: (name, options) => this.core.deleteNamespacedConfigMap({ name, namespace, body: {} }, options),
        listPage: (labelSelector, continueToken, options) => this.core.listNamespacedConfigMap(page(labelSelector, continueToken), options),
      },
      Job: {
        create: (body, options) => this.batch.createNamespacedJob({ namespace, body: body as V1Job }, options),
        read: (name, options) => this.batch.readNamespacedJob({ name, namespace }, options),
        // Background: the Job goes at once, the garbage collector takes its pods (§11).
        delete: (name, options) => this.batch.deleteNamespacedJob({ name, namespace, body: { propagationPolicy: 'Background' } }, options),
        listPage: (labelSelector, continueToken, options) => this.batch.listNamespacedJob(page(labelSelector, continueToken), options),
      },
    };
  }

  /** Every page of a list, following `continue`. */
  private listAll<T>(operation: string, page: (continueToken: string | undefined, options: ConfigurationOptions) => Promise<Listed<T>>): Promise<T[]> {
    return this.allPages(async (continueToken) => {
      const listed = await this.request(operation, (options) => page(continueToken, options));
      return { items: listed.items, next: listed.metadata?._continue || undefined };
    });
  }

  /** Every item of a list, page after page until the server gives no continue token. */
  private async allPages<T>(page: (continueToken: string | undefined) => Promise<{ items: readonly T[]; next: string | undefined }>): Promise<T[]> {
    const items: T[] = [];
    let continueToken: string | undefined;
    do {
      const listed = await page(continueToken);
      items.push(...listed.items);
      continueToken = listed.next;
    } while (continueToken !== undefined);
    return items;
  }

  /** One page of a list with the timeout (and `cancel`, if given); failures become domain errors. */
  private listPage<T>(operation: string, request: Omit<ListRequest<T>, 'kubeConfig'>, cancel?: AbortSignal): Promise<ApiList<T>> {
    return listWithTimeout(operation, this.requestTimeoutMs, { kubeConfig: this.kubeConfig, ...request }, cancel);
  }

  /** One API request with the timeout (and `cancel`, if given); failures become domain errors. */
  private request<T>(operation: string, send: (options: ConfigurationOptions) => Promise<T>, cancel?: AbortSignal): Promise<T> {
    return sendWithTimeout(operation, this.requestTimeoutMs, send, cancel);
  }
}

/** The watch timings with defaults filled in; each must be a positive number of milliseconds. */
function watchTimings(given: JobWatchTimings): Required<JobWatchTimings> {
  const timings = {
    resyncMs: given.resyncMs,
    idleTimeoutMs: given.idleTimeoutMs,
    minBackoffMs: given.minBackoffMs ?? DEFAULT_MIN_BACKOFF_MS,
    maxBackoffMs: given.maxBackoffMs ?? Math.max(DEFAULT_MAX_BACKOFF_MS, given.minBackoffMs ?? 0),
  };
  for (const [name, value] of Object.entries(timings)) {
    if (!(Number.isFinite(value) && value > 0)) throw new PermanentError(`K8sCluster: watch.${name} must be a positive number of milliseconds, got ${value}`);
  }
  if (timings.maxBackoffMs < timings.minBackoffMs) {
    throw new PermanentError(`K8sCluster: watch.maxBackoffMs (${timings.maxBackoffMs}) is below watch.minBackoffMs (${timings.minBackoffMs})`);
  }
  return timings;
}
