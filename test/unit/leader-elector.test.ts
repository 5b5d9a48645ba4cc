import { expect } from 'chai';
import sinon from 'sinon';
import { MemoryLeaseStore } from '../../src/adapters/memory/memory-lease-store.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { SystemClock } from '../../src/adapters/system/system-clock.js';
import { DEFAULT_LEADER_ELECTION_TIMINGS, LeaderElector, type LeaderElectionSettings } from '../../src/domain/leader-elector.js';
import type { LeaseStore } from '../../src/ports/leases.js';
import { MemoryLogger } from '../support/memory-logger.js';

const LEASE = 'lando-watcher';
const { leaseDurationMs: LEASE_MS, renewDeadlineMs: DEADLINE_MS, retryPeriodMs: RETRY_MS } = DEFAULT_LEADER_ELECTION_TIMINGS;
/** The longest a candidate waits between attempts: the retry period plus client-go's jitter. */
const LONGEST_WAIT_MS = RETRY_MS * 2.2;

/** What one replica saw happen, in order, with the fake time of each event. */
type Event = { readonly at: number; readonly replica: string; readonly what: 'started' | 'stopped' };

/**
 * A replica's view of the shared store that can be cut off, as a partitioned or frozen process
 * is: its requests then never get an answer.
 */
class Partitionable implements LeaseStore {
  cutOff = false;
  answerFalse = false;

  constructor(private readonly store: LeaseStore) {}

  tryAcquire(name: string, holder: string, durationMs: number): Promise<boolean> {
    if (this.cutOff) return new Promise(() => undefined);
    if (this.answerFalse) return Promise.resolve(false);
    return this.store.tryAcquire(name, holder, durationMs);
  }

  release(name: string, holder: string): Promise<void> {
    if (this.cutOff) return new Promise(() => undefined);
    return this.store.release(name, holder);
  }
}

