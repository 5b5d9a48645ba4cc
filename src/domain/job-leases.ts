import { inject, injectable } from 'inversify';
import { describeError } from './errors.js';
import type { JobRunResult } from './job-runner.js';
import { leaseName } from './lease-names.js';
import { LANDO_SETTINGS, type LandoSettings } from './settings.js';
import { CLOCK, type Clock } from '../ports/clock.js';
import { LEASE_STORE, type LeaseStore } from '../ports/leases.js';
import { LOGGER, type Logger } from '../ports/logger.js';
import { METRICS, type Metrics } from '../ports/metrics.js';
import type { Disposition } from '../ports/work-queue.js';

export interface JobLeaseSettings {
  /** How long a job's Lease keeps other replicas off the job after its last renewal. */
  readonly durationMs: number;
  /** This replica's holder identity (composition's replicaIdentity()). */
  readonly holder: string;
}

export const JOB_LEASE_SETTINGS = Symbol.for('lando-k8s.JobLeaseSettings');

/** A job whose Lease this replica wrote last. */
interface HeldLease {
  readonly name: string;
  /** When the last successful write was sent: the lease is valid for the duration from about then. */
  renewedAt: number;
  /** A handler of the job is running: its lease must not be released under it. */
  running: boolean;
}

/**
 * lando's per-job Leases, so several replicas on one queue never work on the same job at once
 * (W20): a command runs only while its replica holds the job's Lease, renewed every third of
 * the lease's duration while the handler runs; a command for a job held elsewhere goes back to
 * the queue. The Lease is kept between commands, so the next command of the job costs one
 * renewal, and deleted when the job comes to rest.
 */
@injectable()
export class JobLeases {
  readonly holder: string;
  private readonly durationMs: number;
  private readonly installation: string | undefined;
  private readonly held = new Map<string, HeldLease>();

  constructor(
    @inject(LEASE_STORE) private readonly store: LeaseStore,
    @inject(JOB_LEASE_SETTINGS) settings: JobLeaseSettings,
    @inject(LANDO_SETTINGS) lando: LandoSettings,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(METRICS) private readonly metrics: Metrics,
    @inject(LOGGER) private readonly logger: Logger,
  ) {
    if (!(Number.isFinite(settings.durationMs) && settings.durationMs > 0)) {
      throw new RangeError(`job lease duration must be a positive number of milliseconds, got ${settings.durationMs}`);
    }
    this.durationMs = settings.durationMs;
    this.holder = settings.holder;
    this.installation = lando.installationLabel?.value;
  }

  /** The job's Lease name, e.g. `lando-job-42` (`lando-<installation>-job-42` with an installation label). */
  leaseNameOf(jobId: string | number): string {
    return leaseName('lando', this.installation, 'job', String(jobId));
  }

  /**
   * Runs `handle` holding the job's Lease. A job another replica holds is not run: the command
   * is retried. The caller runs one command of a job at a time.
   */
  async run(jobId: string | number, handle: () => Promise<JobRunResult>): Promise<Disposition> {
    const key = String(jobId);
    const name = this.leaseNameOf(key);
    this.forgetLapsed();
    const askedAt = this.clock.now();
    let acquired: boolean;
    try {
      acquired = await this.store.tryAcquire(name, this.holder, this.durationMs);
    } catch (error) {
      return { outcome: 'retry', reason: `taking the lease of job ${key}: ${describeError(error)}` };
    }
    if (!acquired) {
      this.held.delete(key);
      this.metrics.increment('lando_lease_conflicts_total');
      this.logger.info({ job_id: key, lease: name }, `Job ${key} is being handled by another lando replica; retrying the command later`);
      return { outcome: 'defer', reason: `job ${key} is being handled by another lando replica` };
    }
    const lease: HeldLease = { name, renewedAt: askedAt, running: true };
    this.held.set(key, lease);
    const renewal = this.keepRenewing(key, lease);
    let result: JobRunResult;
    try {
      result = await handle();
    } finally {
      await renewal.stop();
      lease.running = false;
    }
    if (result.jobAtRest && result.disposition.outcome !== 'retry') await this.release(key, lease);
    return result.disposition;
  }

  /** On shutdown: gives up the Leases of jobs with no handler running, so other replicas need not wait for them to lapse. */
  async releaseAll(): Promise<void> {
    this.forgetLapsed();
    const idle = [...this.held].filter(([, lease]) => !lease.running);
    await Promise.all(idle.map(([key, lease]) => this.release(key, lease)));
  }

  private keepRenewing(key: string, lease: HeldLease): { stop(): Promise<void> } {
    let renewing: Promise<void> | undefined;
    const timer = setInterval(() => {
      // A renewal still waiting for the API server is not doubled up.
      renewing ??= this.renew(key, lease).finally(() => {
        renewing = undefined;
      });
    }, this.durationMs / 3);
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await renewing;
      },
    };
  }

  /**
   * Handlers cannot be interrupted, so a lost Lease is only reported: another replica may now
   * work on the job beside this handler, which the job guards make harmless but is worth an alert.
   */
  private async renew(key: string, lease: HeldLease): Promise<void> {
    const askedAt = this.clock.now();
    try {
      if (await this.store.tryAcquire(lease.name, this.holder, this.durationMs)) {
        lease.renewedAt = askedAt;
        return;
      }
      this.metrics.increment('lando_lease_lost_total');
      this.logger.error({ job_id: key, lease: lease.name }, `Lost the lease of job ${key} to another lando replica while handling a command`);
    } catch (error) {
      this.logger.warn({ job_id: key, lease: lease.name, err: describeError(error) }, `Renewing the lease of job ${key} failed; trying again`);
    }
  }

  private async release(key: string, lease: HeldLease): Promise<void> {
    if (this.held.get(key) === lease) this.held.delete(key);
    try {
      await this.store.release(lease.name, this.holder);
    } catch (error) {
      // Harmless: the lease lapses by itself; until then only this replica takes the job.
      this.logger.warn({ job_id: key, lease: lease.name, err: describeError(error) }, `Releasing the lease of job ${key} failed; it will lapse`);
    }
  }

  /** Leases that lapsed need no release, and this replica would have to take them afresh anyway. */
  private forgetLapsed(): void {
    const now = this.clock.now();
    for (const [key, lease] of this.held) {
      if (!lease.running && lease.renewedAt + this.durationMs <= now) this.held.delete(key);
    }
  }
}
