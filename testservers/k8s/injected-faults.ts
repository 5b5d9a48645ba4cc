import { injectedError, type ApiError } from './api-status.js';

/**
 * Failures a test asks for: the next N requests of an operation (`create jobs`, `watch jobs`,
 * or a pattern) answer with the given Status instead of being served, e.g. a 500 or a 429 to
 * exercise client retries.
 */
export interface FaultSpec {
  readonly code: number;
  readonly reason?: string;
  readonly message?: string;
  /** How many matching requests fail (default 1). */
  readonly times?: number;
}

interface PendingFault {
  readonly matches: (operation: string) => boolean;
  readonly spec: FaultSpec;
  remaining: number;
}

const DEFAULT_REASONS: Record<number, string> = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };

export class InjectedFaults {
  private faults: PendingFault[] = [];

  add(operation: string | RegExp, spec: FaultSpec): void {
    const matches = typeof operation === 'string' ? (candidate: string) => candidate === operation : (candidate: string) => operation.test(candidate);
    this.faults.push({ matches, spec, remaining: spec.times ?? 1 });
  }

  /** The error to answer this request with, if a fault is pending for it. */
  take(operation: string): ApiError | undefined {
    const fault = this.faults.find((candidate) => candidate.remaining > 0 && candidate.matches(operation));
    if (!fault) return undefined;
    fault.remaining -= 1;
    this.faults = this.faults.filter((candidate) => candidate.remaining > 0);
    const reason = fault.spec.reason ?? DEFAULT_REASONS[fault.spec.code] ?? 'InternalError';
    return injectedError(fault.spec.code, reason, fault.spec.message ?? `injected failure of ${operation}`);
  }

  clear(): void {
    this.faults = [];
  }
}
