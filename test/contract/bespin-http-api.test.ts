import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BespinHttpApi, type BespinHttpApiOptions } from '../../src/adapters/bespin/bespin-http-api.js';
import { InvalidJobError, NotFoundError, PermanentError, TransientError } from '../../src/domain/errors.js';
import type { Logger } from '../../src/ports/logger.js';
import {
  startBespinApiTestServer,
  VALID_AUTHORIZATION,
  type BespinApiTestServer,
} from '../../testservers/bespin-api-test-server.js';
import { bespinApiContract, rejection, replayTranscriptCall, transcriptBespinCalls } from './bespin-api.contract.js';

const TOKEN = 'c0ffee-secret-token-9f2b41';

function fastRetries(baseUrl: string, overrides: Partial<BespinHttpApiOptions> = {}): BespinHttpApiOptions {
  return { baseUrl, token: TOKEN, retryBaseDelayMs: 1, maxRetryDelayMs: 20, timeoutMs: 2000, ...overrides };
}

function relativePath(server: BespinApiTestServer, path: string): string {
  return path.slice(new URL(server.url).pathname.length);
}

bespinApiContract('BespinHttpApi against the bespin-api test server', async () => {
  const server = await startBespinApiTestServer({ token: TOKEN });
  const api = new BespinHttpApi(fastRetries(server.url));
  return {
    api,
    records: server.records,
    received: () =>
      server.calls.map(({ method, path, body }) =>
        body === '' ? { method, path: relativePath(server, path) } : { method, path: relativePath(server, path), body },
      ),
    close: () => server.close(),
  };
});

