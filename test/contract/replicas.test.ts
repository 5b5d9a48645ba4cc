import { expect } from 'chai';
import sinon from 'sinon';
import { MemoryLeaseStore } from '../../src/adapters/memory/memory-lease-store.js';
import type { Delivery } from '../../src/domain/commands.js';
import { JobRunner, type JobRunResult } from '../../src/domain/job-runner.js';
import { JOB_STEPS } from '../../src/domain/job-steps.js';
import type { LeaderElectionSettings } from '../../src/domain/leader-elector.js';
import { JobSystem, waitUntil } from '../support/job-system.js';

/**
 * Several replicas of lando and of the watcher on one queue, cluster and bespin-api (W20):
 * lando's per-job Leases keep two replicas off one job, and leader election lets exactly one
 * watcher report, a standby taking over when the leader goes.
 */

/** Short, so a job held by an idle replica is free again soon; handlers here take milliseconds, far below it. */
const JOB_LEASE_MS = 600;
/**
 * A stopping leader gives its lease up, so the standby's quick retries make the hand-over fast;
 * the long lease keeps a busy test machine from taking the lead away from a live leader.
 */
const ELECTION: Omit<LeaderElectionSettings, 'identity'> = { leaseName: 'lando-watcher', leaseDurationMs: 5000, renewDeadlineMs: 4000, retryPeriodMs: 50 };
/**
 * One delivery at a time per replica, so two commands sent back to back go to different
 * replicas when both are idle. A conflict costs an attempt: enough of them that a command
 * waiting for a lease is never dead-lettered here.
 */
const QUEUE = { prefetch: 1, maxAttempts: 10_000, retryDelayMs: 5 } as const;

/** One run of the JobRunner's handler, in the order handlers started and ended across both replicas. */
interface HandlerRun {
  readonly jobId: string;
  readonly runner: string;
  readonly start: number;
  end: number;
}

/** Records every handler run of every JobRunner instance (one per lando replica). */
function recordHandlerRuns(): HandlerRun[] {
  const runs: HandlerRun[] = [];
  const runners = new Map<JobRunner, string>();
  let tick = 0;
  // With leases on, the dispatcher runs commands through JobRunner.run.
  const stub = sinon.stub(JobRunner.prototype, 'run');
  const original = stub.wrappedMethod;
  stub.callsFake(async function (this: JobRunner, delivery: Delivery): Promise<JobRunResult> {
    if (!runners.has(this)) runners.set(this, `runner-${runners.size + 1}`);
    const run: HandlerRun = { jobId: String(delivery.message.jobId), runner: runners.get(this) ?? '', start: tick++, end: Number.POSITIVE_INFINITY };
    runs.push(run);
    try {
      return await original.call(this, delivery);
    } finally {
      run.end = tick++;
    }
  });
  return runs;
}

function overlapping(runs: readonly HandlerRun[]): string[] {
  const found: string[] = [];
  for (const [index, a] of runs.entries()) {
    for (const b of runs.slice(index + 1)) {
      if (a.jobId === b.jobId && a.start < b.end && b.start < a.end) found.push(`job ${a.jobId}: ${a.runner} [${a.start}, ${a.end}] and ${b.runner} [${b.start}, ${b.end}]`);
    }
  }
  return found;
}

describe('several lando and watcher replicas on one queue', () => {
  let systems: JobSystem[] = [];

  afterEach(async () => {
    sinon.restore();
    // The first system owns the shared world, so it stops last.
    for (const system of [...systems].reverse()) await system.stop();
    systems = [];
  });

  async function replicas(stepMs: number): Promise<[JobSystem, JobSystem]> {
    const leases = new MemoryLeaseStore();
    const replica = (name: string, shareWith?: JobSystem) =>
      new JobSystem({
        ...QUEUE,
        shareWith,
        workloads: { stepMs },
        leases,
        jobLeases: { durationMs: JOB_LEASE_MS, holder: `lando-${name}` },
        leaderElection: { ...ELECTION, identity: `watcher-${name}` },
      });
    const first = replica('a');
    const second = replica('b', first);
    systems = [first, second];
    await first.start();
    await second.start();
    return [first, second];
  }

  function expectAllFinishedCleanly(system: JobSystem, jobIds: readonly number[]): void {
    for (const id of jobIds) expect(system.stateOf(id), `job ${id}`).to.deep.equal({ state: 'F', step: '' });
    expect(system.bespin.jobErrors).to.deep.equal([]);
    expect(system.deadLetters()).to.deep.equal([]);
    expect(system.bespin.outputProjects).to.have.length(jobIds.length);
  }

  function outcomesReported(system: JobSystem): number {
    return JOB_STEPS.reduce((sum, step) => sum + system.metrics.value('watcher_outcomes_reported_total', { step: step.type, outcome: 'complete' }), 0);
  }

  it('runs 20 jobs to FINISHED on two lando replicas, never both on one job at once, though every start_job comes twice', async () => {
    const runs = recordHandlerRuns();
    const [first, second] = await replicas(5);
    // Handlers that wait on bespin-api span many turns of the event loop, as real ones do, so two could interleave.
    first.bespin.faults.delayEachCall(1);
    const jobIds = Array.from({ length: 20 }, (_, index) => index + 1);
    for (const id of jobIds) first.addJob(id);
    for (const id of jobIds) {
      // As a user's double click or bespin-api's retried request would: the copies reach both replicas together.
      await first.startJob(id);
      await first.client.send({ command: 'start_job', jobId: String(id) });
    }
    for (const id of jobIds) await first.waitForState(id, 'F', '');
    await first.quiesce();

    expect(overlapping(runs)).to.deep.equal([]);
    expect(new Set(runs.map((run) => run.runner))).to.have.property('size', 2);
    const conflicts = first.metrics.value('lando_lease_conflicts_total') + second.metrics.value('lando_lease_conflicts_total');
    expect(conflicts, 'commands deferred because the other replica held the job').to.be.greaterThan(0);
    expectAllFinishedCleanly(first, jobIds);
    expect(outcomesReported(first) + outcomesReported(second), 'one watcher reports each step once').to.equal(jobIds.length * JOB_STEPS.length);
  });

  it('finishes every job when the leading watcher stops mid-run: the standby takes over and reconciles', async () => {
    const runs = recordHandlerRuns();
    const [first, second] = await replicas(20);
    await waitUntil(() => first.metrics.value('watcher_leader') + second.metrics.value('watcher_leader') === 1, () => 'a watcher to lead');
    const [leader, standby] = first.metrics.value('watcher_leader') === 1 ? [first, second] : [second, first];
    const jobIds = Array.from({ length: 10 }, (_, index) => index + 1);
    for (const id of jobIds) first.addJob(id);
    for (const id of jobIds) await first.startJob(id);
    await first.waitForState(1, 'R', 'R');

    await leader.watcher.stop();
    expect(leader.metrics.value('watcher_leader')).to.equal(0);
    for (const id of jobIds) await first.waitForState(id, 'F', '');
    await first.quiesce();

    expect(standby.metrics.value('watcher_leader')).to.equal(1);
    expect(outcomesReported(standby), 'the standby reported the steps that ended after the hand-over').to.be.greaterThan(0);
    expect(overlapping(runs)).to.deep.equal([]);
    expectAllFinishedCleanly(first, jobIds);
  });
});
