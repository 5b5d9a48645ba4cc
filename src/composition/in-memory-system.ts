import { MemoryBespinApi } from '../adapters/memory/memory-bespin-api.js';
import { MemoryCluster } from '../adapters/memory/memory-cluster.js';
import { MemoryMetrics } from '../adapters/memory/memory-metrics.js';
import { MemoryBroker, MemoryProgressPublisher, type MemoryWorkQueue } from '../adapters/memory/memory-work-queue.js';
import { SystemClock } from '../adapters/system/system-clock.js';
import type { JobObject } from '../domain/cluster-objects.js';
import { isStepType, type StepType } from '../domain/job-codes.js';
import type { JobLeaseSettings } from '../domain/job-leases.js';
import type { LeaderElectionSettings } from '../domain/leader-elector.js';
import type { LandoSettings, WatcherSettings } from '../domain/settings.js';
import type { BespinAdminRecords } from '../adapters/memory/bespin-admin-records.js';
import type { BespinApi } from '../ports/bespin-api.js';
import type { Clock } from '../ports/clock.js';
import type { Cluster } from '../ports/cluster.js';
import type { LeaseStore } from '../ports/leases.js';
import type { Logger } from '../ports/logger.js';
import type { JobProgress, ProgressPublisher } from '../ports/progress-publisher.js';
import { DEFAULT_CONCURRENCY, DEFAULT_PREFETCH } from './config-schema.js';
import { createLandoContainer, createWatcherContainer } from './containers.js';
import { LandoService, WatcherService } from './services.js';

export const SANDBOX_QUEUE = 'lando';

export const SANDBOX_LANDO_SETTINGS: LandoSettings = {
  baseStageDataVolumeSizeInG: 1,
  dataStoreSecretName: 'ddsclient-agent',
  recordOutputProjectServiceAccount: 'annotation-writer-sa',
};

export const SANDBOX_WATCHER_SETTINGS: WatcherSettings = { maxLogBytes: 64 * 1024 };

/**
 * Simulated step containers: each Job ends `stepMs` after it is created, failing with the
 * log `fail` returns (if any); the record step's pod annotates itself with DukeDS ids, as
 * the real record step's kubectl does.
 */
export interface SimulatedWorkloads {
  readonly stepMs: number;
  readonly fail?: (jobId: string, step: StepType) => string | undefined;
}

export interface InMemorySystemOptions {
  readonly logger: Logger;
  /** Without it Jobs run until a test ends them through `cluster`. */
  readonly workloads?: SimulatedWorkloads;
  readonly landoSettings?: LandoSettings;
  readonly watcherSettings?: WatcherSettings;
  readonly handlerTimeoutMs?: number;
  /** Deliveries lando holds (default as configured by default); `concurrency` of them run at once. */
  readonly prefetch?: number;
  readonly concurrency?: number;
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** Deleted claims stay Terminating until `cluster.finishTerminations()`, as pvc-protection keeps them while pods use them. */
  readonly deletePvcAsync?: boolean;
  readonly clock?: Clock;
  /**
   * Another system whose bespin-api, broker (and so queue), cluster and progress publisher this
   * one uses, so several lando and watcher replicas run against one world. The other system
   * owns them: only its stop() resets the cluster.
   */
  readonly shareWith?: InMemorySystem;
  /** Needed by `jobLeases` and `leaderElection`. */
  readonly leases?: LeaseStore;
  /** lando takes per-job Leases. */
  readonly jobLeases?: JobLeaseSettings;
  /** The watcher runs only while it holds the leader Lease. */
  readonly leaderElection?: LeaderElectionSettings;
  /**
   * Adapters the roles use instead of the in-memory cluster and bespin-api: the sandbox's
   * --with-servers passes the real Kubernetes and bespin-api adapters, pointed at the
   * project's test servers.
   */
  readonly adapters?: { readonly cluster: Cluster; readonly bespin: BespinApi };
  /** The records behind `bespin`, e.g. shared with a bespin-api test server. */
  readonly bespinRecords?: BespinAdminRecords;
}

export type ProgressListener = (progress: JobProgress) => void;

/**
 * lando and the watcher over in-memory adapters: one broker queue between them, one simulated
 * cluster, one simulated bespin-api. The roles are built by the same containers and services
 * as the real processes, so the sandbox and the whole-job tests exercise the real wiring.
 */