/** A logger that keeps every line, to check what reaches the logs. */
function capturingLogger(lines: { level: string; fields: Record<string, unknown>; message: string }[]): Logger {
  const logger: Logger = {
    child: () => logger,
    debug: (fields, message) => lines.push({ level: 'debug', fields, message }),
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
  return logger;
}

/** A bare HTTP server giving one fixed answer, for replies the bespin test server never gives. */
async function startFixedReplyServer(status: number, headers: Record<string, string>, body: string): Promise<{ url: string; server: Server; hits: () => number }> {
  let hits = 0;
  const server = createServer((_request, response) => {
    hits += 1;
    response.writeHead(status, headers);
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/v2`, server, hits: () => hits };
}

async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

describe('BespinHttpApi over HTTP', () => {
  let server: BespinApiTestServer;
  const extraServers: Server[] = [];

  beforeEach(async () => {
    server = await startBespinApiTestServer({ token: TOKEN });
  });

  afterEach(async () => {
    await server.close();
    await Promise.all(extraServers.splice(0).map(closeServer));
  });

  describe('requests', () => {
    it('sends the transcripts calls with the token, JSON content type, slash paths and exact body bytes', async () => {
      const api = new BespinHttpApi(fastRetries(server.url));
      const calls = transcriptBespinCalls().filter(({ transcript }) => transcript === 'happy-path-zipped.json');
      for (const { event } of calls) await replayTranscriptCall(api, event);

      const received = server.calls;
      expect(received).to.have.length(calls.length);
      calls.forEach(({ event }, index) => {
        const call = received[index];
        expect(call?.method).to.equal(event.method);
        expect(call?.path).to.equal(`/api/v2${event.path.replace(/\/?$/, '/')}`);
        expect(call?.body).to.equal(event.body_bytes ?? '');
        expect(call?.headers.authorization).to.equal(VALID_AUTHORIZATION);
        expect(call?.headers['content-type']).to.equal('application/json');
        expect(call?.status).to.be.within(200, 201);
      });
      expect(api.requestCount).to.equal(calls.length);
    });

    it('ignores a trailing slash in the configured URL', async () => {
      const api = new BespinHttpApi(fastRetries(`${server.url}/`));
      await api.getJob('42');
      expect(server.calls.map((call) => call.path)).to.deep.equal(['/api/v2/admin/jobs/42/']);
    });

    it('encodes a payload job id so it stays one path segment', async () => {
      const api = new BespinHttpApi(fastRetries(server.url));
      const error = await rejection(api.getJob('42/../../share-groups/1'));
      expect(error).to.be.instanceOf(NotFoundError);
      expect(server.calls.map((call) => call.path)).to.deep.equal(['/api/v2/admin/jobs/42%2F..%2F..%2Fshare-groups%2F1/']);
    });

    it('follows no redirect and says where it pointed', async () => {
      const redirecting = await startFixedReplyServer(301, { Location: `${server.url}/admin/jobs/42/` }, '');
      extraServers.push(redirecting.server);
      const api = new BespinHttpApi(fastRetries(redirecting.url));
      const error = await rejection(api.getJob('42'));
      expect(error).to.be.instanceOf(PermanentError);
      expect(error.message).to.include('301').and.include(`redirecting to ${server.url}/admin/jobs/42/`);
      expect(redirecting.hits()).to.equal(1);
      expect(server.calls).to.deep.equal([]);
    });
  });

  describe('retries', () => {
    it('succeeds after two 503 replies', async () => {
      const api = new BespinHttpApi(fastRetries(server.url));
      server.failNext(2, 503);
      expect((await api.getJob('42')).id).to.equal(42);
      expect(server.calls.map((call) => call.status)).to.deep.equal([503, 503, 200]);
      expect(api.requestCount).to.equal(3);
    });

    it('retries an idempotent PUT after 502 and 504', async () => {
      const api = new BespinHttpApi(fastRetries(server.url));
      server.failNext(1, 502);
      server.failNext(1, 504);
      await api.setJobState('42', 'R');
      expect(server.calls.map((call) => call.status)).to.deep.equal([502, 504, 200]);
      expect(server.records.job(42)).to.include({ state: 'R' });
    });

    it('gives up with TransientError when bespin stays unavailable', async () => {
      const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
      const api = new BespinHttpApi(fastRetries(server.url, { retries: 3, logger: capturingLogger(lines) }));
      server.failNext(100, 503);
      const error = await rejection(api.getJob('42'));
      expect(error).to.be.instanceOf(TransientError);
      expect(error.message).to.include('503').and.include('after 4 attempts');
      expect(server.calls).to.have.length(4);
      expect(lines.filter((line) => line.level === 'warn').map((line) => line.fields.retry)).to.deep.equal([1, 2, 3]);
    });

    it('waits as long as Retry-After asks before repeating a throttled request', async () => {
      const api = new BespinHttpApi(fastRetries(server.url, { maxRetryDelayMs: 5000 }));
      server.failNext(1, 429, { retryAfterSeconds: 1 });
      const started = Date.now();
      await api.getJob('42');
      // A lower bound only: the wait is what Retry-After demands, however slow the machine is.
      expect(Date.now() - started).to.be.at.least(950);
      expect(server.calls.map((call) => call.status)).to.deep.equal([429, 200]);
    });

    it('does not wait when Retry-After asks for longer than the longest retry delay', async () => {
      const api = new BespinHttpApi(fastRetries(server.url, { maxRetryDelayMs: 50 }));
      server.failNext(1, 429, { retryAfterSeconds: 120 });
      const error = await rejection(api.getJob('42'));
      expect(error).to.be.instanceOf(TransientError);
      expect(error.message).to.include('429').and.include('Request was throttled');
      expect(server.calls).to.have.length(1);
    });

    it('repeats a POST only when bespin surely did not process it', async () => {
      const api = new BespinHttpApi(fastRetries(server.url));
      const jobError = { job: '42', jobStep: 'S', content: 'Unable to read logs.' };
      server.failNext(1, 503);
      await api.recordJobError(jobError);
      expect(server.records.jobErrors).to.have.length(1);

      server.clearCalls();
      server.failNext(1, 502);
      const error = await rejection(api.recordJobError(jobError));
      expect(error).to.be.instanceOf(TransientError);
      expect(server.calls.map((call) => call.status)).to.deep.equal([502]);
    });

    it('turns a request timeout into TransientError after retrying', async () => {
      const api = new BespinHttpApi(fastRetries(server.url, { timeoutMs: 50, retries: 1 }));
      server.delayMs = 1000;
      const error = await rejection(api.getJob('42'));
      expect(error).to.be.instanceOf(TransientError);
      expect(error.message).to.include('timeout').and.include('ETIMEDOUT').and.include('after 2 attempts');
      expect(api.requestCount).to.equal(2);
    });

    it('turns a refused connection into TransientError after retrying', async () => {
      const stopped = await startBespinApiTestServer({ token: TOKEN, seedFixtures: false });
      const url = stopped.url;
      await stopped.close();
      const api = new BespinHttpApi(fastRetries(url, { retries: 2 }));
      const error = await rejection(api.getJob('42'));
      expect(error).to.be.instanceOf(TransientError);
      expect(error.message).to.include('ECONNREFUSED').and.include('after 3 attempts');
      expect(api.requestCount).to.equal(3);
    });
  });

  describe('refusals', () => {
    it('does not retry a 400 and reports bespin field errors', async () => {
      const api = new BespinHttpApi(fastRetries(server.url));
      const error = await rejection(api.recordJobError({ job: '42', jobStep: '', content: 'Canceled' }));
      expect(error).to.be.instanceOf(PermanentError);
      expect(error.message).to.equal('bespin-api POST /admin/job-errors/ answered 400: job_step: This field may not be blank.');
      expect(server.calls).to.have.length(1);
    });

    it('reports a wrong token with bespin detail message and does not retry it', async () => {
      const api = new BespinHttpApi(fastRetries(server.url, { token: 'not-the-token' }));
      const error = await rejection(api.getJob('42'));
      expect(error).to.be.instanceOf(PermanentError);
      expect(error.message).to.equal('bespin-api GET /admin/jobs/42/ answered 401: Invalid token.');
      expect(server.calls).to.have.length(1);
    });

    it('reports a reply that is not JSON as PermanentError', async () => {
      const proxy = await startFixedReplyServer(200, { 'Content-Type': 'text/html' }, '<html><body>Please log in</body></html>');
      extraServers.push(proxy.server);
      const error = await rejection(new BespinHttpApi(fastRetries(proxy.url)).getJob('42'));
      expect(error).to.be.instanceOf(PermanentError);
      expect(error).not.to.be.instanceOf(InvalidJobError);
      expect(error.message).to.include('not JSON').and.include('Please log in');
    });

    it('refuses a configuration that cannot work', () => {
      expect(() => new BespinHttpApi({ baseUrl: 'bespin.example.org/api/v2', token: TOKEN })).to.throw(PermanentError, 'not a URL');
      expect(() => new BespinHttpApi({ baseUrl: 'ftp://bespin.example.org/api/v2', token: TOKEN })).to.throw(PermanentError, 'http or https');
      expect(() => new BespinHttpApi({ baseUrl: 'https://u:p@bespin.example.org/api/v2', token: TOKEN })).to.throw(PermanentError, 'credentials');
      expect(() => new BespinHttpApi({ baseUrl: server.url, token: ' ' })).to.throw(PermanentError, 'token');
    });
  });

  describe('the token', () => {
    it('appears in no error message, stack or log field, even when a reply echoes it', async () => {
      const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
      const logger = capturingLogger(lines);
      const echoing = await startFixedReplyServer(400, { 'Content-Type': 'application/json' }, JSON.stringify({ detail: `bad header Token ${TOKEN}` }));
      extraServers.push(echoing.server);
      const stopped = await startBespinApiTestServer({ token: TOKEN, seedFixtures: false });
      await stopped.close();
      const api = (url: string, overrides: Partial<BespinHttpApiOptions> = {}): BespinHttpApi =>
        new BespinHttpApi(fastRetries(url, { retries: 1, logger, ...overrides }));

      const errors = [await rejection(api(server.url).getJob('999'))];
      server.failNext(2, 503);
      errors.push(
        await rejection(api(server.url).getJob('42')),
        await rejection(api(stopped.url).getJob('42')),
        await rejection(api(echoing.url).getJob('42')),
        await rejection(api(server.url).recordJobError({ job: '42', jobStep: '', content: 'x' })),
      );
      server.delayMs = 500;
      errors.push(await rejection(api(server.url, { timeoutMs: 20 }).getJob('42')));

      expect(errors.map((error) => error.constructor)).to.deep.equal([
        NotFoundError,
        TransientError,
        TransientError,
        PermanentError,
        PermanentError,
        TransientError,
      ]);
      expect(errors[3]?.message).to.include('bad header Token [redacted]');
      for (const error of errors) {
        expect(`${error.message}\n${error.stack ?? ''}\n${JSON.stringify(error)}`).not.to.include(TOKEN);
        expect(error.cause).to.equal(undefined);
      }
      expect(lines.length).to.be.greaterThan(0);
      expect(JSON.stringify(lines)).not.to.include(TOKEN);
    });
  });
});
