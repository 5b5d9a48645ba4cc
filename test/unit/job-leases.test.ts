import { expect } from 'chai';
import sinon from 'sinon';
import { MemoryLeaseStore } from '../../src/adapters/memory/memory-lease-store.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { SystemClock } from '../../src/adapters/system/system-clock.js';
import { JobLeases } from '../../src/domain/job-leases.js';
import type { JobRunResult } from '../../src/domain/job-runner.js';
import { leaseName } from '../../src/domain/lease-names.js';
import type { LandoSettings } from '../../src/domain/settings.js';
import type { Disposition } from '../../src/ports/work-queue.js';
import { MemoryLogger } from '../support/memory-logger.js';

const DURATION_MS = 30_000;
const LANDO: LandoSettings = { baseStageDataVolumeSizeInG: 1, dataStoreSecretName: 'ddsclient-agent', recordOutputProjectServiceAccount: 'annotation-writer-sa' };
const ACK: Disposition = { outcome: 'ack' };
const RUN_ON: JobRunResult = { disposition: ACK, jobAtRest: false };
const AT_REST: JobRunResult = { disposition: ACK, jobAtRest: true };

/** A handler the test ends when it wants, to observe the lease while it runs. */
function heldHandler(result: JobRunResult = RUN_ON): { handle: () => Promise<JobRunResult>; finish: () => void; started: () => boolean } {
  let finish: () => void = () => undefined;
  let started = false;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    handle: async () => {
      started = true;
      await done;
      return result;
    },
    finish: () => finish(),
    started: () => started,
  };
}

