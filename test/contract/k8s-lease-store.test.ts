import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { K8sLeaseStore } from '../../src/adapters/k8s/k8s-lease-store.js';
import { ConflictError, PermanentError, TransientError } from '../../src/domain/errors.js';
import { startK8sApiTestServer, type K8sApiTestServer, type KubeObject } from '../../testservers/k8s/k8s-api-test-server.js';
import { JobSystem } from '../support/job-system.js';
import { MemoryLogger } from '../support/memory-logger.js';
import { leaseStoreContract } from './lease-store.contract.js';

const NAMESPACE = 'lando-job-runner';
/** Kubernetes' MicroTime: RFC 3339 with exactly six fractional digits. */
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let current = Date.UTC(2024, 0, 15, 9, 0, 0, 123);
  return { now: () => current, advance: (ms) => (current += ms) };
}

function storeOn(server: K8sApiTestServer, now?: () => number): K8sLeaseStore {
  return new K8sLeaseStore({ host: server.url, token: server.token, namespace: NAMESPACE, logger: new MemoryLogger(), now });
}

/** The Lease requests the server answered, by operation (`create leases`, `update leases`, ...). */
function leaseCalls(server: K8sApiTestServer): Record<string, number> {
  return Object.fromEntries(Object.entries(server.calls.countsByOperation()).filter(([operation]) => operation.endsWith(' leases')));
}

interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

function specOf(lease: KubeObject | undefined): LeaseSpec {
  assert.ok(lease, 'the Lease exists');
  return (lease as KubeObject & { spec: LeaseSpec }).spec;
}

leaseStoreContract('K8sLeaseStore on the Kubernetes API test server', async () => {
  const server = await startK8sApiTestServer({ port: 0, namespace: NAMESPACE });
  const clock = manualClock();
  return { replica: () => storeOn(server, clock.now), advance: clock.advance, teardown: () => server.close() };
});

