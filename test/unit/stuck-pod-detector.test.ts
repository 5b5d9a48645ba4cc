import { expect } from 'chai';
import sinon from 'sinon';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import type { PodView } from '../../src/domain/cluster-objects.js';
import { TransientError } from '../../src/domain/errors.js';
import { StuckPodDetector } from '../../src/domain/stuck-pod-detector.js';
import type { Clock } from '../../src/ports/clock.js';
import type { Cluster } from '../../src/ports/cluster.js';
import type { LandoClient } from '../../src/ports/work-queue.js';
import { MemoryLogger } from '../support/memory-logger.js';

/** The detector's timer and scan serialisation, with fake timers and a scripted cluster. */

const SCAN_MS = 1000;

const STUCK_POD: PodView = {
  name: 'stage-data-42-jdoe12-bcdfg',
  labels: { 'bespin-job': 'true', 'bespin-job-id': '42', 'bespin-job-step': 'stage_data', 'job-name': 'stage-data-42-jdoe12', 'controller-uid': 'uid-1' },
  annotations: {},
  creationTimestamp: '2024-01-01T00:00:00Z',
  phase: 'Pending',
  waiting: [{ container: 'stage-data-42-jdoe12', reason: 'InvalidImageName', message: 'invalid reference format' }],
  scheduled: { status: 'True' },
};

/** A listPods answer the test releases when it wants to. */
interface HeldList {
  readonly release: (pods: PodView[]) => void;
}

function scriptedCluster() {
  const held: HeldList[] = [];
  const listPods = sinon.stub<Parameters<Cluster['listPods']>, ReturnType<Cluster['listPods']>>();
  const cluster: Cluster = {
    create: sinon.stub().rejects(new Error('not used')),
    delete: sinon.stub<Parameters<Cluster['delete']>, ReturnType<Cluster['delete']>>().resolves('deleted'),
    list: sinon.stub().resolves([]),
    annotateJob: sinon.stub().rejects(new Error('not used')),
    listPods,
    readPodLog: sinon.stub().resolves(''),
    listEvents: sinon.stub().resolves([]),
    watchJobs: sinon.stub().rejects(new Error('not used')),
  };
  const holdNextList = () =>
    listPods.callsFake(() => new Promise<PodView[]>((resolve) => held.push({ release: resolve })));
  return { cluster, listPods, held, holdNextList };
}

describe('StuckPodDetector scheduling', () => {
  let timers: sinon.SinonFakeTimers;
  const clock: Clock = { now: () => 0, sleep: async () => undefined };

  beforeEach(() => {
    timers = sinon.useFakeTimers();
  });

  afterEach(() => {
    timers.restore();
  });

  function detectorOver(cluster: Cluster, lando: LandoClient = { send: sinon.stub().resolves() }) {
    const logger = new MemoryLogger();
    const detector = new StuckPodDetector(cluster, lando, clock, new MemoryMetrics(), logger, { maxLogBytes: 1024, stuckPodScanMs: SCAN_MS });
    return { detector, logger };
  }

  it('scans every interval, logs a scan that failed and goes on, and stops scanning on stop()', async () => {
    const { cluster, listPods } = scriptedCluster();
    listPods.onFirstCall().rejects(new TransientError('API server unreachable')).onSecondCall().resolves([]).onThirdCall().resolves([]);
    const { detector, logger } = detectorOver(cluster);
    detector.start();
    await timers.tickAsync(SCAN_MS - 1);
    expect(listPods.callCount, 'no scan before the first interval').to.equal(0);
    await timers.tickAsync(1);
    await timers.tickAsync(2 * SCAN_MS);
    expect(listPods.callCount).to.equal(3);
    expect(logger.messages('error')).to.deep.equal(['Scan for pods that cannot start failed: TransientError: API server unreachable']);
    await detector.stop();
    await timers.tickAsync(10 * SCAN_MS);
    expect(listPods.callCount).to.equal(3);
  });

  it('waits in stop() for the scan in progress, and schedules none after it', async () => {
    const { cluster, listPods, held, holdNextList } = scriptedCluster();
    holdNextList();
    const { detector } = detectorOver(cluster);
    detector.start();
    await timers.tickAsync(SCAN_MS);
    expect(held).to.have.length(1);
    let stopped = false;
    const stopping = detector.stop().then(() => {
      stopped = true;
    });
    await timers.tickAsync(0);
    expect(stopped, 'stop() returned during a scan').to.equal(false);
    held[0]!.release([]);
    await stopping;
    await timers.tickAsync(10 * SCAN_MS);
    expect(listPods.callCount).to.equal(1);
  });

  it('runs scans one at a time, so overlapping calls report a stuck Job once', async () => {
    const { cluster, listPods, held, holdNextList } = scriptedCluster();
    holdNextList();
    const send = sinon.stub<Parameters<LandoClient['send']>, ReturnType<LandoClient['send']>>().resolves();
    const { detector } = detectorOver(cluster, { send });
    const first = detector.scan();
    const second = detector.scan();
    await timers.tickAsync(0);
    expect(listPods.callCount, 'the second scan waits for the first').to.equal(1);
    held[0]!.release([STUCK_POD]);
    await timers.tickAsync(0);
    expect(listPods.callCount).to.equal(2);
    held[1]!.release([STUCK_POD]);
    await Promise.all([first, second]);
    expect(send.callCount).to.equal(1);
    expect(send.firstCall.args[0]).to.deep.include({ command: 'stage_job_error', jobId: '42' });
    expect(cluster.delete).to.have.property('callCount', 1);
  });

  it('sends a restarted Job\'s error again: a Job re-created under the same name is a new Job', async () => {
    const { cluster, listPods } = scriptedCluster();
    const restarted: PodView = { ...STUCK_POD, name: 'stage-data-42-jdoe12-hjklm', labels: { ...STUCK_POD.labels, 'controller-uid': 'uid-2' } };
    listPods.onFirstCall().resolves([STUCK_POD]).onSecondCall().resolves([STUCK_POD, restarted]);
    const send = sinon.stub<Parameters<LandoClient['send']>, ReturnType<LandoClient['send']>>().resolves();
    const { detector } = detectorOver(cluster, { send });
    await detector.scan();
    await detector.scan();
    expect(send.callCount).to.equal(2);
    expect(String(send.secondCall.args[0].message)).to.match(/^Pod stage-data-42-jdoe12-hjklm could not start: InvalidImageName/);
  });

  it('leaves pods of finished Jobs alone, whatever their containers last waited for', async () => {
    const { cluster, listPods } = scriptedCluster();
    listPods.resolves([{ ...STUCK_POD, phase: 'Failed' }, { ...STUCK_POD, name: 'stage-data-42-jdoe12-zzzzz', phase: 'Succeeded' }]);
    const send = sinon.stub<Parameters<LandoClient['send']>, ReturnType<LandoClient['send']>>().resolves();
    const { detector } = detectorOver(cluster, { send });
    await detector.scan();
    expect(send.callCount).to.equal(0);
    expect(cluster.delete).to.have.property('callCount', 0);
  });
});
