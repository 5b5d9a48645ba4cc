import { inject, injectable } from 'inversify';
import { describeError } from './errors.js';
import { CLOCK, type Clock } from '../ports/clock.js';
import { LEASE_STORE, type LeaseStore } from '../ports/leases.js';
import { LOGGER, type Logger } from '../ports/logger.js';
import { METRICS, type Metrics } from '../ports/metrics.js';

export interface LeaderElectionSettings {
  readonly leaseName: string;
  /** This replica's holder identity (composition's replicaIdentity()). */
  readonly identity: string;
  /** How long the leader's hold lasts after its last renewal: how long standbys wait after it dies. */
  readonly leaseDurationMs: number;
  /** A leader that could not renew for this long stops acting, before its lease can lapse. */
  readonly renewDeadlineMs: number;
  /** Interval of the attempts to take or renew the lease. */
  readonly retryPeriodMs: number;
}

/** Kubernetes' own controllers' timings (client-go's leader election defaults). */
export const DEFAULT_LEADER_ELECTION_TIMINGS = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const satisfies Partial<LeaderElectionSettings>;

export const LEADER_ELECTION_SETTINGS = Symbol.for('lando-k8s.LeaderElectionSettings');

/** What the elected replica does: both run one at a time, in the order leadership changed. */
export interface LeadershipCallbacks {
  onStartedLeading(): Promise<void>;
  onStoppedLeading(): Promise<void>;
}

/** client-go's JitterFactor: a candidate waits between 1 and 2.2 retry periods, so standbys do not ask in step. */
const JITTER_FACTOR = 1.2;

/**
 * Leader election on a Lease, as client-go's leaderelection package does it: every replica
 * tries to take the lease every retry period (jittered); the one that holds it leads and
 * renews it every retry period. A leader that has not renewed for the renew deadline stops
 * leading at once, while its lease is still valid, so two replicas never lead together; a
 * leader that finds another holder stops at once. Unlike client-go, a replica that stopped
 * leading goes back to being a candidate instead of exiting.
 */
@injectable()
export class LeaderElector {
  readonly identity: string;
  private readonly settings: LeaderElectionSettings;
  private callbacks: LeadershipCallbacks | undefined;
  private running = false;
  private leading = false;
  /** Whether the last attempt took the lease, so stop() knows whether there is one to give up. */
  private mayHoldLease = false;
  private lastRenewedAt = 0;
  private nextAttempt: NodeJS.Timeout | undefined;
  private renewDeadline: NodeJS.Timeout | undefined;
  private attempt: Promise<void> = Promise.resolve();
  private transitions: Promise<void> = Promise.resolve();

