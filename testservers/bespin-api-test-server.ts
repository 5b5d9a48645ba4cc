import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BespinAdminRecords, type JsonObject, type JsonOverrides } from '../src/adapters/memory/bespin-admin-records.js';

/**
 * A stand-in for bespin-api over real HTTP, for contract tests of the HTTP adapter and for
 * running lando locally. It answers the admin endpoints lando calls (bespin-api.md §2) from the
 * same record store as the in-memory adapter, and adds what only HTTP has: Django REST
 * Framework's token authentication, Django's APPEND_SLASH redirect, and injected outages.
 */

export interface BespinApiTestServerOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** The only token accepted in `Authorization: Token <token>`. */
  readonly token: string;
  /** Where the v2 API is mounted, as `^api/v2/` in bespin's urls.py. */
  readonly pathPrefix?: string;
  /** Serve the fixtures of test/fixtures (jobs 42 and 51 and what they refer to). Default true. */
  readonly seedFixtures?: boolean;
  readonly records?: BespinAdminRecords;
  /** Told about every answered request, e.g. to print it. */
  readonly onRequest?: (request: RecordedHttpRequest) => void;
}

export interface RecordedHttpRequest {
  readonly method: string;
  /** As received: prefix, path and query. */
  readonly path: string;
  /** Lower-case names; `authorization` is replaced by a description so the token is never stored. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly status: number;
}

/** What `headers.authorization` holds in the calls list for a request that carried the right token. */
export const VALID_AUTHORIZATION = 'Token <the configured token>';
const OTHER_AUTHORIZATION = '<other credentials>';

const FIXTURES_DIR = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

/** Loads the bespin-api fixtures into a record store: jobs 42 and 51 with their groups and documents. */
export function seedBespinFixtures(records: BespinAdminRecords): void {
  const load = (name: string): JsonObject => JSON.parse(readFileSync(`${FIXTURES_DIR}${name}`, 'utf8')) as JsonObject;
  records.addJob(load('bespin-job.json'));
  records.addJob(load('bespin-job-packed.json'));
  records.addStageGroup(load('job-file-stage-group.json'));
  records.addStageGroup(load('job-file-stage-group-packed.json'));
  records.addShareGroup(load('share-group.json'));
  records.addMethodsDocument(load('workflow-methods-document.json'));
}

interface PendingFault {
  remaining: number;
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
}

interface Reply {
  readonly status: number;
  /** JSON bodies are objects; HTML pages and proxy text are strings. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export class BespinApiTestServer {
  /** Delay before every answer, e.g. longer than a client's timeout. */
  delayMs = 0;
  private readonly recorded: RecordedHttpRequest[] = [];
  private readonly faults: PendingFault[] = [];
  private readonly closing = new AbortController();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly records: BespinAdminRecords,
    private readonly token: string,
    private readonly pathPrefix: string,
    private readonly onRequest: ((request: RecordedHttpRequest) => void) | undefined,
  ) {}

