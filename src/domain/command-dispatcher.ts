import { inject, injectable, optional } from 'inversify';
import type { Delivery, LandoCommandName } from './commands.js';
import { describeError } from './errors.js';
import { HandlerSlots, type Priority } from './handler-slots.js';
import { JobLeases } from './job-leases.js';
import { JobRunner } from './job-runner.js';
import { CLOCK, type Clock } from '../ports/clock.js';
import { LOGGER, type Logger } from '../ports/logger.js';
import { METRICS, type Metrics } from '../ports/metrics.js';
import type { Disposition } from '../ports/work-queue.js';

export interface DispatchSettings {
  /** A handler still running after this long settles its delivery as a retry (W6). */
  readonly handlerTimeoutMs: number;
  /** Handlers running at once; the queue's prefetch should exceed it, so there is a choice of what to run next. */
  readonly concurrency: number;
}

export const DISPATCH_SETTINGS = Symbol.for('lando-k8s.DispatchSettings');

const MOVES_A_JOB_ON: Priority = 0;
const ADMITS_A_JOB: Priority = 1;

/**
 * Commands that move a job already on the cluster (a step's outcome, a cancel) run before those
 * that put another job on it (start, restart): with a backlog, the jobs in flight reach their
 * next step and free their volumes before new ones pile up beside them. Each step of a job
 * starts at most one outcome, so the jobs already admitted cannot starve the new ones for long.
 */
function priorityOf(command: LandoCommandName): Priority {
  return command === 'start_job' || command === 'restart_job' || command === 'start_debug' ? ADMITS_A_JOB : MOVES_A_JOB_ON;
}

/**
 * Runs deliveries of different jobs concurrently, at most `concurrency` at once, chosen by
 * priorityOf among those the queue's prefetch has handed over, and the deliveries of one job
 * strictly one at a time in arrival order (W6): the guards of overview §5.2 are only
 * meaningful if no two commands of a job interleave.
 */
@injectable()
export class CommandDispatcher {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly slots: HandlerSlots;

  constructor(
    @inject(JobRunner) private readonly runner: JobRunner,
    @inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(METRICS) private readonly metrics: Metrics,
    @inject(LOGGER) private readonly logger: Logger,
    /** Bound when several lando replicas share the queue: a command then runs only while its replica holds the job's Lease. */
    @inject(JobLeases) @optional() private readonly leases?: JobLeases,
  ) {
    this.slots = new HandlerSlots(settings.concurrency);
  }

  readonly handle = (delivery: Delivery): Promise<Disposition> => {
    const key = String(delivery.message.jobId);
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.inSlot(delivery));
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

  private inSlot(delivery: Delivery): Promise<Disposition> {
    const run = this.slots.run(priorityOf(delivery.message.command), () => {
      this.metrics.set('lando_commands_waiting', this.slots.waitingCount);
      return this.timed(delivery);
    });
    this.metrics.set('lando_commands_waiting', this.slots.waitingCount);
    return run;
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