  constructor(
    @inject(LEASE_STORE) private readonly store: LeaseStore,
    @inject(LEADER_ELECTION_SETTINGS) settings: LeaderElectionSettings,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(METRICS) private readonly metrics: Metrics,
    @inject(LOGGER) private readonly logger: Logger,
  ) {
    this.settings = checkedSettings(settings);
    this.identity = settings.identity;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning; returns at once (this replica is a standby until it wins). */
  start(callbacks: LeadershipCallbacks): void {
    if (this.running) throw new Error(`the leader elector of lease ${this.settings.leaseName} is already started`);
    this.running = true;
    this.callbacks = callbacks;
    this.metrics.set('watcher_leader', 0);
    this.logger.info({ lease: this.settings.leaseName, identity: this.identity }, 'Campaigning for leadership');
    this.scheduleAttempt(0);
  }

  /** Stops campaigning; a leader stops leading, then gives the lease up so a standby takes over without waiting for it to lapse. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.nextAttempt);
    // Before waiting for an attempt in flight, which may wait for an unresponsive API server.
    this.stopLeading('this replica is stopping');
    await this.attempt;
    await this.transitions;
    if (!this.mayHoldLease) return;
    this.mayHoldLease = false;
    try {
      await this.store.release(this.settings.leaseName, this.identity);
    } catch (error) {
      this.logger.warn({ lease: this.settings.leaseName, err: describeError(error) }, 'Giving up the leader lease failed; the standbys take over once it lapses');
    }
  }

  private scheduleAttempt(delayMs: number): void {
    this.nextAttempt = setTimeout(() => {
      this.attempt = this.tryAcquireOrRenew();
    }, delayMs);
    this.nextAttempt.unref();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { leaseName, leaseDurationMs, retryPeriodMs } = this.settings;
    const askedAt = this.clock.now();
    let held: boolean | undefined;
    try {
      held = await this.store.tryAcquire(leaseName, this.identity, leaseDurationMs);
    } catch (error) {
      this.logger.warn({ lease: leaseName, err: describeError(error) }, this.leading ? 'Renewing the leader lease failed' : 'Trying to take the leader lease failed');
    }
    if (held !== undefined) this.mayHoldLease = held;
    if (!this.running) return;
    if (held === true) {
      this.lastRenewedAt = askedAt;
      this.armRenewDeadline();
      this.startLeading();
    } else if (held === false) {
      this.stopLeading('another replica holds the leader lease');
    }
    // A failed renewal is retried until the renew deadline passes; its timer decides.
    this.scheduleAttempt(this.leading ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * JITTER_FACTOR));
  }

  private armRenewDeadline(): void {
    clearTimeout(this.renewDeadline);
    const remaining = this.lastRenewedAt + this.settings.renewDeadlineMs - this.clock.now();
    this.renewDeadline = setTimeout(() => this.stopLeading(`the leader lease was not renewed within ${this.settings.renewDeadlineMs} ms`), remaining);
    this.renewDeadline.unref();
  }

  private startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.metrics.set('watcher_leader', 1);
    this.logger.info({ lease: this.settings.leaseName, identity: this.identity }, 'Became the leader');
    this.transition('starting to lead', async (callbacks) => {
      try {
        await callbacks.onStartedLeading();
      } catch (error) {
        // Leading without doing the leader's work would leave the standbys idle too; try again as a candidate.
        this.logger.error({ lease: this.settings.leaseName, err: describeError(error) }, 'Starting to lead failed; stepping down to try again');
        this.stopLeading('starting to lead failed');
      }
    });
  }

  private stopLeading(reason: string): void {
    clearTimeout(this.renewDeadline);
    this.renewDeadline = undefined;
    if (!this.leading) return;
    this.leading = false;
    this.metrics.set('watcher_leader', 0);
    this.logger.warn({ lease: this.settings.leaseName, identity: this.identity, reason }, `Stopped leading: ${reason}`);
    this.transition('stopping to lead', (callbacks) => callbacks.onStoppedLeading());
  }

  private transition(what: string, run: (callbacks: LeadershipCallbacks) => Promise<void>): void {
    const callbacks = this.callbacks;
    if (callbacks === undefined) return;
    this.transitions = this.transitions
      .then(() => run(callbacks))
      .catch((error: unknown) => this.logger.error({ lease: this.settings.leaseName, err: describeError(error) }, `Failed while ${what}`));
  }
}

function checkedSettings(settings: LeaderElectionSettings): LeaderElectionSettings {
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = settings;
  for (const [name, value] of Object.entries({ leaseDurationMs, renewDeadlineMs, retryPeriodMs })) {
    if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`leader election: ${name} must be a positive number of milliseconds, got ${value}`);
  }
  if (leaseDurationMs <= renewDeadlineMs) {
    throw new RangeError(`leader election: the lease duration (${leaseDurationMs} ms) must be greater than the renew deadline (${renewDeadlineMs} ms)`);
  }
  if (renewDeadlineMs <= retryPeriodMs) {
    throw new RangeError(`leader election: the renew deadline (${renewDeadlineMs} ms) must be greater than the retry period (${retryPeriodMs} ms)`);
  }
  return settings;
}
