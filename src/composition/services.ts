import type { Container } from 'inversify';
import { CommandDispatcher } from '../domain/command-dispatcher.js';
import { bespinJobsSelector, JobMonitor } from '../domain/job-monitor.js';
import type { WatcherSettings } from '../domain/settings.js';
import { StuckPodDetector } from '../domain/stuck-pod-detector.js';
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

  constructor(container: Container) {
    this.consumer = container.get<WorkQueueConsumer>(WORK_QUEUE_CONSUMER);
    this.dispatcher = container.get(CommandDispatcher);
  }

  start(): Promise<void> {
    return this.consumer.start(this.dispatcher.handle);
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }
}

/** The watcher: the cluster's labelled Jobs go to the JobMonitor; pods that cannot start, to the StuckPodDetector. */
export class WatcherService implements Service {
  private readonly cluster: Cluster;
  private readonly monitor: JobMonitor;
  private readonly stuckPods: StuckPodDetector;
  private watch: WatchHandle | undefined;

  constructor(
    container: Container,
    private readonly settings: WatcherSettings,
  ) {
    this.cluster = container.get<Cluster>(CLUSTER);
    this.monitor = container.get(JobMonitor);
    this.stuckPods = container.get(StuckPodDetector);
  }

  async start(): Promise<void> {
    this.watch = await this.cluster.watchJobs(bespinJobsSelector(this.settings), (event) => this.monitor.onJobEvent(event));
    this.stuckPods.start();
  }

  async stop(): Promise<void> {
    await this.stuckPods.stop();
    await this.watch?.stop();
    this.watch = undefined;
  }
}
