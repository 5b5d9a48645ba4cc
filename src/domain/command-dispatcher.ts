import { inject, injectable, optional } from 'inversify';
import type { Delivery } from './commands.js';
import { describeError } from './errors.js';
import { JobLeases } from './job-leases.js';
import { JobRunner } from './job-runner.js';
import { CLOCK, type Clock } from '../ports/clock.js';
import { LOGGER, type Logger } from '../ports/logger.js';
import { METRICS, type Metrics } from '../ports/metrics.js';
import type { Disposition } from '../ports/work-queue.js';

export interface DispatchSettings {
  /** A handler still running after this long settles its delivery as a retry (W6). */
  readonly handlerTimeoutMs: number;
}

export const DISPATCH_SETTINGS = Symbol.for('lando-k8s.DispatchSettings');

/**
 * Runs deliveries of different jobs concurrently (the queue's prefetch bounds how many) and
 * the deliveries of one job strictly one at a time in arrival order (W6): the guards of
 * overview §5.2 are only meaningful if no two commands of a job interleave.
 */
@injectable()
export class CommandDispatcher {
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    @inject(JobRunner) private readonly runner: JobRunner,
    @inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(METRICS) private readonly metrics: Metrics,
    @inject(LOGGER) private readonly logger: Logger,
    /** Bound when several lando replicas share the queue: a command then runs only while its replica holds the job's Lease. */
    @inject(JobLeases) @optional() private readonly leases?: JobLeases,
  ) {}

  readonly handle = (delivery: Delivery): Promise<Disposition> => {
    const key = String(delivery.message.jobId);
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.timed(delivery));
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    this.metrics.set('lando_active_jobs', this.tails.size);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
      this.metrics.set('lando_active_jobs', this.tails.size);
    });
    return this.withTimeout(delivery, run);
  };

  /** How many jobs have a command queued or running. */
  get activeJobs(): number {
    return this.tails.size;
  }

  private async timed(delivery: Delivery): Promise<Disposition> {
    const command = delivery.message.command;
    const started = this.clock.now();
    let disposition: Disposition;
    try {
      disposition = this.leases
        ? await this.leases.run(delivery.message.jobId, () => this.runner.run(delivery))
        : await this.runner.handle(delivery);
    } catch (error) {
      disposition = { outcome: 'retry', reason: `${command} for job ${delivery.message.jobId} failed unexpectedly: ${describeError(error)}` };
      this.logger.error({ job_id: delivery.message.jobId, command, err: describeError(error) }, 'Handler failed unexpectedly');
    }
    this.metrics.observe('lando_handler_duration_seconds', (this.clock.now() - started) / 1000, { command });
    this.metrics.increment('lando_messages_handled_total', { command, outcome: disposition.outcome });
    return disposition;
  }

  /**
   * A handler that hangs must not hold its delivery forever; the job's queue stays blocked
   * until the handler really ends, so the retried delivery never runs beside it.
   */
  private withTimeout(delivery: Delivery, run: Promise<Disposition>): Promise<Disposition> {
    const limit = this.settings.handlerTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Disposition>((resolve) => {
      timer = setTimeout(() => {
        this.metrics.increment('lando_handler_timeouts_total', { command: delivery.message.command });
        resolve({ outcome: 'retry', reason: `${delivery.message.command} for job ${delivery.message.jobId} timed out after ${limit} ms` });
      }, limit);
      timer.unref();
    });
    return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
  }
}
