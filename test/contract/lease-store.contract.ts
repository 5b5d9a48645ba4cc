import assert from 'node:assert/strict';
import { PermanentError } from '../../src/domain/errors.js';
import type { LeaseStore } from '../../src/ports/leases.js';

/**
 * What every LeaseStore adapter must do, stated through the port alone. Each replica gets its
 * own store (as each lando or watcher process has its own), all of them on the same leases and
 * reading one hand-moved clock, so leases lapse without sleeping.
 */
export interface LeaseStoreContractHarness {
  /** A store as one more replica sees the shared leases. */
  replica(): LeaseStore;
  /** Moves the clock every replica's store reads. */
  advance(ms: number): void;
  teardown(): Promise<void>;
}

/** Whole seconds, which Kubernetes' leaseDurationSeconds can express exactly. */
const DURATION_MS = 10_000;
const LEASE = 'lando-job-42';

export function leaseStoreContract(title: string, setup: () => Promise<LeaseStoreContractHarness>): void {
  describe(`LeaseStore contract: ${title}`, () => {
    let harness: LeaseStoreContractHarness | undefined;

    async function started(): Promise<LeaseStoreContractHarness> {
      harness = await setup();
      return harness;
    }

    afterEach(async () => {
      await harness?.teardown();
      harness = undefined;
    });

    it('takes a free lease', async () => {
      const world = await started();
      assert.equal(await world.replica().tryAcquire(LEASE, 'replica-a', DURATION_MS), true);
    });

    it('refuses a lease another holder holds and has not let lapse, without waiting', async () => {
      const world = await started();
      const [a, b] = [world.replica(), world.replica()];
      await a.tryAcquire(LEASE, 'replica-a', DURATION_MS);
      world.advance(DURATION_MS - 1000);
      assert.equal(await b.tryAcquire(LEASE, 'replica-b', DURATION_MS), false);
    });

    it('keeps leases of different names apart', async () => {
      const world = await started();
      const [a, b] = [world.replica(), world.replica()];
      await a.tryAcquire(LEASE, 'replica-a', DURATION_MS);
      assert.equal(await b.tryAcquire('lando-job-43', 'replica-b', DURATION_MS), true);
    });

    it('renews its own lease, which keeps the others off for another full duration', async () => {
      const world = await started();
      const [a, b] = [world.replica(), world.replica()];
      await a.tryAcquire(LEASE, 'replica-a', DURATION_MS);
      world.advance(DURATION_MS - 2000);
      assert.equal(await a.tryAcquire(LEASE, 'replica-a', DURATION_MS), true);
      world.advance(DURATION_MS - 2000);
      assert.equal(await b.tryAcquire(LEASE, 'replica-b', DURATION_MS), false, 'the renewal counts from when it was made');
    });

    it('renews a lease held under the same identity through another store (a restarted client)', async () => {
      const world = await started();
      await world.replica().tryAcquire(LEASE, 'replica-a', DURATION_MS);
      assert.equal(await world.replica().tryAcquire(LEASE, 'replica-a', DURATION_MS), true);
      assert.equal(await world.replica().tryAcquire(LEASE, 'replica-b', DURATION_MS), false);
    });

    it('lets another holder take over a lease that lapsed, after which the old holder is refused', async () => {
      const world = await started();
      const [a, b] = [world.replica(), world.replica()];
      await a.tryAcquire(LEASE, 'replica-a', DURATION_MS);
      world.advance(DURATION_MS + 1000);
      assert.equal(await b.tryAcquire(LEASE, 'replica-b', DURATION_MS), true);
      assert.equal(await a.tryAcquire(LEASE, 'replica-a', DURATION_MS), false);
      assert.equal(await b.tryAcquire(LEASE, 'replica-b', DURATION_MS), true, 'the new holder renews it');
    });

    it('gives a free lease to exactly one of several concurrent takers', async () => {
      const world = await started();
      const replicas = [world.replica(), world.replica(), world.replica()];
      const won = await Promise.all(replicas.map((store, index) => store.tryAcquire(LEASE, `replica-${index}`, DURATION_MS)));
      assert.equal(won.filter(Boolean).length, 1, `outcomes: ${JSON.stringify(won)}`);
    });

    it('gives a lapsed lease to exactly one of several concurrent takers', async () => {
      const world = await started();
      await world.replica().tryAcquire(LEASE, 'replica-old', DURATION_MS);
      world.advance(DURATION_MS + 1000);
      const replicas = [world.replica(), world.replica(), world.replica()];
      const won = await Promise.all(replicas.map((store, index) => store.tryAcquire(LEASE, `replica-${index}`, DURATION_MS)));
      assert.equal(won.filter(Boolean).length, 1, `outcomes: ${JSON.stringify(won)}`);
    });

    it('frees a released lease at once for another holder', async () => {
      const world = await started();
      const [a, b] = [world.replica(), world.replica()];
      await a.tryAcquire(LEASE, 'replica-a', DURATION_MS);
      await a.release(LEASE, 'replica-a');
      assert.equal(await b.tryAcquire(LEASE, 'replica-b', DURATION_MS), true);
    });

    it('leaves a lease alone when someone other than its holder releases it', async () => {
      const world = await started();
      const [a, b] = [world.replica(), world.replica()];
      await a.tryAcquire(LEASE, 'replica-a', DURATION_MS);
      await b.release(LEASE, 'replica-b');
      assert.equal(await b.tryAcquire(LEASE, 'replica-b', DURATION_MS), false);
      assert.equal(await a.tryAcquire(LEASE, 'replica-a', DURATION_MS), true);
    });

    it('does not let a former holder release the lease its successor took', async () => {
      const world = await started();
      const [a, b, c] = [world.replica(), world.replica(), world.replica()];
      await a.tryAcquire(LEASE, 'replica-a', DURATION_MS);
      world.advance(DURATION_MS + 1000);
      await b.tryAcquire(LEASE, 'replica-b', DURATION_MS);
      await a.release(LEASE, 'replica-a');
      assert.equal(await c.tryAcquire(LEASE, 'replica-c', DURATION_MS), false);
    });

    it('accepts releasing a lease that does not exist', async () => {
      const world = await started();
      await world.replica().release('lando-job-404', 'replica-a');
      assert.equal(await world.replica().tryAcquire('lando-job-404', 'replica-b', DURATION_MS), true);
    });

    it('refuses bad arguments with an error naming what is wrong', async () => {
      const store = (await started()).replica();
      await assert.rejects(store.tryAcquire('Lando_Job_42', 'replica-a', DURATION_MS), (error: unknown) => {
        assert.ok(error instanceof PermanentError);
        assert.match(error.message, /lease name "Lando_Job_42" is not a valid Kubernetes name/);
        return true;
      });
      await assert.rejects(store.tryAcquire(LEASE, ' ', DURATION_MS), /lease holder identity must not be empty/);
      await assert.rejects(store.tryAcquire(LEASE, 'replica-a', 0), /lease duration must be a positive number of milliseconds, got 0/);
      await assert.rejects(store.release('-bad-', 'replica-a'), /lease name "-bad-"/);
    });
  });
}
