/**
 * client-node's failures as domain errors. The API server explains a refusal in a Status body
 * (reason and message); client-node hands it over in several shapes (ApiException with the body
 * as text or undefined, a watch Error with `statusCode`, node-fetch network errors). This file
 * reads them all, so no SDK error object leaves the adapter and every message names the
 * request, e.g. `create Job stage-data-42-jdoe12: 422 Invalid: Job.batch "…" is invalid: …`.
 */
import { ApiException } from '@kubernetes/client-node';
import {
  AlreadyExistsError,
  ConflictError,
  DomainError,
  NotFoundError,
  PermanentError,
  TransientError,
} from '../../domain/errors.js';

/** What the API server (or the network) said, without the SDK object. */
export interface ApiFailure {
  /** HTTP status; undefined when no response arrived. */
  readonly status?: number;
  /** The Status `reason` (`AlreadyExists`, `Invalid`, ...) or a network error code. */
  readonly reason?: string;
  readonly message: string;
}

/** Certificate problems are configuration errors: retrying cannot mend them. */
const TLS_ERROR_CODE = /CERT|SELF_SIGNED|ERR_TLS|ERR_SSL/;

/** `410 Gone`: the resourceVersion a watch or a continued list started from is too old. */
export const HTTP_GONE = 410;

/** Reads any error client-node produces. */
export function apiFailure(error: unknown): ApiFailure {
  if (error instanceof ApiException) {
    const status = statusBody(error.body);
    return { status: error.code, reason: status?.reason ?? httpReason(error.code), message: status?.message ?? '' };
  }
  if (error instanceof Error) {
    const statusCode = numberField(error, 'statusCode');
    if (statusCode !== undefined) return { status: statusCode, reason: httpReason(statusCode), message: error.message };
    if (error.name === 'AbortError') return { reason: 'Aborted', message: 'the request was aborted' };
    const code = stringField(error, 'code');
    return code === undefined ? { message: error.message } : { reason: code, message: error.message };
  }
  return { message: String(error) };
}

/** The failure a watch ERROR event carries in its Status object. */
export function watchErrorFailure(object: unknown): ApiFailure {
  const status = statusBody(object);
  const code = isRecord(object) ? numberField(object, 'code') : undefined;
  return { status: code, reason: status?.reason, message: status?.message ?? JSON.stringify(object) };
}

/**
 * The domain error for a failed request. `operation` names it: verb, kind and name, e.g.
 * `delete Job stage-data-42-jdoe12`.
 */
export function toDomainError(operation: string, error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  return domainErrorFor(operation, apiFailure(error));
}

function domainErrorFor(operation: string, failure: ApiFailure): DomainError {
  const text = `${operation}: ${describeFailure(failure)}`;
  const { status, reason } = failure;
  if (status === undefined) {
    if (reason !== undefined && TLS_ERROR_CODE.test(reason)) return new PermanentError(text);
    // No response: the network, DNS, a reset connection or a timeout.
    return new TransientError(text);
  }
  if (status === 404) return new NotFoundError(text);
  if (status === 409) return reason === 'AlreadyExists' ? new AlreadyExistsError(text) : new ConflictError(text);
  if (status === 408 || status === 429 || status === HTTP_GONE || status >= 500) return new TransientError(text);
  return new PermanentError(text);
}

/** `422 Invalid: <message>`, `503 ServiceUnavailable`, `ECONNREFUSED: <message>`. */
export function describeFailure(failure: ApiFailure): string {
  const head = [failure.status, failure.reason].filter((part) => part !== undefined && part !== '').join(' ');
  if (head === '') return failure.message;
  return failure.message === '' || failure.message === failure.reason ? head : `${head}: ${failure.message}`;
}

interface StatusFields {
  readonly reason?: string;
  readonly message?: string;
}

/** The Status in a body that may be parsed JSON, JSON text, or something else entirely. */
function statusBody(body: unknown): StatusFields | undefined {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.trim() === '' ? undefined : { message: body.trim() };
    }
  }
  if (!isRecord(value)) return undefined;
  return { reason: stringField(value, 'reason'), message: stringField(value, 'message') };
}

/** Reason phrases for statuses the server sent without a Status body (e.g. 401 from a proxy). */
function httpReason(status: number): string | undefined {
  const phrases: Readonly<Record<number, string>> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    410: 'Gone',
    422: 'Invalid',
    429: 'TooManyRequests',
    500: 'InternalError',
    502: 'BadGateway',
    503: 'ServiceUnavailable',
    504: 'GatewayTimeout',
  };
  return phrases[status];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function stringField(value: object, field: string): string | undefined {
  const found: unknown = (value as Record<string, unknown>)[field];
  return typeof found === 'string' ? found : undefined;
}

function numberField(value: object, field: string): number | undefined {
  const found: unknown = (value as Record<string, unknown>)[field];
  return typeof found === 'number' ? found : undefined;
}
