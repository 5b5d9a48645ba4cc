import type { Container } from 'inversify';
import { CommandDispatcher } from '../domain/command-dispatcher.js';
import { JobLeases } from '../domain/job-leases.js';
import { bespinJobsSelector, JobMonitor } from '../domain/job-monitor.js';
import { LeaderElector } from '../domain/leader-elector.js';
import { leaseName } from '../domain/lease-names.js';
import type { WatcherSettings } from '../domain/settings.js';
import { StuckPodDetector } from '../domain/stuck-pod-detector.js';
import { CLOCK, type Clock } from '../ports/clock.js';
import { CLUSTER, type Cluster, type WatchHandle } from '../ports/cluster.js';
import { WORK_QUEUE_CONSUMER, type WorkQueueConsumer } from '../ports/work-queue.js';

/** A role's running part: started once, stopped once on shutdown. */
export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** lando: the work queue's deliveries go to the dispatcher, which runs the JobRunner. */
export class LandoService implements Service {
  private readonly consumer: WorkQueueConsumer;
  private readonly dispatcher: CommandDispatcher;
  private readonly leases: JobLeases | undefined;

  constructor(container: Container) {
    this.consumer = container.get<WorkQueueConsumer>(WORK_QUEUE_CONSUMER);
    this.dispatcher = container.get(CommandDispatcher);
    this.leases = container.get(JobLeases, { optional: true });
  }

  start(): Promise<void> {
    return this.consumer.start(this.dispatcher.handle);
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.leases?.releaseAll();
  }
}

/** How often the watcher refreshes its running-Jobs gauges. */
const RUNNING_JOBS_GAUGE_MS = 15_000;

/**
 * The watcher: the cluster's labelled Jobs go to the JobMonitor; pods that cannot start, to the
 * StuckPodDetector. With a LeaderElector bound, only the elected replica watches: its watch
 * starts with a full list, so a new leader reports what finished during the hand-over.
 */
export class WatcherService implements Service {
  private readonly cluster: Cluster;
  private readonly monitor: JobMonitor;
  private readonly stuckPods: StuckPodDetector;
  private readonly elector: LeaderElector | undefined;
  private readonly clock: Clock;
  private watch: WatchHandle | undefined;
  private gaugeTimer: NodeJS.Timeout | undefined;

  constructor(
    container: Container,
    private readonly settings: WatcherSettings,
  ) {
    this.cluster = container.get<Cluster>(CLUSTER);
    this.monitor = container.get(JobMonitor);
    this.stuckPods = container.get(StuckPodDetector);
    this.elector = container.get(LeaderElector, { optional: true });
    this.clock = container.get<Clock>(CLOCK);
  }

  /** For /readyz: a standby replica is ready without a watch; the leader, or a lone watcher, needs one. */
  get watching(): boolean {
    return this.watch !== undefined || (this.elector !== undefined && !this.elector.isLeader);
  }

  async start(): Promise<void> {
    if (this.elector) {
      this.elector.start({ onStartedLeading: () => this.startWatching(), onStoppedLeading: () => this.stopWatching() });
      return;
    }
    await this.startWatching();
  }

  async stop(): Promise<void> {
    await this.elector?.stop();
    await this.stopWatching();
  }

  private async startWatching(): Promise<void> {
    this.watch = await this.cluster.watchJobs(bespinJobsSelector(this.settings), (event) => this.monitor.onJobEvent(event));
    this.stuckPods.start();
    this.gaugeTimer = setInterval(() => this.monitor.reportRunningJobs(this.clock.now()), RUNNING_JOBS_GAUGE_MS);
    this.gaugeTimer.unref();
  }

  /** Both stop at once: a replica that lost the lead must stop reporting without waiting for a scan in progress. */
  private async stopWatching(): Promise<void> {
    const watch = this.watch;
    this.watch = undefined;
    clearInterval(this.gaugeTimer);
    this.monitor.reportRunningJobs(this.clock.now(), false);
    await Promise.all([this.stuckPods.stop(), watch?.stop()]);
  }
}

/** The watchers' leader Lease, one per installation so installations sharing a namespace each have a leader (W20). */
export function watcherLeaseName(settings: WatcherSettings): string {
  return leaseName('lando-watcher', settings.installationLabel?.value);
}