describe('LeaderElector', () => {
  let timers: sinon.SinonFakeTimers;
  let store: MemoryLeaseStore;
  let events: Event[];

  beforeEach(() => {
    timers = sinon.useFakeTimers({ now: Date.UTC(2024, 0, 15, 9, 0, 0) });
    store = new MemoryLeaseStore();
    events = [];
  });

  afterEach(() => {
    // Drops the timers of replicas a test cut off, which can never finish stopping.
    timers.restore();
  });

  function replica(
    identity: string,
    options: { view?: LeaseStore; onStarted?: () => Promise<void>; settings?: Partial<LeaderElectionSettings> } = {},
  ): { elector: LeaderElector; metrics: MemoryMetrics; logger: MemoryLogger } {
    const metrics = new MemoryMetrics();
    const logger = new MemoryLogger();
    const settings = { leaseName: LEASE, identity, ...DEFAULT_LEADER_ELECTION_TIMINGS, ...options.settings };
    const elector = new LeaderElector(options.view ?? store, settings, new SystemClock(), metrics, logger);
    elector.start({
      onStartedLeading: async () => {
        await options.onStarted?.();
        events.push({ at: Date.now(), replica: identity, what: 'started' });
      },
      onStoppedLeading: async () => {
        events.push({ at: Date.now(), replica: identity, what: 'stopped' });
      },
    });
    return { elector, metrics, logger };
  }

  /** Who led at each moment: never two at once. */
  function assertNeverTwoLeaders(): void {
    const leading = new Set<string>();
    for (const event of events) {
      if (event.what === 'started') {
        expect([...leading], `${event.replica} started leading at ${event.at} while another led`).to.deep.equal([]);
        leading.add(event.replica);
      } else {
        leading.delete(event.replica);
      }
    }
  }

  it('elects the first replica to ask and keeps the other on standby while the leader renews', async () => {
    const a = replica('replica-a');
    await timers.tickAsync(0);
    const b = replica('replica-b');
    await timers.tickAsync(10 * LEASE_MS);
    expect(a.elector.isLeader).to.equal(true);
    expect(b.elector.isLeader).to.equal(false);
    expect(a.metrics.value('watcher_leader')).to.equal(1);
    expect(b.metrics.value('watcher_leader')).to.equal(0);
    expect(events.map((event) => `${event.replica} ${event.what}`)).to.deep.equal(['replica-a started']);
    const renewedAt = store.lease(LEASE)?.renewedAt ?? 0;
    expect(Date.now() - renewedAt, 'renewed every retry period').to.be.at.most(RETRY_MS);
    await a.elector.stop();
    await b.elector.stop();
  });

  it('hands over to a standby soon after the leader stops, the lease given up rather than left to lapse', async () => {
    const a = replica('replica-a');
    await timers.tickAsync(0);
    const b = replica('replica-b');
    await timers.tickAsync(LEASE_MS);
    const stoppedAt = Date.now();
    await a.elector.stop();
    expect(a.elector.isLeader).to.equal(false);
    expect(a.metrics.value('watcher_leader')).to.equal(0);
    await timers.tickAsync(LONGEST_WAIT_MS);
    expect(b.elector.isLeader).to.equal(true);
    const takeover = events.find((event) => event.replica === 'replica-b' && event.what === 'started');
    expect(takeover?.at).to.be.below(stoppedAt + LEASE_MS, 'before the lease could have lapsed');
    assertNeverTwoLeaders();
    await b.elector.stop();
  });

  it('takes over from a leader that died once its lease lapsed, the old leader having stopped acting before', async () => {
    const view = new Partitionable(store);
    const a = replica('replica-a', { view });
    await timers.tickAsync(0);
    const b = replica('replica-b');
    await timers.tickAsync(RETRY_MS * 3);
    const lastRenewal = store.lease(LEASE)?.renewedAt ?? 0;
    view.cutOff = true;
    await timers.tickAsync(LEASE_MS + LONGEST_WAIT_MS);
    expect(a.elector.isLeader).to.equal(false);
    expect(b.elector.isLeader).to.equal(true);
    const stopped = events.find((event) => event.replica === 'replica-a' && event.what === 'stopped');
    const started = events.find((event) => event.replica === 'replica-b' && event.what === 'started');
    expect(stopped?.at).to.equal(lastRenewal + DEADLINE_MS, 'the old leader stops at its renew deadline');
    expect(started?.at).to.be.at.least(lastRenewal + LEASE_MS, 'the standby waits for the lease to lapse');
    expect(a.logger.messages('warn')).to.include(`Stopped leading: the leader lease was not renewed within ${DEADLINE_MS} ms`);
    assertNeverTwoLeaders();
    await b.elector.stop();
  });

  it('stops acting at once when stopped, without waiting for a renewal the API server does not answer', async () => {
    const view = new Partitionable(store);
    const a = replica('replica-a', { view });
    await timers.tickAsync(0);
    view.cutOff = true;
    await timers.tickAsync(RETRY_MS);
    void a.elector.stop();
    await timers.tickAsync(0);
    expect(a.elector.isLeader).to.equal(false);
    expect(events.map((event) => event.what)).to.deep.equal(['started', 'stopped']);
  });

  it('stays leader through failed renewals that recover before the renew deadline', async () => {
    const a = replica('replica-a');
    await timers.tickAsync(0);
    store.faults.failNext(3, 'transient', 'tryAcquire');
    await timers.tickAsync(LEASE_MS);
    expect(a.elector.isLeader).to.equal(true);
    expect(events.map((event) => event.what)).to.deep.equal(['started']);
    expect(a.logger.messages('warn').filter((message) => message === 'Renewing the leader lease failed')).to.have.length(3);
    await a.elector.stop();
  });

  it('stops leading at once when the lease turns out to be held by another replica', async () => {
    const view = new Partitionable(store);
    const a = replica('replica-a', { view });
    await timers.tickAsync(0);
    view.answerFalse = true;
    await timers.tickAsync(RETRY_MS);
    expect(a.elector.isLeader).to.equal(false);
    expect(events.map((event) => event.what)).to.deep.equal(['started', 'stopped']);
    expect(events[1]?.at).to.equal(events[0]!.at + RETRY_MS);
    await a.elector.stop();
  });

  it('steps down and tries again when starting to lead fails', async () => {
    let attempts = 0;
    const a = replica('replica-a', {
      onStarted: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('the watch could not start');
      },
    });
    await timers.tickAsync(LONGEST_WAIT_MS);
    expect(a.logger.messages('error')).to.include('Starting to lead failed; stepping down to try again');
    expect(a.elector.isLeader).to.equal(true);
    expect(attempts).to.equal(2);
    expect(events.map((event) => event.what)).to.deep.equal(['stopped', 'started']);
    await a.elector.stop();
  });

  it('stops a standby without touching the leader’s lease', async () => {
    const a = replica('replica-a');
    await timers.tickAsync(0);
    const b = replica('replica-b');
    await timers.tickAsync(LONGEST_WAIT_MS);
    await b.elector.stop();
    expect(store.validHolder(LEASE)).to.equal('replica-a');
    expect(events.filter((event) => event.replica === 'replica-b')).to.deep.equal([]);
    await a.elector.stop();
    expect(store.lease(LEASE)).to.equal(undefined);
  });

  it('refuses to start twice', async () => {
    const a = replica('replica-a');
    expect(() => a.elector.start({ onStartedLeading: async () => undefined, onStoppedLeading: async () => undefined })).to.throw(
      `the leader elector of lease ${LEASE} is already started`,
    );
    await a.elector.stop();
  });

  it('refuses timings that could let two replicas lead at once', () => {
    const build = (timings: Partial<LeaderElectionSettings>) => () =>
      new LeaderElector(store, { leaseName: LEASE, identity: 'replica-a', ...DEFAULT_LEADER_ELECTION_TIMINGS, ...timings }, new SystemClock(), new MemoryMetrics(), new MemoryLogger());
    expect(build({ renewDeadlineMs: 15_000 })).to.throw(RangeError, 'the lease duration (15000 ms) must be greater than the renew deadline (15000 ms)');
    expect(build({ retryPeriodMs: 10_000 })).to.throw(RangeError, 'the renew deadline (10000 ms) must be greater than the retry period (10000 ms)');
    expect(build({ retryPeriodMs: 0 })).to.throw(RangeError, 'retryPeriodMs must be a positive number of milliseconds, got 0');
  });

});