describe('K8sLeaseStore requests and Lease objects', () => {
  let server: K8sApiTestServer;
  const clock = manualClock();

  beforeEach(async () => {
    server = await startK8sApiTestServer({ port: 0, namespace: NAMESPACE });
  });

  afterEach(async () => {
    await server.close();
  });

  it('writes holder, whole-second duration, MicroTime acquire and renew times and transitions', async () => {
    const store = storeOn(server, clock.now);
    await store.tryAcquire('lando-job-7', 'replica-a', 1500);
    const created = specOf(server.getObject('leases', 'lando-job-7'));
    assert.equal(created.holderIdentity, 'replica-a');
    assert.equal(created.leaseDurationSeconds, 2, 'rounded up, never shortened');
    assert.match(created.acquireTime ?? '', MICRO_TIME);
    assert.equal(created.renewTime, created.acquireTime);
    assert.equal(created.leaseTransitions, 0);

    clock.advance(1000);
    await store.tryAcquire('lando-job-7', 'replica-a', 1500);
    const renewed = specOf(server.getObject('leases', 'lando-job-7'));
    assert.equal(renewed.acquireTime, created.acquireTime, 'a renewal keeps the acquire time');
    assert.equal(Date.parse(renewed.renewTime ?? ''), Date.parse(created.renewTime ?? '') + 1000);

    clock.advance(5000);
    await storeOn(server, clock.now).tryAcquire('lando-job-7', 'replica-b', 1500);
    const taken = specOf(server.getObject('leases', 'lando-job-7'));
    assert.equal(taken.holderIdentity, 'replica-b');
    assert.equal(taken.leaseTransitions, 1);
    assert.equal(taken.acquireTime, taken.renewTime);
  });

  it('costs one request to take a free lease, one to renew it and one to release it', async () => {
    const store = storeOn(server, clock.now);
    await store.tryAcquire('lando-job-8', 'replica-a', 10_000);
    assert.deepEqual(leaseCalls(server), { 'create leases': 1 });
    await store.tryAcquire('lando-job-8', 'replica-a', 10_000);
    await store.tryAcquire('lando-job-8', 'replica-a', 10_000);
    assert.deepEqual(leaseCalls(server), { 'create leases': 1, 'update leases': 2 });
    await store.release('lando-job-8', 'replica-a');
    assert.deepEqual(leaseCalls(server), { 'create leases': 1, 'update leases': 2, 'delete leases': 1 });
    assert.equal(server.getObject('leases', 'lando-job-8'), undefined);
  });

  it('reads the lease only when the server says it changed, and first when it was held elsewhere last time', async () => {
    const a = storeOn(server, clock.now);
    const b = storeOn(server, clock.now);
    await a.tryAcquire('lando-job-9', 'replica-a', 10_000);
    server.calls.clear();
    assert.equal(await b.tryAcquire('lando-job-9', 'replica-b', 10_000), false);
    assert.deepEqual(leaseCalls(server), { 'create leases': 1, 'get leases': 1 });
    server.calls.clear();
    assert.equal(await b.tryAcquire('lando-job-9', 'replica-b', 10_000), false);
    assert.deepEqual(leaseCalls(server), { 'get leases': 1 }, 'a standby asks with one request per try');
    await a.release('lando-job-9', 'replica-a');
    server.calls.clear();
    assert.equal(await b.tryAcquire('lando-job-9', 'replica-b', 10_000), true);
    assert.deepEqual(leaseCalls(server), { 'get leases': 1, 'create leases': 1 });
  });

  it('takes the lease afresh when it was deleted behind its back', async () => {
    const store = storeOn(server, clock.now);
    await store.tryAcquire('lando-job-10', 'replica-a', 10_000);
    await storeOn(server, clock.now).release('lando-job-10', 'replica-a');
    assert.equal(server.getObject('leases', 'lando-job-10'), undefined);
    assert.equal(await store.tryAcquire('lando-job-10', 'replica-a', 10_000), true);
    assert.equal(specOf(server.getObject('leases', 'lando-job-10')).holderIdentity, 'replica-a');
  });

  it('does not delete a lease that changed hands after it was last written', async () => {
    const a = storeOn(server, clock.now);
    await a.tryAcquire('lando-job-11', 'replica-a', 10_000);
    clock.advance(11_000);
    await storeOn(server, clock.now).tryAcquire('lando-job-11', 'replica-b', 10_000);
    server.calls.clear();
    await a.release('lando-job-11', 'replica-a');
    assert.equal(specOf(server.getObject('leases', 'lando-job-11')).holderIdentity, 'replica-b');
    assert.deepEqual(leaseCalls(server), { 'delete leases': 1, 'get leases': 1 }, 'the conditional delete is refused, then the read shows another holder');
  });

  it('maps API failures to domain errors naming the request', async () => {
    const store = storeOn(server, clock.now);
    server.failNext('create leases', { code: 503 });
    await assert.rejects(store.tryAcquire('lando-job-12', 'replica-a', 10_000), (error: unknown) => {
      assert.ok(error instanceof TransientError);
      assert.match(error.message, /^create Lease lando-job-12: 503 ServiceUnavailable/);
      return true;
    });
    server.failNext('create leases', { code: 403, reason: 'Forbidden', message: 'leases.coordination.k8s.io is forbidden' });
    await assert.rejects(store.tryAcquire('lando-job-12', 'replica-a', 10_000), PermanentError);
    server.failNext('create leases', { code: 409, reason: 'Conflict', message: 'try again' });
    await assert.rejects(store.tryAcquire('lando-job-12', 'replica-a', 10_000), ConflictError);
  });

  it('reports an API server that does not answer in time as transient', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const address = silent.address();
      assert.ok(address !== null && typeof address === 'object');
      const store = new K8sLeaseStore({ host: `http://127.0.0.1:${address.port}`, token: 't', namespace: NAMESPACE, logger: new MemoryLogger(), requestTimeoutMs: 50 });
      await assert.rejects(store.tryAcquire('lando-job-13', 'replica-a', 10_000), /create Lease lando-job-13: no response within 50 ms/);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses a configuration without a namespace', () => {
    assert.throws(() => new K8sLeaseStore({ host: server.url, token: server.token, namespace: ' ', logger: new MemoryLogger() }), /K8sLeaseStore: namespace must not be empty/);
  });
});

describe("the cost of lando's per-job leases on the Kubernetes API", () => {
  let server: K8sApiTestServer | undefined;
  let system: JobSystem | undefined;

  afterEach(async () => {
    await system?.stop();
    await server?.close();
    system = undefined;
    server = undefined;
  });

  it('handles the six messages of a whole job with at most 7 Lease requests, the lease deleted at the end', async () => {
    server = await startK8sApiTestServer({ port: 0, namespace: NAMESPACE });
    system = new JobSystem({ workloads: { stepMs: 1 }, leases: storeOn(server), jobLeases: { durationMs: 60_000, holder: 'lando-replica-a' } });
    await system.start();
    system.addJob(42);
    await system.startJob(42);
    await system.waitForState(42, 'F', '');
    await system.quiesce();
    const handled = ['start_job', 'stage_job_complete', 'run_job_complete', 'organize_output_complete', 'store_job_output_complete', 'record_output_project_complete'];
    for (const command of handled) assert.equal(system.metrics.value('lando_messages_handled_total', { command, outcome: 'ack' }), 1, command);
    const calls = leaseCalls(server);
    assert.deepEqual(calls, { 'create leases': 1, 'update leases': 5, 'delete leases': 1 });
    assert.ok(Object.values(calls).reduce((sum, count) => sum + count, 0) <= 7);
    assert.deepEqual(server.listObjects('leases'), [], 'the finished job leaves no Lease behind');
  });
});