export class InMemorySystem {
  readonly bespin: MemoryBespinApi;
  readonly cluster: MemoryCluster;
  readonly broker: MemoryBroker;
  readonly progress: MemoryProgressPublisher;
  readonly metrics = new MemoryMetrics();
  /** What bespin-api would send lando's commands through. */
  readonly client: MemoryWorkQueue;
  readonly lando: LandoService;
  readonly watcher: WatcherService;
  private readonly progressListeners: ProgressListener[] = [];
  private readonly ownsWorld: boolean;

  constructor(options: InMemorySystemOptions) {
    const clock = options.clock ?? new SystemClock();
    const world = options.shareWith;
    this.ownsWorld = world === undefined;
    this.bespin = world?.bespin ?? new MemoryBespinApi(options.bespinRecords);
    this.broker = world?.broker ?? new MemoryBroker();
    this.progress = world?.progress ?? new MemoryProgressPublisher();
    this.cluster =
      world?.cluster ??
      new MemoryCluster({ ...(options.workloads ? { autoComplete: this.simulate(options.workloads) } : {}), deletePvcAsync: options.deletePvcAsync ?? false });
    const queueOptions = {
      prefetch: options.prefetch ?? DEFAULT_PREFETCH,
      maxAttempts: options.maxAttempts ?? 5,
      retryDelayMs: options.retryDelayMs ?? 0,
      maxRetryDelayMs: options.maxRetryDelayMs ?? options.retryDelayMs ?? 0,
      logger: options.logger,
      metrics: this.metrics,
    };
    this.client = this.broker.workQueue(SANDBOX_QUEUE, queueOptions);
    const watcherSettings = options.watcherSettings ?? SANDBOX_WATCHER_SETTINGS;
    const common = { cluster: options.adapters?.cluster ?? this.cluster, metrics: this.metrics, clock, leases: options.leases };
    const landoContainer = createLandoContainer(
      {
        lando: options.landoSettings ?? SANDBOX_LANDO_SETTINGS,
        dispatch: { handlerTimeoutMs: options.handlerTimeoutMs ?? 60_000, concurrency: options.concurrency ?? DEFAULT_CONCURRENCY },
        leases: options.jobLeases,
      },
      {
        ...common,
        logger: options.logger.child({ role: 'lando' }),
        bespin: options.adapters?.bespin ?? this.bespin,
        consumer: this.broker.workQueue(SANDBOX_QUEUE, queueOptions),
        progress: this.tappedProgress(),
      },
    );
    const watcherContainer = createWatcherContainer(
      watcherSettings,
      {
        ...common,
        logger: options.logger.child({ role: 'watcher' }),
        lando: this.broker.workQueue(SANDBOX_QUEUE, queueOptions),
      },
      options.leaderElection,
    );
    this.lando = new LandoService(landoContainer);
    this.watcher = new WatcherService(watcherContainer, watcherSettings);
  }

  onProgress(listener: ProgressListener): void {
    this.progressListeners.push(listener);
  }

  async start(): Promise<void> {
    await this.lando.start();
    await this.watcher.start();
  }

  async stop(): Promise<void> {
    await this.watcher.stop();
    await this.lando.stop();
    if (this.ownsWorld) this.cluster.reset();
  }

  /** Marks the job Starting and sends start_job, as bespin-api does when a user starts a job. */
  async startJob(jobId: number): Promise<void> {
    await this.bespin.setJobState(jobId, 'S');
    await this.client.send({ command: 'start_job', jobId: String(jobId) });
  }

  private simulate(workloads: SimulatedWorkloads) {
    const stepOf = (job: JobObject) => {
      const step = job.metadata.labels['bespin-job-step'] ?? '';
      return isStepType(step) ? step : undefined;
    };
    const jobIdOf = (job: JobObject) => job.metadata.labels['bespin-job-id'] ?? '';
    return {
      afterMs: workloads.stepMs,
      fail: (job: JobObject) => {
        const step = stepOf(job);
        return step && workloads.fail ? workloads.fail(jobIdOf(job), step) : undefined;
      },
      work: (job: JobObject, podName: string) => {
        if (stepOf(job) !== 'record_output_project') return;
        const id = jobIdOf(job).padStart(12, '0');
        this.cluster.annotatePod(podName, {
          project_id: `00000000-0000-4000-8000-${id}`,
          readme_file_id: `00000000-0000-4000-9000-${id}`,
        });
      },
    };
  }

  private tappedProgress(): ProgressPublisher {
    return {
      publish: async (progress) => {
        await this.progress.publish(progress);
        for (const listener of this.progressListeners) listener(progress);
      },
    };
  }
}
