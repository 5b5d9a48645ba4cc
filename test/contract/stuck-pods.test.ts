import { expect } from 'chai';
import type { LandoMessage } from '../../src/domain/commands.js';
import type { StepType } from '../../src/domain/job-codes.js';
import { JOB_STEPS, stepByType } from '../../src/domain/job-steps.js';
import type { WatcherSettings } from '../../src/domain/settings.js';
import { DEFAULT_STUCK_POD_SETTINGS, formatDuration, StuckPodDetector } from '../../src/domain/stuck-pod-detector.js';
import type { Clock } from '../../src/ports/clock.js';
import type { LandoClient } from '../../src/ports/work-queue.js';
import { JobSystem } from '../support/job-system.js';

/**
 * Pods that will never run (W10, W11) end their job ERRORED at their step, through the
 * watcher's StuckPodDetector, lando's JobRunner and the in-memory cluster and queue.
 */

/** Time that moves only when the test says so. */
class ManualClock implements Clock {
  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  async sleep(ms: number): Promise<void> {
    this.current += ms;
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

const IMAGE_PULL_GRACE_MS = DEFAULT_STUCK_POD_SETTINGS.imagePullGraceMs;
const UNSCHEDULABLE_GRACE_MS = DEFAULT_STUCK_POD_SETTINGS.unschedulableGraceMs;
const MISSING_SECRET = 'secret "ddsclient-agent" not found';
const STEP_PODS = { 'bespin-job': 'true' };

interface SentMessage {
  readonly message: Omit<LandoMessage, 'version'>;
  /** Which Jobs still existed when the message went out. */
  readonly jobsAtSend: readonly string[];
}

describe('pods that can never start (W10, W11)', () => {
  let system: JobSystem | undefined;

  afterEach(async () => {
    await system?.stop();
    system = undefined;
  });

  /**
   * A running system whose own detector never fires (its interval is an hour), and a detector
   * over the same cluster and queue driven by the test's scans and manual clock.
   */
  async function scanned(settings: Partial<WatcherSettings> = {}) {
    const watcherSettings: WatcherSettings = { maxLogBytes: 4096, stuckPodScanMs: 3_600_000, ...settings };
    const jobs = new JobSystem({ watcherSettings });
    system = jobs;
    await jobs.start();
    const clock = new ManualClock(Date.now());
    const sent: SentMessage[] = [];
    const lando: LandoClient = {
      send: async (message) => {
        await jobs.client.send(message);
        sent.push({ message, jobsAtSend: jobs.cluster.names('Job') });
      },
    };
    const detector = new StuckPodDetector(jobs.cluster, lando, clock, jobs.metrics, jobs.log.child({ role: 'detector' }), watcherSettings);
    return { jobs, clock, detector, sent };
  }

  /** Starts job `id` and completes its steps until `step` runs; returns that step's Job and pod names. */
  async function runUntil(jobs: JobSystem, id: number, step: StepType): Promise<{ job: string; pod: string }> {
    jobs.addJob(id);
    await jobs.startJob(id);
    for (const earlier of JOB_STEPS) {
      const job = await jobs.waitForJob(id, earlier.type);
      await jobs.quiesce();
      if (earlier.type === step) return { job, pod: await podOf(jobs, job) };
      jobs.cluster.completeJob(job);
    }
    throw new Error(`${step} is not a step`);
  }

  /** The Job's only pod: each test starts one attempt per step. */
  async function podOf(jobs: JobSystem, job: string): Promise<string> {
    const pods = await jobs.cluster.listPods({ 'job-name': job });
    expect(pods, `the pods of Job ${job}`).to.have.length(1);
    return pods[0]!.name;
  }

  it('errors the job at stage_data once its image has failed to pull for the grace, with the reason and the pod\'s events, then deletes the Job', async () => {
    const { jobs, clock, detector, sent } = await scanned();
    const { job, pod } = await runUntil(jobs, 42, 'stage_data');
    jobs.cluster.holdPodWaiting(job, 'ImagePullBackOff', 'Back-off pulling image "nope"');
    jobs.cluster.recordEvent(pod, 'Pulling', 'Pulling image "nope"');
    jobs.cluster.recordEvent(pod, 'BackOff', 'Back-off pulling image "nope"', 'Warning');

    await detector.scan();
    clock.advance(IMAGE_PULL_GRACE_MS - 1);
    await detector.scan();
    await jobs.quiesce();
    expect(sent, 'nothing within the grace').to.deep.equal([]);
    expect(jobs.stateOf(42)).to.deep.equal({ state: 'R', step: 'S' });
    expect(jobs.cluster.names('Job')).to.deep.equal([job]);

    clock.advance(1);
    await detector.scan();
    await jobs.waitForState(42, 'E', 'S');
    await jobs.quiesce();
    const content = [
      `Pod ${pod} could not start: ImagePullBackOff: Back-off pulling image "nope" (waiting for 5m0s)`,
      'Recent events:',
      '  Failed: Error: Back-off pulling image "nope"',
      '  Pulling: Pulling image "nope"',
      '  BackOff: Back-off pulling image "nope"',
    ].join('\n');
    expect(jobs.bespin.jobErrors).to.have.length(1);
    expect(jobs.bespin.jobErrors[0]).to.include({ job: 42, job_step: 'S', content });
    expect(sent.map(({ message }) => message)).to.deep.equal([{ command: 'stage_job_error', jobId: '42', message: content }]);
    expect(sent[0]!.jobsAtSend, 'the error is sent before the Job is deleted').to.include(job);
    expect(jobs.cluster.names('Job'), 'the stuck Job no longer holds cluster resources').to.deep.equal([]);
    expect(jobs.cluster.calls.filter((call) => call.verb === 'delete' && call.kind === 'Job').map((call) => call.name)).to.deep.equal([job]);
    expect(jobs.metrics.value('watcher_stuck_pods_reported_total', { reason: 'ImagePullBackOff' })).to.equal(1);
    expect(jobs.progressOf(42).at(-1), 'the deletion\'s DELETED event reports nothing more').to.equal('E/S');
    expect(jobs.broker.depth('lando.dead-letter'), 'nothing dead-lettered').to.equal(0);
  });

  for (const step of ['stage_data', 'save_output'] as const) {
    it(`errors the job at ${step} when the data-store Secret is missing`, async () => {
      const { jobs, clock, detector } = await scanned();
      const { job, pod } = await runUntil(jobs, 43, step);
      jobs.cluster.holdPodWaiting(job, 'CreateContainerConfigError', MISSING_SECRET);
      await detector.scan();
      clock.advance(IMAGE_PULL_GRACE_MS);
      await detector.scan();
      const bespinStep = stepByType(step).bespinStep;
      await jobs.waitForState(43, 'E', bespinStep);
      await jobs.quiesce();
      expect(jobs.bespin.jobErrors).to.have.length(1);
      expect(jobs.bespin.jobErrors[0]).to.include({ job_step: bespinStep });
      expect(String(jobs.bespin.jobErrors[0]!.content).split('\n')[0]).to.equal(
        `Pod ${pod} could not start: CreateContainerConfigError: ${MISSING_SECRET} (waiting for 5m0s)`,
      );
      expect(jobs.cluster.names('Job')).to.deep.equal([]);
      expect(jobs.metrics.value('watcher_stuck_pods_reported_total', { reason: 'CreateContainerConfigError' })).to.equal(1);
    });
  }

  it('errors an unschedulable pod only past its longer grace, counted from when the scheduler gave up', async () => {
    const { jobs, clock, detector } = await scanned();
    const { job, pod } = await runUntil(jobs, 44, 'run_workflow');
    jobs.cluster.holdPodUnschedulable(job, '0/3 nodes are available: 3 Insufficient cpu.');

    clock.advance(10 * 60_000);
    await detector.scan();
    await jobs.quiesce();
    expect(jobs.stateOf(44), 'past the image pull grace but within the scheduling one').to.deep.equal({ state: 'R', step: 'R' });

    // First seen 10 minutes in: only PodScheduled's transition time makes 16 minutes past its grace.
    clock.advance(6 * 60_000);
    await detector.scan();
    await jobs.waitForState(44, 'E', 'R');
    await jobs.quiesce();
    const lines = String(jobs.bespin.jobErrors[0]?.content).split('\n');
    expect(lines[0]).to.match(new RegExp(`^Pod ${pod} could not be scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu\\. \\(waiting for 1[56]m\\d+s\\)$`));
    expect(lines.slice(1)).to.deep.equal(['Recent events:', '  FailedScheduling: 0/3 nodes are available: 3 Insufficient cpu.']);
    expect(jobs.metrics.value('watcher_stuck_pods_reported_total', { reason: 'Unschedulable' })).to.equal(1);
  });

  it('leaves an unschedulable pod alone below its grace', async () => {
    const { jobs, clock, detector, sent } = await scanned();
    const { job } = await runUntil(jobs, 45, 'stage_data');
    jobs.cluster.holdPodUnschedulable(job, '0/1 nodes are available: 1 node(s) had untolerated taint.');
    // A minute short of the grace leaves room for the API's whole-second transition time.
    for (let waited = 0; waited < UNSCHEDULABLE_GRACE_MS - 60_000; waited += 60_000) {
      clock.advance(60_000);
      await detector.scan();
    }
    await jobs.quiesce();
    expect(sent).to.deep.equal([]);
    expect(jobs.stateOf(45)).to.deep.equal({ state: 'R', step: 'S' });
    expect(jobs.cluster.names('Job')).to.deep.equal([job]);
  });

  it('reports an image name that can never be pulled at first sight', async () => {
    const { jobs, detector } = await scanned();
    const { job, pod } = await runUntil(jobs, 46, 'organize_output');
    jobs.cluster.holdPodWaiting(job, 'InvalidImageName', 'Failed to apply default image tag "Bad:Image": invalid reference format');
    await detector.scan();
    await jobs.waitForState(46, 'E', 'o');
    await jobs.quiesce();
    expect(String(jobs.bespin.jobErrors[0]?.content).split('\n')[0]).to.equal(
      `Pod ${pod} could not start: InvalidImageName: Failed to apply default image tag "Bad:Image": invalid reference format (waiting for 0ms)`,
    );
  });

  it('reports a Job once across many scans, retrying only the deletion that failed', async () => {
    const { jobs, clock, detector, sent } = await scanned();
    const { job } = await runUntil(jobs, 47, 'stage_data');
    jobs.cluster.holdPodWaiting(job, 'ErrImagePull', 'rpc error: code = NotFound');
    await detector.scan();
    clock.advance(IMAGE_PULL_GRACE_MS);
    jobs.cluster.faults.failNext(1, 'transient', 'delete:Job');
    await detector.scan();
    expect(jobs.cluster.names('Job'), 'the failed deletion left the Job').to.deep.equal([job]);
    for (let scan = 0; scan < 3; scan++) {
      clock.advance(IMAGE_PULL_GRACE_MS);
      await detector.scan();
    }
    await jobs.waitForState(47, 'E', 'S');
    await jobs.quiesce();
    expect(sent).to.have.length(1);
    expect(jobs.bespin.jobErrors).to.have.length(1);
    expect(jobs.cluster.names('Job')).to.deep.equal([]);
    expect(jobs.cluster.calls.filter((call) => call.verb === 'delete' && call.kind === 'Job').map((call) => call.error === undefined)).to.deep.equal([false, true]);
    expect(jobs.metrics.value('watcher_stuck_pods_reported_total', { reason: 'ErrImagePull' })).to.equal(1);
  });

  it('counts the grace from the first sighting of either image pull reason, as Kubernetes alternates them', async () => {
    const { jobs, clock, detector } = await scanned();
    const { job } = await runUntil(jobs, 48, 'stage_data');
    jobs.cluster.holdPodWaiting(job, 'ErrImagePull', 'pull access denied');
    await detector.scan();
    clock.advance(IMAGE_PULL_GRACE_MS);
    jobs.cluster.holdPodWaiting(job, 'ImagePullBackOff', 'Back-off pulling image "private/x"');
    await detector.scan();
    await jobs.waitForState(48, 'E', 'S');
    await jobs.quiesce();
    expect(String(jobs.bespin.jobErrors[0]?.content)).to.match(/could not start: ImagePullBackOff: Back-off pulling image "private\/x" \(waiting for 5m0s\)\n/);
  });

  it('does not report a pod that started before its grace ran out', async () => {
    const { jobs, clock, detector, sent } = await scanned();
    const { job } = await runUntil(jobs, 49, 'stage_data');
    jobs.cluster.holdPodWaiting(job, 'ImagePullBackOff', 'Back-off pulling image "slow"');
    await detector.scan();
    clock.advance(IMAGE_PULL_GRACE_MS - 1000);
    await detector.scan();
    jobs.cluster.completeJob(job);
    await jobs.waitForJob(49, 'run_workflow');
    clock.advance(IMAGE_PULL_GRACE_MS);
    await detector.scan();
    await jobs.quiesce();
    expect(sent).to.deep.equal([]);
    expect(jobs.bespin.jobErrors).to.deep.equal([]);
    expect(jobs.stateOf(49)).to.deep.equal({ state: 'R', step: 'R' });
  });

  it('leaves a Job that failed on its own to the JobMonitor, which reports it once and keeps it', async () => {
    const { jobs, clock, detector, sent } = await scanned();
    const { job } = await runUntil(jobs, 50, 'stage_data');
    jobs.cluster.holdPodWaiting(job, 'CreateContainerError', 'failed to reserve container name');
    await detector.scan();
    jobs.cluster.failJob(job, 'stage data exploded');
    await jobs.waitForState(50, 'E', 'S');
    clock.advance(IMAGE_PULL_GRACE_MS);
    await detector.scan();
    await jobs.quiesce();
    expect(sent).to.deep.equal([]);
    expect(jobs.bespin.jobErrors.map((error) => error.content)).to.deep.equal(['stage data exploded']);
    expect(jobs.cluster.names('Job'), 'a failed Job stays for inspection').to.deep.equal([job]);
  });

  it('does not delete or remember a Job whose error could not be sent, and sends it on the next scan', async () => {
    const { jobs, clock, detector } = await scanned();
    const { job } = await runUntil(jobs, 51, 'save_output');
    jobs.cluster.holdPodWaiting(job, 'CreateContainerConfigError', MISSING_SECRET);
    await detector.scan();
    clock.advance(IMAGE_PULL_GRACE_MS);
    jobs.broker.faults.failNext(1, 'transient', 'send');
    await detector.scan();
    await jobs.quiesce();
    expect(jobs.stateOf(51)).to.deep.equal({ state: 'R', step: 'O' });
    expect(jobs.cluster.names('Job')).to.deep.equal([job]);
    expect(jobs.log.messages('warn').filter((line) => line.startsWith('Could not send store_job_output_error'))).to.have.length(1);

    await detector.scan();
    await jobs.waitForState(51, 'E', 'O');
    await jobs.quiesce();
    expect(jobs.bespin.jobErrors).to.have.length(1);
    expect(jobs.cluster.names('Job')).to.deep.equal([]);
  });

  it('lists the pods once per scan, whatever the number of jobs, within its installation', async () => {
    const installationLabel = { key: 'installation', value: 'blue' };
    const jobs = new JobSystem({
      landoSettings: { baseStageDataVolumeSizeInG: 1, dataStoreSecretName: 'ddsclient-agent', recordOutputProjectServiceAccount: 'annotation-writer-sa', installationLabel },
      watcherSettings: { maxLogBytes: 4096, installationLabel, stuckPodScanMs: 3_600_000 },
    });
    system = jobs;
    await jobs.start();
    const clock = new ManualClock(Date.now());
    const detector = new StuckPodDetector(jobs.cluster, jobs.client, clock, jobs.metrics, jobs.log, { maxLogBytes: 4096, installationLabel });
    const stuck = [await runUntil(jobs, 52, 'stage_data'), await runUntil(jobs, 53, 'run_workflow')];
    await runUntil(jobs, 54, 'stage_data');
    for (const { job } of stuck) jobs.cluster.holdPodWaiting(job, 'ImagePullBackOff', 'Back-off pulling image "gone"');
    await detector.scan();
    clock.advance(IMAGE_PULL_GRACE_MS);
    const callsBefore = jobs.cluster.calls.length;
    await detector.scan();
    await jobs.waitForState(52, 'E', 'S');
    await jobs.waitForState(53, 'E', 'R');
    await jobs.quiesce();
    const podLists = jobs.cluster.calls.slice(callsBefore).filter((call) => call.verb === 'listPods');
    expect(podLists.map((call) => call.selector)).to.deep.equal([{ ...STEP_PODS, installation: 'blue' }]);
    expect(jobs.stateOf(54)).to.deep.equal({ state: 'R', step: 'S' });
  });

  it('scans periodically inside the running watcher, going on after a scan that failed', async () => {
    const jobs = new JobSystem({ watcherSettings: { maxLogBytes: 4096, imagePullGraceMs: 30, stuckPodScanMs: 5 } });
    system = jobs;
    await jobs.start();
    const { job } = await runUntil(jobs, 55, 'stage_data');
    jobs.cluster.faults.failNext(1, 'transient', 'listPods');
    jobs.cluster.holdPodWaiting(job, 'ImagePullBackOff', 'Back-off pulling image "nope"');
    await jobs.waitForState(55, 'E', 'S');
    await jobs.quiesce();
    expect(jobs.log.messages('error')).to.include('Scan for pods that cannot start failed: TransientError: injected transient fault in listPods');
    expect(jobs.bespin.jobErrors).to.have.length(1);
    expect(jobs.cluster.names('Job')).to.deep.equal([]);
  });

  it('refuses settings that would make the detector spin or never wait', async () => {
    const { jobs } = await scanned();
    const build = (settings: WatcherSettings) => () => new StuckPodDetector(jobs.cluster, jobs.client, new ManualClock(0), jobs.metrics, jobs.log, settings);
    expect(build({ maxLogBytes: 1, stuckPodScanMs: 0 })).to.throw(RangeError, 'watcher setting stuckPodScanMs must be a positive number of milliseconds, got 0');
    expect(build({ maxLogBytes: 1, imagePullGraceMs: -1 })).to.throw(RangeError, 'watcher setting imagePullGraceMs must be a non-negative number of milliseconds, got -1');
    expect(build({ maxLogBytes: 1, unschedulableGraceMs: Number.NaN })).to.throw(RangeError, 'unschedulableGraceMs');
  });

  it('prints waits as kubectl does', () => {
    expect([0, 30, 999, 1000, 59_999, 300_000, 3_723_000].map(formatDuration)).to.deep.equal(['0ms', '30ms', '999ms', '1s', '59s', '5m0s', '1h2m3s']);
  });
});
