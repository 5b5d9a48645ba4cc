/**
 * One client-node request with a deadline: the request is aborted when it runs out, and any
 * failure leaves as a domain error naming the request. Requests share keep-alive connections.
 */
import { Observable, type ConfigurationOptions, type ObservableMiddleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { PermanentError, TransientError } from '../../domain/errors.js';
import { toDomainError } from './k8s-errors.js';
import { KeepAliveAgents } from './keep-alive-agents.js';

/** Process-wide, like Node's global agent: every cluster client of the process shares connections. */
const AGENTS = new KeepAliveAgents();

/** `operation` names the request in errors, e.g. `replace Lease lando-job-42`. */
export async function sendWithTimeout<T>(
  operation: string,
  timeoutMs: number,
  send: (options: ConfigurationOptions) => Promise<T>,
  cancel?: AbortSignal,
): Promise<T> {
  // A timer of our own, cleared when the answer comes: AbortSignal.timeout() would keep one
  // timer per request alive for the whole timeout, thousands of them under load.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const signal = cancel ? AbortSignal.any([timeout.signal, cancel]) : timeout.signal;
  try {
    return await send({ middleware: [requestMiddleware(signal)], middlewareMergeStrategy: 'append' });
  } catch (error) {
    if (timeout.signal.aborted) throw new TransientError(`${operation}: no response within ${timeoutMs} ms`);
    throw toDomainError(operation, error);
  } finally {
    clearTimeout(timer);
  }
}

/** A setting that must be a positive whole number, named after its owner (`K8sLeaseStore: requestTimeoutMs ...`). */
export function positiveInteger(owner: string, name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value > 0)) throw new PermanentError(`${owner}: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** Runs after client-node has applied the credentials, which is what builds the per-request agent. */
function requestMiddleware(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      const agent = context.getAgent();
      if (agent) context.setAgent(AGENTS.reuse(agent));
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
}
