/**
 * What every LeaseStore adapter agrees on: which arguments are acceptable and when a lease has
 * lapsed, so the in-memory and Kubernetes stores cannot drift apart.
 */
import { PermanentError } from '../domain/errors.js';

/** Kubernetes object names (DNS subdomains) are at most this long. */
const MAX_LEASE_NAME = 253;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkLeaseName(name: string): void {
  if (name.length > MAX_LEASE_NAME || !DNS_SUBDOMAIN.test(name)) {
    throw new PermanentError(
      `lease name ${JSON.stringify(name)} is not a valid Kubernetes name: dot-separated parts of lowercase letters, digits and '-', each starting and ending with a letter or digit, at most ${MAX_LEASE_NAME} characters`,
    );
  }
}

export function checkHolder(holder: string): void {
  if (holder.trim() === '') throw new PermanentError('lease holder identity must not be empty');
}

export function checkDuration(durationMs: number): void {
  if (!(Number.isFinite(durationMs) && durationMs > 0)) {
    throw new PermanentError(`lease duration must be a positive number of milliseconds, got ${durationMs}`);
  }
}

/** A lease renewed at `renewedAt` (ms since the epoch) for `durationMs` no longer protects its holder at `now`. */
export function hasLapsed(renewedAt: number, durationMs: number, now: number): boolean {
  return renewedAt + durationMs <= now;
}