  static async start(options: BespinApiTestServerOptions): Promise<BespinApiTestServer> {
    const records = options.records ?? new BespinAdminRecords();
    if (options.seedFixtures ?? true) seedBespinFixtures(records);
    const host = options.host ?? '127.0.0.1';
    const pathPrefix = (options.pathPrefix ?? '/api/v2').replace(/\/+$/, '');
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const testServer = new BespinApiTestServer(server, `http://${host}:${port}${pathPrefix}`, records, options.token, pathPrefix, options.onRequest);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      // A client that hangs up mid-body is its own problem; the server keeps serving others.
      testServer.serve(request, response).catch(() => response.destroy());
    });
    return testServer;
  }

  get calls(): readonly RecordedHttpRequest[] {
    return [...this.recorded];
  }

  clearCalls(): void {
    this.recorded.length = 0;
  }

  /** Answer the next `count` requests with `status` before they reach bespin (a proxy or a restart). */
  failNext(count: number, status = 503, options: { retryAfterSeconds?: number } = {}): void {
    this.faults.push({ remaining: count, status, retryAfterSeconds: options.retryAfterSeconds });
  }

  addJob(json: JsonObject, id?: number): void {
    this.records.addJob(json, id);
  }

  generateJob(id: number, overrides?: JsonOverrides): JsonObject {
    return this.records.generateJob(id, overrides);
  }

  async close(): Promise<void> {
    this.closing.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    if (this.delayMs > 0) {
      try {
        await sleep(this.delayMs, undefined, { signal: this.closing.signal });
      } catch {
        return; // closed while waiting: the connection is gone
      }
    }
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const reply = this.reply(method, path, request.headers, body);
    if (!response.destroyed) send(response, reply);
    const call: RecordedHttpRequest = { method, path, headers: this.sanitise(request.headers), body, status: reply.status };
    this.recorded.push(call);
    this.onRequest?.(call);
  }

  private reply(method: string, fullPath: string, headers: IncomingMessage['headers'], body: string): Reply {
    const fault = this.faults.find((candidate) => candidate.remaining > 0);
    if (fault) {
      fault.remaining -= 1;
      return injectedFailure(fault);
    }
    const queryAt = fullPath.indexOf('?');
    const path = queryAt === -1 ? fullPath : fullPath.slice(0, queryAt);
    if (!path.startsWith(`${this.pathPrefix}/`)) return DJANGO_NOT_FOUND;
    const apiPath = path.slice(this.pathPrefix.length);
    if (!this.records.hasRoute(apiPath)) return this.appendSlash(method, fullPath, path, apiPath);

    const refusal = this.authenticate(headers.authorization) ?? unsupportedMediaType(headers['content-type'], body);
    if (refusal) return refusal;
    const { status, body: replyBody } = this.records.handle({ method, path: apiPath, body });
    return { status, body: replyBody };
  }

  /** Django's CommonMiddleware: runs before any view, so before authentication. */
  private appendSlash(method: string, fullPath: string, path: string, apiPath: string): Reply {
    if (apiPath.endsWith('/') || !this.records.hasRoute(`${apiPath}/`)) return DJANGO_NOT_FOUND;
    if (method === 'GET' || method === 'HEAD') {
      return { status: 301, headers: { Location: `${path}/${fullPath.slice(path.length)}` } };
    }
    return {
      status: 500,
      body:
        `RuntimeError: You called this URL via ${method}, but the URL doesn't end in a slash and you have ` +
        `APPEND_SLASH set. Django can't redirect to the slash URL while maintaining ${method} data. Change your ` +
        `form to point to ${path}/ (note the trailing slash), or set APPEND_SLASH=False in your Django settings.`,
    };
  }

  /** DRF's TokenAuthentication, with its messages. */
  private authenticate(authorization: string | undefined): Reply | undefined {
    const words = (authorization ?? '').split(' ').filter((word) => word !== '');
    const refuse = (detail: string): Reply => ({ status: 401, body: { detail }, headers: { 'WWW-Authenticate': 'Token' } });
    if (words.length === 0 || words[0]?.toLowerCase() !== 'token') {
      return refuse('Authentication credentials were not provided.');
    }
    if (words.length === 1) return refuse('Invalid token header. No credentials provided.');
    if (words.length > 2) return refuse('Invalid token header. Token string should not contain spaces.');
    return words[1] === this.token ? undefined : refuse('Invalid token.');
  }

  private sanitise(headers: IncomingMessage['headers']): Record<string, string> {
    const sanitised: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      sanitised[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    if (sanitised.authorization !== undefined) {
      sanitised.authorization = sanitised.authorization === `Token ${this.token}` ? VALID_AUTHORIZATION : OTHER_AUTHORIZATION;
    }
    return sanitised;
  }
}

export function startBespinApiTestServer(options: BespinApiTestServerOptions): Promise<BespinApiTestServer> {
  return BespinApiTestServer.start(options);
}

const DJANGO_NOT_FOUND: Reply = {
  status: 404,
  body: '<h1>Not Found</h1><p>The requested resource was not found on this server.</p>',
};

function injectedFailure(fault: PendingFault): Reply {
  const headers = fault.retryAfterSeconds === undefined ? undefined : { 'Retry-After': String(fault.retryAfterSeconds) };
  if (fault.status === 429) {
    const wait = fault.retryAfterSeconds ?? 1;
    return { status: 429, body: { detail: `Request was throttled. Expected available in ${wait} seconds.` }, headers };
  }
  return { status: fault.status, body: `<h1>${fault.status} injected failure</h1>`, headers };
}

/** DRF's JSONParser is the only parser bespin enables for these views. */
function unsupportedMediaType(contentType: string | undefined, body: string): Reply | undefined {
  if (body === '' || contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json') return undefined;
  return { status: 415, body: { detail: `Unsupported media type "${contentType ?? ''}" in request.` } };
}

function send(response: ServerResponse, reply: Reply): void {
  const { body } = reply;
  // DRF's JSONRenderer writes compact JSON with non-ASCII as is, which is what JSON.stringify does.
  const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  const contentType = typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json';
  response.writeHead(reply.status, {
    ...(body === undefined ? {} : { 'Content-Type': contentType }),
    ...reply.headers,
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