describe('JobLeases', () => {
  let timers: sinon.SinonFakeTimers;
  let store: MemoryLeaseStore;
  let metrics: MemoryMetrics;
  let logger: MemoryLogger;

  beforeEach(() => {
    timers = sinon.useFakeTimers({ now: Date.UTC(2024, 0, 15, 9, 0, 0) });
    store = new MemoryLeaseStore();
    metrics = new MemoryMetrics();
    logger = new MemoryLogger();
  });

  afterEach(() => {
    timers.restore();
  });

  function replica(holder: string, lando: LandoSettings = LANDO): JobLeases {
    return new JobLeases(store, { durationMs: DURATION_MS, holder }, lando, new SystemClock(), metrics, logger);
  }

  it('runs the handler while holding the job lease and keeps the lease for the next command', async () => {
    const leases = replica('replica-a');
    let holderDuringHandler: string | undefined;
    const disposition = await leases.run('42', async () => {
      holderDuringHandler = store.validHolder('lando-job-42');
      return RUN_ON;
    });
    expect(disposition).to.deep.equal(ACK);
    expect(holderDuringHandler).to.equal('replica-a');
    expect(store.validHolder('lando-job-42'), 'kept, so the next command is one renewal').to.equal('replica-a');
  });

  it('deletes the lease when the job comes to rest', async () => {
    const leases = replica('replica-a');
    await leases.run(42, async () => AT_REST);
    expect(store.lease('lando-job-42')).to.equal(undefined);
    await leases.run('43', async () => ({ disposition: { outcome: 'reject', reason: 'job 43 does not exist in bespin-api' }, jobAtRest: true }));
    expect(store.lease('lando-job-43')).to.equal(undefined);
  });

  it('keeps the lease when the command is retried, whatever the job state', async () => {
    const leases = replica('replica-a');
    await leases.run('42', async () => ({ disposition: { outcome: 'retry', reason: 'bespin-api unreachable' }, jobAtRest: true }));
    expect(store.validHolder('lando-job-42')).to.equal('replica-a');
  });

  it('does not run a command of a job another replica holds: it is retried, and the conflict counted', async () => {
    await replica('replica-a').run('42', async () => RUN_ON);
    const handler = sinon.stub<[], Promise<JobRunResult>>().resolves(RUN_ON);
    const disposition = await replica('replica-b').run('42', handler);
    expect(disposition).to.deep.equal({ outcome: 'defer', reason: 'job 42 is being handled by another lando replica' } satisfies Disposition);
    expect(handler.called).to.equal(false);
    expect(metrics.value('lando_lease_conflicts_total')).to.equal(1);
    expect(store.validHolder('lando-job-42')).to.equal('replica-a');
  });

  it('takes over the job once the other replica’s lease lapsed', async () => {
    await replica('replica-a').run('42', async () => RUN_ON);
    await timers.tickAsync(DURATION_MS);
    const disposition = await replica('replica-b').run('42', async () => RUN_ON);
    expect(disposition).to.deep.equal(ACK);
    expect(store.validHolder('lando-job-42')).to.equal('replica-b');
  });

  it('retries the command, without running it, when the lease cannot be taken', async () => {
    store.faults.failNext(1, 'transient', 'tryAcquire');
    const handler = sinon.stub<[], Promise<JobRunResult>>().resolves(RUN_ON);
    const disposition = await replica('replica-a').run('42', handler);
    expect(disposition.outcome).to.equal('retry');
    expect(disposition).to.have.property('reason').that.matches(/^taking the lease of job 42: TransientError: injected transient fault in tryAcquire/);
    expect(handler.called).to.equal(false);
  });

  it('renews the lease every third of its duration while the handler runs, and no longer after', async () => {
    const leases = replica('replica-a');
    const handler = heldHandler();
    const running = leases.run('42', handler.handle);
    await timers.tickAsync(0);
    expect(handler.started()).to.equal(true);
    const takenAt = store.lease('lando-job-42')?.renewedAt ?? 0;
    await timers.tickAsync(DURATION_MS / 3);
    expect(store.lease('lando-job-42')?.renewedAt).to.equal(takenAt + DURATION_MS / 3);
    await timers.tickAsync(3 * DURATION_MS);
    expect(store.validHolder('lando-job-42'), 'a long handler keeps its job').to.equal('replica-a');
    expect(await replica('replica-b').run('42', async () => RUN_ON)).to.have.property('outcome', 'defer');
    handler.finish();
    await running;
    const lastRenewal = store.lease('lando-job-42')?.renewedAt;
    await timers.tickAsync(DURATION_MS);
    expect(store.lease('lando-job-42')?.renewedAt, 'no renewals once the handler ended').to.equal(lastRenewal);
    expect(store.validHolder('lando-job-42')).to.equal(undefined);
  });

  it('keeps renewing through failed renewals, and reports a lease lost to another replica meanwhile', async () => {
    const leases = replica('replica-a');
    const handler = heldHandler();
    const running = leases.run('42', handler.handle);
    await timers.tickAsync(0);
    store.faults.failNext(3, 'transient', 'tryAcquire');
    await timers.tickAsync(DURATION_MS);
    expect(logger.messages('warn').filter((message) => message === 'Renewing the lease of job 42 failed; trying again')).to.have.length(3);
    await store.tryAcquire('lando-job-42', 'replica-b', DURATION_MS);
    await timers.tickAsync(DURATION_MS / 3);
    expect(metrics.value('lando_lease_lost_total')).to.equal(1);
    expect(logger.messages('error')).to.include('Lost the lease of job 42 to another lando replica while handling a command');
    handler.finish();
    await running;
    expect(store.validHolder('lando-job-42'), 'the other replica’s lease is left alone').to.equal('replica-b');
  });

  it('does not overlap renewals when one waits for the lease store', async () => {
    const leases = replica('replica-a');
    const handler = heldHandler();
    const running = leases.run('42', handler.handle);
    await timers.tickAsync(0);
    const tryAcquire = sinon.spy(store, 'tryAcquire');
    store.faults.delayEachCall(DURATION_MS);
    await timers.tickAsync(DURATION_MS);
    expect(tryAcquire.callCount, 'one renewal started, the ticks during it skipped').to.equal(1);
    store.faults.clear();
    handler.finish();
    await timers.tickAsync(DURATION_MS);
    await running;
  });

  it('releases on shutdown the leases of idle jobs, not of running handlers nor lapsed ones', async () => {
    const leases = replica('replica-a');
    await leases.run('1', async () => RUN_ON);
    await timers.tickAsync(DURATION_MS);
    await leases.run('2', async () => RUN_ON);
    const handler = heldHandler();
    const running = leases.run('3', handler.handle);
    await timers.tickAsync(0);
    const release = sinon.spy(store, 'release');
    await leases.releaseAll();
    expect(release.args.map(([name]) => name)).to.deep.equal(['lando-job-2']);
    expect(store.lease('lando-job-2')).to.equal(undefined);
    expect(store.validHolder('lando-job-3')).to.equal('replica-a');
    handler.finish();
    await running;
  });

  it('logs a release that fails and goes on: the lease lapses by itself', async () => {
    store.faults.failNext(1, 'transient', 'release');
    const disposition = await replica('replica-a').run('42', async () => AT_REST);
    expect(disposition).to.deep.equal(ACK);
    expect(logger.messages('warn')).to.include('Releasing the lease of job 42 failed; it will lapse');
  });

  it('names leases per job and per installation, always as valid Kubernetes names', () => {
    expect(replica('replica-a').leaseNameOf(42)).to.equal('lando-job-42');
    const withInstallation = replica('replica-a', { ...LANDO, installationLabel: { key: 'bespin-installation', value: 'prod' } });
    expect(withInstallation.leaseNameOf('42')).to.equal('lando-prod-job-42');
    const odd = replica('replica-a').leaseNameOf('Job 42/ÄÖ');
    expect(odd).to.match(/^lando-job-job-42-ao-[0-9a-f]{8}$/);
    expect(odd).to.not.equal(replica('replica-a').leaseNameOf('job 42/äö'), 'ids that clean alike get their own leases');
    expect(leaseName('lando', 'x'.repeat(300))).to.have.length.at.most(63);
  });

  it('refuses a lease duration that is not a positive number of milliseconds', () => {
    expect(() => new JobLeases(store, { durationMs: 0, holder: 'a' }, LANDO, new SystemClock(), metrics, logger)).to.throw(RangeError, 'job lease duration must be a positive number of milliseconds, got 0');
  });
});
