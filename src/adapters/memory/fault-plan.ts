import { PermanentError, TransientError } from '../../domain/errors.js';

export type FaultKind = 'transient' | 'permanent';

interface PendingFault {
  remaining: number;
  kind: FaultKind;
  matches: (operation: string) => boolean;
  error?: Error;
}

/**
 * Fault injection shared by the in-memory adapters: fail the next N calls (optionally only
 * those whose operation name matches), or delay every call. Each adapter names its operations
 * (`getJob`, `create:Job`, `send`, ...) and calls `before(operation)` at the top of each call.
 */
export class FaultPlan {
  private readonly faults: PendingFault[] = [];
  private delayMs = 0;

  failNext(count: number, kind: FaultKind, operation?: string | RegExp | ((operation: string) => boolean)): this {
    this.faults.push({ remaining: count, kind, matches: toMatcher(operation) });
    return this;
  }

  /** Fail the next N matching calls with exactly this error. */
  failNextWith(count: number, error: Error, operation?: string | RegExp | ((operation: string) => boolean)): this {
    this.faults.push({ remaining: count, kind: 'permanent', matches: toMatcher(operation), error });
    return this;
  }

  delayEachCall(ms: number): this {
    this.delayMs = ms;
    return this;
  }

  clear(): void {
    this.faults.length = 0;
    this.delayMs = 0;
  }

  async before(operation: string): Promise<void> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const fault = this.faults.find((candidate) => candidate.remaining > 0 && candidate.matches(operation));
    if (!fault) return;
    fault.remaining -= 1;
    if (fault.error) throw fault.error;
    const message = `injected ${fault.kind} fault in ${operation}`;
    throw fault.kind === 'transient' ? new TransientError(message) : new PermanentError(message);
  }
}

function toMatcher(operation?: string | RegExp | ((operation: string) => boolean)): (operation: string) => boolean {
  if (operation === undefined) return () => true;
  if (typeof operation === 'string') return (candidate) => candidate === operation;
  if (operation instanceof RegExp) return (candidate) => operation.test(candidate);
  return operation;
}
