/**
 * The HTTP endpoint Kubernetes probes and Prometheus scrapes: `/healthz` (liveness),
 * `/readyz` (readiness) and `/metrics`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';

/**
 * What a role reports about itself. It is ready when every check is true; details are shown
 * beside the checks but never decide readiness (e.g. `leader: 'standby'` is ready).
 */
export interface ReadinessReport {
  readonly checks: Readonly<Record<string, boolean>>;
  readonly details?: Readonly<Record<string, string>>;
}

/** The part of PrometheusMetrics the endpoint serves. */
export interface MetricsExposition {
  readonly contentType: string;
  metricsText(): Promise<string>;
}

export interface HealthServerOptions {
  /**
   * The port to listen on; 0 takes a free port (tests use this). The `health_port` setting's
   * 0 means "disabled", which the caller honours by not starting the server at all.
   */
  readonly port: number;
  readonly host?: string;
  readonly metrics: MetricsExposition;
  readonly readiness: () => ReadinessReport | Promise<ReadinessReport>;
  readonly logger: Logger;
}

export interface HealthServer {
  /** The port actually listened on. */
  readonly port: number;
  /** Stops listening and drops open connections; safe to call more than once. */
  close(): Promise<void>;
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { port, host = '0.0.0.0', logger } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`health server port must be a whole number from 0 to 65535, got ${port}`);

  const server = createServer((request, response) => {
    reply(request, options).then(
      (answer) => send(request, response, answer),
      (error: unknown) => {
        logger.error({ path: request.url, err: describeError(error) }, 'Health endpoint failed to answer');
        send(request, response, { status: 500, contentType: TEXT, body: 'internal error\n' });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`health server cannot listen on ${host}:${port}: ${describeError(error)}`)));
    server.listen(port, host, () => resolve());
  });
  server.on('error', (error) => logger.error({ err: describeError(error) }, 'Health server error'));

  const listening = (server.address() as AddressInfo).port;
  logger.info({ host, port: listening }, 'Health server listening: /healthz, /readyz, /metrics');

  let closed: Promise<void> | undefined;
  return {
    port: listening,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Probes and scrapers keep connections alive; without this close() waits for them to go idle.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function reply(request: IncomingMessage, options: HealthServerOptions): Promise<Reply> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return { status: 405, contentType: TEXT, body: 'method not allowed\n', headers: { allow: 'GET, HEAD' } };
  }
  switch (new URL(request.url ?? '/', 'http://health').pathname) {
    case '/healthz':
      // Answering at all shows the event loop is running, which is all liveness asks.
      return { status: 200, contentType: TEXT, body: 'ok\n' };
    case '/readyz':
      return readinessReply(await options.readiness());
    case '/metrics':
      return { status: 200, contentType: options.metrics.contentType, body: await options.metrics.metricsText() };
    default:
      return { status: 404, contentType: TEXT, body: 'not found\n' };
  }
}

function readinessReply(report: ReadinessReport): Reply {
  const details = report.details ?? {};
  const clash = Object.keys(details).find((key) => Object.hasOwn(report.checks, key));
  if (clash !== undefined) throw new Error(`readiness report names ${JSON.stringify(clash)} both as a check and as a detail`);
  const ready = Object.values(report.checks).every(Boolean);
  return { status: ready ? 200 : 503, contentType: JSON_TYPE, body: `${JSON.stringify({ ...report.checks, ...details })}\n` };
}

function send(request: IncomingMessage, response: ServerResponse, answer: Reply): void {
  response.writeHead(answer.status, {
    ...answer.headers,
    'content-type': answer.contentType,
    'content-length': Buffer.byteLength(answer.body),
    'cache-control': 'no-store',
  });
  response.end(request.method === 'HEAD' ? undefined : answer.body);
}
