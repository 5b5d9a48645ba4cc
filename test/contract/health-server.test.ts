import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { expect } from 'chai';
import { PrometheusMetrics } from '../../src/adapters/prometheus/prometheus-metrics.js';
import { startHealthServer, type HealthServer, type ReadinessReport } from '../../src/composition/health-server.js';
import { MemoryLogger } from '../support/memory-logger.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function call(port: number, method: string, path: string, agent?: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method, path, ...(agent === undefined ? {} : { agent }) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Whether something can listen on the port now: it can only once the server let go of it. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '0.0.0.0', () => probe.close(() => resolve(true)));
  });
}

describe('the health server', function () {
  let server: HealthServer | undefined;
  let report: ReadinessReport;
  let metrics: PrometheusMetrics;
  let logger: MemoryLogger;

  beforeEach(async function () {
    report = { checks: { broker: true, watch: true }, details: { leader: 'standby' } };
    metrics = new PrometheusMetrics({ logger: new MemoryLogger(), strict: true, processMetrics: false });
    logger = new MemoryLogger();
    server = await startHealthServer({ port: 0, host: '127.0.0.1', metrics, readiness: () => report, logger });
  });

  afterEach(async function () {
    await server?.close();
    server = undefined;
  });

  function port(): number {
    if (server === undefined) throw new Error('the health server is not running');
    return server.port;
  }

  it('answers /healthz with 200 ok', async function () {
    const answer = await call(port(), 'GET', '/healthz');
    expect(answer.status).to.equal(200);
    expect(answer.body).to.equal('ok\n');
  });

  it('answers /readyz with 200 and every check and detail when all checks pass', async function () {
    const answer = await call(port(), 'GET', '/readyz');
    expect(answer.status).to.equal(200);
    expect(answer.headers['content-type']).to.match(/^application\/json/);
    expect(JSON.parse(answer.body)).to.deep.equal({ broker: true, watch: true, leader: 'standby' });
  });

  it('answers /readyz with 503 naming the failing check', async function () {
    report = { checks: { broker: false, watch: true }, details: { leader: 'unknown' } };
    const answer = await call(port(), 'GET', '/readyz');
    expect(answer.status).to.equal(503);
    expect(JSON.parse(answer.body)).to.deep.equal({ broker: false, watch: true, leader: 'unknown' });
  });

  it('waits for a readiness callback that is asynchronous', async function () {
    await server?.close();
    server = await startHealthServer({ port: 0, host: '127.0.0.1', metrics, logger, readiness: async () => ({ checks: { broker: false } }) });
    const answer = await call(port(), 'GET', '/readyz');
    expect(answer.status).to.equal(503);
    expect(JSON.parse(answer.body)).to.deep.equal({ broker: false });
  });

  it('answers 500 and logs why when the readiness callback throws', async function () {
    await server?.close();
    const failing = (): ReadinessReport => {
      throw new Error('broker state unavailable');
    };
    server = await startHealthServer({ port: 0, host: '127.0.0.1', metrics, logger, readiness: failing });
    const answer = await call(port(), 'GET', '/readyz');
    expect(answer.status).to.equal(500);
    expect(answer.body).not.to.include('broker state unavailable');
    expect(String(logger.lines.find((line) => line.level === 'error')?.fields['err'])).to.include('broker state unavailable');
  });

  it('answers 500 when a readiness report uses one name as both a check and a detail', async function () {
    report = { checks: { leader: true }, details: { leader: 'leader' } };
    expect((await call(port(), 'GET', '/readyz')).status).to.equal(500);
    expect(String(logger.lines.find((line) => line.level === 'error')?.fields['err'])).to.include('"leader" both as a check and as a detail');
  });

  it('serves /metrics in the Prometheus text format with the counters reported', async function () {
    metrics.increment('lando_lease_conflicts_total', undefined, 2);
    const answer = await call(port(), 'GET', '/metrics');
    expect(answer.status).to.equal(200);
    expect(answer.headers['content-type']).to.equal(metrics.contentType);
    expect(answer.body.split('\n')).to.include('lando_lease_conflicts_total 2');
  });

  it('answers HEAD like GET without a body', async function () {
    const answer = await call(port(), 'HEAD', '/readyz');
    expect(answer.status).to.equal(200);
    expect(Number(answer.headers['content-length'])).to.be.greaterThan(0);
    expect(answer.body).to.equal('');
  });

  it('ignores a query string', async function () {
    expect((await call(port(), 'GET', '/healthz?verbose=1')).status).to.equal(200);
  });

  it('answers 404 for any other path', async function () {
    expect((await call(port(), 'GET', '/')).status).to.equal(404);
    expect((await call(port(), 'GET', '/healthz/extra')).status).to.equal(404);
  });

  it('answers 405 for a method other than GET and HEAD, saying which are allowed', async function () {
    const answer = await call(port(), 'POST', '/healthz');
    expect(answer.status).to.equal(405);
    expect(answer.headers['allow']).to.equal('GET, HEAD');
  });

  it('frees its port on close, even with a kept-alive connection open', async function () {
    const agent = new Agent({ keepAlive: true });
    try {
      await call(port(), 'GET', '/healthz', agent);
      const used = port();
      expect(await portIsFree(used)).to.equal(false);
      await server?.close();
      await server?.close();
      server = undefined;
      expect(await portIsFree(used)).to.equal(true);
    } finally {
      agent.destroy();
    }
  });

  it('rejects a port outside 0 to 65535', async function () {
    for (const bad of [-1, 65536, 1.5]) {
      await startHealthServer({ port: bad, metrics, readiness: () => report, logger }).then(
        () => expect.fail(`port ${bad} was accepted`),
        (error: unknown) => expect(String(error)).to.include(`got ${bad}`),
      );
    }
  });

  it('fails to start with the address when the port is taken', async function () {
    const taken = port();
    await startHealthServer({ port: taken, host: '127.0.0.1', metrics, readiness: () => report, logger }).then(
      (extra) => extra.close().then(() => expect.fail('a second server listened on a taken port')),
      (error: unknown) => expect(String(error)).to.include(`cannot listen on 127.0.0.1:${taken}`),
    );
  });
});
