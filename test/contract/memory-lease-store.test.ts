import assert from 'node:assert/strict';
import { FaultPlan } from '../../src/adapters/memory/fault-plan.js';
import { MemoryLeaseStore } from '../../src/adapters/memory/memory-lease-store.js';
import { TransientError } from '../../src/domain/errors.js';
import { leaseStoreContract } from './lease-store.contract.js';

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let current = Date.UTC(2024, 0, 15, 9, 0, 0);
  return { now: () => current, advance: (ms) => (current += ms) };
}

leaseStoreContract('MemoryLeaseStore', async () => {
  const clock = manualClock();
  // One store is the shared state every replica sees, as one API server is.
  const store = new MemoryLeaseStore({ now: clock.now });
  return { replica: () => store, advance: clock.advance, teardown: async () => undefined };
});

describe('MemoryLeaseStore inspection and faults', () => {
  it('records holder, transitions and validity as Kubernetes would', async () => {
    const clock = manualClock();
    const store = new MemoryLeaseStore({ now: clock.now });
    await store.tryAcquire('lando-watcher', 'replica-a', 15_000);
    const acquiredAt = clock.now();
    clock.advance(5000);
    await store.tryAcquire('lando-watcher', 'replica-a', 15_000);
    assert.deepEqual(store.lease('lando-watcher'), {
      name: 'lando-watcher',
      holder: 'replica-a',
      durationMs: 15_000,
      acquiredAt,
      renewedAt: acquiredAt + 5000,
      transitions: 0,
    });
    clock.advance(15_000);
    assert.equal(store.validHolder('lando-watcher'), undefined, 'lapsed');
    await store.tryAcquire('lando-watcher', 'replica-b', 15_000);
    assert.equal(store.validHolder('lando-watcher'), 'replica-b');
    assert.equal(store.lease('lando-watcher')?.transitions, 1);
    assert.deepEqual(store.names, ['lando-watcher']);
  });

  it('fails calls as the fault plan says, changing nothing', async () => {
    const faults = new FaultPlan().failNext(1, 'transient', 'tryAcquire').failNext(1, 'transient', 'release');
    const store = new MemoryLeaseStore({ faults });
    await assert.rejects(store.tryAcquire('lando-job-1', 'replica-a', 1000), TransientError);
    assert.equal(store.lease('lando-job-1'), undefined);
    assert.equal(await store.tryAcquire('lando-job-1', 'replica-a', 1000), true);
    await assert.rejects(store.release('lando-job-1', 'replica-a'), TransientError);
    assert.equal(store.validHolder('lando-job-1'), 'replica-a');
  });
});
