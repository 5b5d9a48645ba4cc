import { Container } from 'inversify';
import { CommandDispatcher, DISPATCH_SETTINGS, type DispatchSettings } from '../domain/command-dispatcher.js';
import { JOB_LEASE_SETTINGS, JobLeases, type JobLeaseSettings } from '../domain/job-leases.js';
import { JobMonitor } from '../domain/job-monitor.js';
import { JobRunner } from '../domain/job-runner.js';
import { LEADER_ELECTION_SETTINGS, LeaderElector, type LeaderElectionSettings } from '../domain/leader-elector.js';
import { LANDO_SETTINGS, WATCHER_SETTINGS, type LandoSettings, type WatcherSettings } from '../domain/settings.js';
import { StageSequencer } from '../domain/stage-sequencer.js';
import { StuckPodDetector } from '../domain/stuck-pod-detector.js';
import { BESPIN_API, type BespinApi } from '../ports/bespin-api.js';
import { CLOCK, type Clock } from '../ports/clock.js';
import { CLUSTER, type Cluster } from '../ports/cluster.js';
import { LEASE_STORE, type LeaseStore } from '../ports/leases.js';
import { LOGGER, type Logger } from '../ports/logger.js';
import { METRICS, type Metrics } from '../ports/metrics.js';
import { PROGRESS_PUBLISHER, type ProgressPublisher } from '../ports/progress-publisher.js';
import { LANDO_CLIENT, WORK_QUEUE_CONSUMER, type LandoClient, type WorkQueueConsumer } from '../ports/work-queue.js';

/** Adapters both roles need, whichever implementation backs them. */
export interface CommonAdapters {
  readonly cluster: Cluster;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface LandoAdapters extends CommonAdapters {
  readonly bespin: BespinApi;
  readonly consumer: WorkQueueConsumer;
  readonly progress: ProgressPublisher;
  /** Needed when `settings.leases` is given. */
  readonly leases?: LeaseStore;
}

export interface WatcherAdapters extends CommonAdapters {
  readonly lando: LandoClient;
  /** Needed when leader election is on. */
  readonly leases?: LeaseStore;
}

export interface LandoContainerSettings {
  readonly lando: LandoSettings;
  readonly dispatch: DispatchSettings;
  /** Per-job Leases, for several lando replicas on one queue; without it lando assumes it is alone. */
  readonly leases?: JobLeaseSettings;
}

/**
 * The lando role's object graph. The real service, the sandbox and the tests all build it
 * here, so they run the same domain services; only the adapters handed in differ.
 */
export function createLandoContainer(settings: LandoContainerSettings, adapters: LandoAdapters): Container {
  const container = bindCommon(adapters);
  container.bind<LandoSettings>(LANDO_SETTINGS).toConstantValue(settings.lando);
  container.bind<DispatchSettings>(DISPATCH_SETTINGS).toConstantValue(settings.dispatch);
  container.bind<BespinApi>(BESPIN_API).toConstantValue(adapters.bespin);
  container.bind<WorkQueueConsumer>(WORK_QUEUE_CONSUMER).toConstantValue(adapters.consumer);
  container.bind<ProgressPublisher>(PROGRESS_PUBLISHER).toConstantValue(adapters.progress);
  container.bind(StageSequencer).toSelf().inSingletonScope();
  container.bind(JobRunner).toSelf().inSingletonScope();
  container.bind(CommandDispatcher).toSelf().inSingletonScope();
  if (settings.leases) {
    container.bind<LeaseStore>(LEASE_STORE).toConstantValue(requireLeaseStore(adapters.leases, 'per-job leases'));
    container.bind<JobLeaseSettings>(JOB_LEASE_SETTINGS).toConstantValue(settings.leases);
    container.bind(JobLeases).toSelf().inSingletonScope();
  }
  return container;
}

/** The watcher role's object graph; with `leaderElection`, only the elected replica watches. */
export function createWatcherContainer(settings: WatcherSettings, adapters: WatcherAdapters, leaderElection?: LeaderElectionSettings): Container {
  const container = bindCommon(adapters);
  container.bind<WatcherSettings>(WATCHER_SETTINGS).toConstantValue(settings);
  container.bind<LandoClient>(LANDO_CLIENT).toConstantValue(adapters.lando);
  container.bind(JobMonitor).toSelf().inSingletonScope();
  container.bind(StuckPodDetector).toSelf().inSingletonScope();
  if (leaderElection) {
    container.bind<LeaseStore>(LEASE_STORE).toConstantValue(requireLeaseStore(adapters.leases, 'leader election'));
    container.bind<LeaderElectionSettings>(LEADER_ELECTION_SETTINGS).toConstantValue(leaderElection);
    container.bind(LeaderElector).toSelf().inSingletonScope();
  }
  return container;
}

function requireLeaseStore(leases: LeaseStore | undefined, feature: string): LeaseStore {
  if (leases === undefined) throw new Error(`${feature} is on but no LeaseStore adapter was given`);
  return leases;
}

function bindCommon(adapters: CommonAdapters): Container {
  const container = new Container();
  container.bind<Cluster>(CLUSTER).toConstantValue(adapters.cluster);
  container.bind<Metrics>(METRICS).toConstantValue(adapters.metrics);
  container.bind<Clock>(CLOCK).toConstantValue(adapters.clock);
  container.bind<Logger>(LOGGER).toConstantValue(adapters.logger);
  return container;
}
