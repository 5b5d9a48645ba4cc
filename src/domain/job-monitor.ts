import { inject, injectable } from 'inversify';
import type { JobStatusView, Labels } from './cluster-objects.js';
import { STEP_OUTCOME_COMMANDS } from './commands.js';
import { describeError } from './errors.js';
import { isStepType, STEP_TYPES, type StepType } from './job-codes.js';
import { ERROR_RECORDED_ANNOTATION } from './job-steps.js';
import { CLUSTER, type Cluster, type JobWatchEvent } from '../ports/cluster.js';
import { LOGGER, type Logger } from '../ports/logger.js';
import { METRICS, type Metrics } from '../ports/metrics.js';
import { LANDO_CLIENT, type LandoClient } from '../ports/work-queue.js';
import { WATCHER_SETTINGS, type WatcherSettings } from './settings.js';

export const JOB_ID_LABEL = 'bespin-job-id';
export const STEP_LABEL = 'bespin-job-step';

/** The Jobs and pods of this installation: `bespin-job=true`, plus the installation label when configured (W20). */
export function bespinJobsSelector(settings: Pick<WatcherSettings, 'installationLabel'>): Labels {
  const selector: Record<string, string> = { 'bespin-job': 'true' };
  if (settings.installationLabel) selector[settings.installationLabel.key] = settings.installationLabel.value;
  return selector;
}

type Outcome = 'complete' | 'failed';

/**
 * Turns cluster Job events into step outcome messages for lando (kubernetes.md §12.2).
 *
 * Each Job's outcome is reported once per Job uid (W18): the original re-sent it on every
 * event and every restart. A report that could not be sent is not remembered, so the next
 * event or re-list of that Job sends it again: nothing is lost.
 */
@injectable()
export class JobMonitor {
  private readonly reported = new Map<string, Outcome>();
  /** Step Jobs seen without an outcome yet, by uid: what the stuck-job gauges are made of. */
  private readonly running = new Map<string, { readonly step: StepType; readonly createdMs: number }>();

  constructor(
    @inject(CLUSTER) private readonly cluster: Cluster,
    @inject(LANDO_CLIENT) private readonly lando: LandoClient,
    @inject(WATCHER_SETTINGS) private readonly settings: WatcherSettings,
    @inject(METRICS) private readonly metrics: Metrics,
    @inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onJobEvent(event: JobWatchEvent): Promise<void> {
    const { job } = event;
    if (event.type === 'DELETED') {
      this.reported.delete(job.uid);
      this.running.delete(job.uid);
      return;
    }
    const jobId = job.labels[JOB_ID_LABEL];
    const step = job.labels[STEP_LABEL];
    if (!jobId || !step) return;
    if (!isStepType(step)) {
      this.logger.error({ job_id: jobId, k8s_job: job.name, step }, `Job ${job.name} has an unknown ${STEP_LABEL} label ${JSON.stringify(step)}; it is not reported`);
      return;
    }
    const outcome = outcomeOf(job);
    if (!outcome) {
      this.running.set(job.uid, { step, createdMs: Date.parse(job.creationTimestamp ?? '') || 0 });
      return;
    }
    this.running.delete(job.uid);
    if (this.reported.has(job.uid)) return;
    if (outcome === 'failed' && job.annotations?.[ERROR_RECORDED_ANNOTATION] === 'true') {
      // lando recorded this failure already; the Job is only kept for inspection.
      this.reported.set(job.uid, outcome);
      return;
    }

    const commands = STEP_OUTCOME_COMMANDS[step];
    const log = this.logger.child({ job_id: jobId, step, k8s_job: job.name });
    if (outcome === 'complete') {
      await this.lando.send({ command: commands.complete, jobId });
    } else {
      await this.lando.send({ command: commands.error, jobId, message: await this.failureReport(job) });
    }
    this.reported.set(job.uid, outcome);
    this.metrics.increment('watcher_outcomes_reported_total', { step, outcome });
    log.info({ outcome }, `Sent ${outcome === 'complete' ? commands.complete : commands.error} for Job ${job.name}`);
  }

  /**
   * Sets, per step, how many step Jobs are still running and how old the oldest is: a job
   * stuck in a step shows as a growing age (the operations guide's alert). A watcher that is
   * not reporting (a standby) forgets what it saw and reports zeros.
   */
  reportRunningJobs(nowMs: number, reporting = true): void {
    if (!reporting) this.running.clear();
    for (const step of STEP_TYPES) {
      const created = [...this.running.values()].filter((job) => job.step === step).map((job) => job.createdMs);
      this.metrics.set('watcher_running_step_jobs', created.length, { step });
      this.metrics.set('watcher_oldest_running_step_job_seconds', created.length === 0 ? 0 : Math.max(0, (nowMs - Math.min(...created)) / 1000), { step });
    }
  }

  /** The most recent pod's log, cut to its end (where the error is) so messages stay bounded (W19). */
  private async failureReport(job: JobStatusView): Promise<string> {
    try {
      const pods = await this.cluster.listPods({ 'job-name': job.name });
      const newest = [...pods].sort((a, b) => a.creationTimestamp.localeCompare(b.creationTimestamp)).at(-1);
      if (!newest) return `logs unavailable: no pods found for Job ${job.name}`;
      return await this.cluster.readPodLog(newest.name, this.settings.maxLogBytes);
    } catch (error) {
      return `logs unavailable: ${describeError(error)}`;
    }
  }
}

/** Complete wins over Failed when both are present, as in the original. */
function outcomeOf(job: JobStatusView): Outcome | undefined {
  const holds = (type: string) => job.conditions.some((condition) => condition.type === type && condition.status === 'True');
  if (holds('Complete')) return 'complete';
  if (holds('Failed')) return 'failed';
  return undefined;
}
