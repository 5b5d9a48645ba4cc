/**
 * Kubernetes Leases (coordination.k8s.io/v1) as the coordination engine between replicas: a
 * lease names its holder and lapses `durationMs` after its last renewal, so a dead replica's
 * hold expires by itself. No store of our own.
 */
export interface LeaseStore {
  /**
   * Takes the lease for `holder` when it is free, lapsed or already held by `holder` (which
   * renews it); returns false, without waiting, when another holder's lease is still valid.
   * Concurrent takers are resolved by the API server's optimistic concurrency: one wins.
   */
  tryAcquire(name: string, holder: string, durationMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` holds it (deletes it); a lease held by another is left alone. */
  release(name: string, holder: string): Promise<void>;
}

export const LEASE_STORE = Symbol.for('lando-k8s.LeaseStore');
