import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * This process as a lease holder: the host (the pod name in a cluster) and pid say which
 * replica holds a lease; the random part keeps a restarted process with the same pid from
 * mistaking its predecessor's leases for its own.
 */
export function replicaIdentity(): string {
  return `${hostname()}_${process.pid}_${randomBytes(4).toString('hex')}`;
}
