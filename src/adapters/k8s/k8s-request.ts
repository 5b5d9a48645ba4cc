/**
 * One request to the Kubernetes API with a deadline, through client-node's generated methods
 * (sendWithTimeout) or, for a list page, read as it arrives (listWithTimeout): the request is
 * aborted when the deadline runs out, and any failure leaves as a domain error naming the
 * request. Requests share keep-alive connections.
 */
import type { IncomingMessage } from 'node:http';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  ApiException,
  HttpMethod,
  Observable,
  RequestContext,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type ResponseContext,
} from '@kubernetes/client-node';
import { PermanentError, TransientError } from '../../domain/errors.js';
import { ListReader, type ApiList } from './json-list.js';
import { toDomainError } from './k8s-errors.js';
import { KeepAliveAgents } from './keep-alive-agents.js';

/** Process-wide, like Node's global agent: every cluster client of the process shares connections. */
const AGENTS = new KeepAliveAgents();

/** `operation` names the request in errors, e.g. `replace Lease lando-job-42`. */
export function sendWithTimeout<T>(
  operation: string,
  timeoutMs: number,
  send: (options: ConfigurationOptions) => Promise<T>,
  cancel?: AbortSignal,
): Promise<T> {
  return withDeadline(operation, timeoutMs, cancel, (signal) => send({ middleware: [requestMiddleware(signal)], middlewareMergeStrategy: 'append' }));
}

/** Where a list is read from, and what each of its items is read into. */
export interface ListRequest<T> {
  readonly kubeConfig: KubeConfig;
  /** From the server's root, e.g. `/api/v1/namespaces/lando/pods`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | number | undefined>>;
  readonly read: (item: unknown) => T;
}

/**
 * A page of a list, with the deadline and the errors of sendWithTimeout, its items read one by
 * one as the answer arrives (json-list.ts). client-node's generated methods read the whole
 * answer into one buffer and then turn every object into instances of its model classes, with
 * Dates for timestamps: for a page of 500 Jobs that was most of the CPU the request cost, and
 * garbage several times the size of the page. The request is the one they send (URL and query,
 * Accept header, the KubeConfig's credentials and agent), asking for a compressed answer as
 * node-fetch does, and it fails as theirs do, with an ApiException. `read` gets each item as JSON.parse makes
 * it: timestamps are text, names keep their wire spelling.
 */
export function listWithTimeout<T>(operation: string, timeoutMs: number, request: ListRequest<T>, cancel?: AbortSignal): Promise<ApiList<T>> {
  return withDeadline(operation, timeoutMs, cancel, (signal) => getList(request, signal));
}

async function withDeadline<T>(operation: string, timeoutMs: number, cancel: AbortSignal | undefined, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // A timer of our own, cleared when the answer comes: AbortSignal.timeout() would keep one
  // timer per request alive for the whole timeout, thousands of them under load.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const signal = cancel ? AbortSignal.any([timeout.signal, cancel]) : timeout.signal;
  try {
    return await send(signal);
  } catch (error) {
    if (timeout.signal.aborted) throw new TransientError(`${operation}: no response within ${timeoutMs} ms`);
    throw toDomainError(operation, error);
  } finally {
    clearTimeout(timer);
  }
}

async function getList<T>({ kubeConfig, path, query, read }: ListRequest<T>, signal: AbortSignal): Promise<ApiList<T>> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new PermanentError('the Kubernetes configuration names no current cluster');
  const request = new RequestContext(`${cluster.server}${path}`, HttpMethod.GET);
  request.setHeaderParam('Accept', 'application/json, */*;q=0.8');
  // API servers compress large lists when asked: a page of 500 Jobs shrinks about tenfold.
  request.setHeaderParam('Accept-Encoding', 'gzip');
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) request.setQueryParam(name, String(value));
  }
  await kubeConfig.applySecurityAuthentication(request);
  const response = await get(prepare(request, signal));
  const body = response.headers['content-encoding'] === 'gzip' ? pipeline(response, createGunzip(), () => undefined) : response;
  const status = response.statusCode ?? 0;
  // The generated methods' own answers: 401 without its body, any other non-2xx with it.
  if (status === 401) {
    response.destroy();
    throw new ApiException(status, 'Unauthorized', undefined, headersOf(response));
  }
  if (status < 200 || status > 299) throw new ApiException(status, 'Unknown API Status Code!', await text(body), headersOf(response));
  const reader = new ListReader(read);
  for await (const chunk of body) reader.push(chunk as Buffer);
  return reader.end();
}

/** Sends a GET as the request context describes it; resolves once the answer's headers came. */
function get(request: RequestContext): Promise<IncomingMessage> {
  const url = new URL(request.getUrl());
  const send = url.protocol === 'https:' ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    send(url, { headers: request.getHeaders(), agent: request.getAgent(), signal: request.getSignal() }, resolve).on('error', reject);
  });
}

/** As node-fetch hands them to client-node: one string per header. */
function headersOf(response: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function text(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A setting that must be a positive whole number, named after its owner (`K8sLeaseStore: requestTimeoutMs ...`). */
export function positiveInteger(owner: string, name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value > 0)) throw new PermanentError(`${owner}: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** Runs after client-node has applied the credentials, which is what builds the per-request agent. */
function requestMiddleware(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (context: RequestContext) => new Observable(Promise.resolve(prepare(context, signal))),
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
}

/** The deadline's signal, and the shared keep-alive agent in place of the per-request one. */
function prepare(context: RequestContext, signal: AbortSignal): RequestContext {
  context.setSignal(signal);
  const agent = context.getAgent();
  if (agent) context.setAgent(AGENTS.reuse(agent));
  return context;
}
