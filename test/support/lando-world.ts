import { MemoryBespinApi } from '../../src/adapters/memory/memory-bespin-api.js';
import { MemoryCluster } from '../../src/adapters/memory/memory-cluster.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { MemoryBroker, MemoryProgressPublisher } from '../../src/adapters/memory/memory-work-queue.js';
import { SystemClock } from '../../src/adapters/system/system-clock.js';
import { createLandoContainer } from '../../src/composition/containers.js';
import type { BespinJob } from '../../src/domain/bespin-job.js';
import type { ClusterObject } from '../../src/domain/cluster-objects.js';
import type { Delivery, LandoCommandName } from '../../src/domain/commands.js';
import { JobRunner } from '../../src/domain/job-runner.js';
import type { LandoSettings } from '../../src/domain/settings.js';
import { StageSequencer } from '../../src/domain/stage-sequencer.js';
import type { Disposition } from '../../src/ports/work-queue.js';
import { bespinJobFromJson, readFixture, shareGroupFromJson, stageGroupFromJson, TRANSCRIPT_SETTINGS } from './bespin-fixtures.js';
import { MemoryLogger } from './memory-logger.js';
import { recording, type RecordedCall } from './recording-proxy.js';
import { RESOURCE_KINDS } from './transcripts.js';

type Json = Record<string, unknown>;

/**
 * lando's JobRunner over the in-memory adapters, seeded with the spec's fixtures. The ports
 * the runner sees are wrapped so `calls` holds its side effects in order; the adapters
 * themselves stay reachable for seeding and inspection without being recorded.
 */
export class LandoWorld {
  readonly bespin = new MemoryBespinApi();
  readonly cluster = new MemoryCluster();
  readonly progress = new MemoryProgressPublisher();
  readonly metrics = new MemoryMetrics();
  readonly logger = new MemoryLogger();
  readonly calls: RecordedCall[] = [];
  readonly runner: JobRunner;
  readonly stages: StageSequencer;

  constructor(settings: LandoSettings = TRANSCRIPT_SETTINGS) {
    const container = createLandoContainer(
      { lando: settings, dispatch: { handlerTimeoutMs: 60_000, concurrency: 16 } },
      {
        bespin: recording('bespin', this.bespin, this.calls),
        cluster: recording('cluster', this.cluster, this.calls),
        progress: recording('progress', this.progress, this.calls),
        consumer: new MemoryBroker().workQueue('lando'),
        metrics: this.metrics,
        clock: new SystemClock(),
        logger: this.logger,
      },
    );
    this.runner = container.get(JobRunner);
    this.stages = container.get(StageSequencer);
  }

  /** Loads a bespin job fixture and the records it points to, at the given state and step. */
  seedJob(fixture: string, state: string, step: string): BespinJob {
    const json = readFixture<Json>(fixture);
    this.bespin.addJob({ ...json, state, step });
    this.bespin.addStageGroup(readFixture<Json>(json.stage_group === 40 ? 'job-file-stage-group.json' : 'job-file-stage-group-packed.json'));
    this.bespin.addShareGroup(readFixture<Json>('share-group.json'));
    this.bespin.addMethodsDocument(readFixture<Json>('workflow-methods-document.json'));
    return bespinJobFromJson({ ...json, state, step });
  }

  /**
   * Creates, as earlier steps would have, the objects a transcript starts with. Pods come
   * with their Jobs, so they are not created here.
   */
  async seedObjects(job: BespinJob, initial: readonly { resource: string; name: string }[]): Promise<void> {
    const everything = this.everyObjectOf(job);
    for (const { resource, name } of initial) {
      if (resource === 'pods') continue;
      const kind = RESOURCE_KINDS[resource];
      const object = everything.find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
      if (!object) throw new Error(`no ${resource} of job ${job.id} is called ${name}`);
      await this.cluster.create(object);
    }
  }

  deliver(command: LandoCommandName, jobId: string | number, extras: { message?: string; attempt?: number; redelivered?: boolean; lastAttempt?: boolean } = {}): Promise<Disposition> {
    const delivery: Delivery = {
      message: { command, jobId, version: '2.0.0', ...(extras.message === undefined ? {} : { message: extras.message }) },
      attempt: extras.attempt ?? 0,
      redelivered: extras.redelivered ?? false,
      lastAttempt: extras.lastAttempt ?? false,
    };
    return this.runner.handle(delivery);
  }

  state(jobId: number): { state: unknown; step: unknown } {
    const json = this.bespin.job(jobId);
    return { state: json?.state, step: json?.step };
  }

  private everyObjectOf(job: BespinJob): ClusterObject[] {
    const stageGroup = stageGroupFromJson(readFixture(job.stageGroupId === 40 ? 'job-file-stage-group.json' : 'job-file-stage-group-packed.json'));
    const stage = this.stages.stageData(job, stageGroup);
    const organize = this.stages.organizeOutput(job, null);
    const save = this.stages.saveOutput(job, shareGroupFromJson(readFixture('share-group.json')));
    return [
      this.stages.jobDataPvc(job, stageGroup),
      this.stages.outputDataPvc(job),
      stage.configMap,
      stage.job,
      this.stages.runWorkflow(job).job,
      organize.configMap,
      organize.job,
      save.configMap,
      save.job,
      this.stages.recordOutputProject(job).job,
    ];
  }
}
