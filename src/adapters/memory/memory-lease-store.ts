import type { LeaseStore } from '../../ports/leases.js';
import { checkDuration, checkHolder, checkLeaseName, hasLapsed } from '../lease-rules.js';
import { FaultPlan } from './fault-plan.js';

export interface MemoryLeaseStoreOptions {
  /** Milliseconds since the epoch; tests pass a hand-moved clock to lapse leases without sleeping. */
  readonly now?: () => number;
  readonly faults?: FaultPlan;
}

/** A lease as the store keeps it; `renewedAt` is in the store's clock. */
export interface MemoryLease {
  readonly name: string;
  readonly holder: string;
  readonly durationMs: number;
  readonly acquiredAt: number;
  readonly renewedAt: number;
  /** How many times the lease changed hands, as Kubernetes' `leaseTransitions`. */
  readonly transitions: number;
}

/**
 * Leases in one process, shared by every replica wired to the same instance. Each call decides
 * and writes in one synchronous step after its (possibly delayed) fault check, so concurrent
 * takers are resolved as the API server's optimistic concurrency would: exactly one wins.
 *
 * Faults: `faults` is consulted with the operations `tryAcquire` and `release`.
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly faults: FaultPlan;
  private readonly now: () => number;
  private readonly leases = new Map<string, MemoryLease>();

  constructor(options: MemoryLeaseStoreOptions = {}) {
    // Read at each call, so tests' fake timers move it too.
    this.now = options.now ?? (() => Date.now());
    this.faults = options.faults ?? new FaultPlan();
  }

  async tryAcquire(name: string, holder: string, durationMs: number): Promise<boolean> {
    checkLeaseName(name);
    checkHolder(holder);
    checkDuration(durationMs);
    await this.faults.before('tryAcquire');
    const now = this.now();
    const current = this.leases.get(name);
    if (current === undefined) {
      this.leases.set(name, { name, holder, durationMs, acquiredAt: now, renewedAt: now, transitions: 0 });
      return true;
    }
    if (current.holder === holder) {
      this.leases.set(name, { ...current, durationMs, renewedAt: now });
      return true;
    }
    if (!hasLapsed(current.renewedAt, current.durationMs, now)) return false;
    this.leases.set(name, { name, holder, durationMs, acquiredAt: now, renewedAt: now, transitions: current.transitions + 1 });
    return true;
  }

  async release(name: string, holder: string): Promise<void> {
    checkLeaseName(name);
    checkHolder(holder);
    await this.faults.before('release');
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name);
  }

  // ---- inspection for tests ----

  lease(name: string): MemoryLease | undefined {
    return this.leases.get(name);
  }

  /** The holder of a lease that has not lapsed, if any. */
  validHolder(name: string): string | undefined {
    const lease = this.leases.get(name);
    return lease && !hasLapsed(lease.renewedAt, lease.durationMs, this.now()) ? lease.holder : undefined;
  }

  /** Names of every stored lease, lapsed ones included (a lapsed lease stays until taken or released). */
  get names(): readonly string[] {
    return [...this.leases.keys()];
  }
}
