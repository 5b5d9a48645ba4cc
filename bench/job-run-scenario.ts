import { performance } from 'node:perf_hooks';
import { encodeMessage } from '../src/adapters/amqp/message-codec.js';
import { STEP_TYPES } from '../src/domain/job-codes.js';
import type { RecordedHttpRequest } from '../testservers/bespin-api-test-server.js';
import type { JobTimes } from '../testservers/k8s/k8s-api-test-server.js';
import { BenchEnvironment } from './bench-environment.js';
import { parseJsonObject } from './json-object.js';
import { processReport, type ProcessReport } from './process-report.js';
import { ownProcessStats } from './process-stats.js';
import { Progress } from './progress.js';
import type { RoleProcess } from './role-process.js';
import { perJob, round, sum, summarize, type LatencySummary } from './statistics.js';

export interface JobRunOptions {
  readonly jobs: number;
  /** `lando.concurrency`; the prefetch keeps its default unless smaller (lando takes the larger of the two). */
  readonly concurrency: number;
  readonly leases: boolean;
  /**
   * Jobs run through all five steps first, in the same processes, and not measured: the
   * numbers are then those of a service that has been running (JIT-compiled code, open
   * connections), not of its very first job. 0 measures a cold start.
   */
  readonly warmupJobs: number;
  /** The run is abandoned, and reported failed, after this long. */
  readonly timeoutMs: number;
  readonly nodeArgs?: readonly string[];
}

export interface JobRunResult {
  readonly scenario: 'jobs';
  readonly name: string;
  readonly options: Omit<JobRunOptions, 'nodeArgs'>;
  /** Every job reached FINISHED within the timeout. */
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly finished: number;
  readonly notFinished: number;
  /** From the first start_job published to the last job marked FINISHED in bespin-api. */
  readonly wallSeconds: number;
  readonly jobsPerMinute: number;
  /** A step's Job marked complete → the next step's Job of the same bespin job created, timed in the test server. */
  readonly stepTransitionMs: LatencySummary | undefined;
  readonly stepTransitionMsByStep: Readonly<Record<string, LatencySummary | undefined>>;
  readonly requestsPerJob: {
    readonly bespin: number;
    readonly kubernetes: number;
    readonly bespinByOperation: Readonly<Record<string, number>>;
    readonly kubernetesByOperation: Readonly<Record<string, number>>;
  };
  readonly processes: { readonly lando: ProcessReport; readonly watcher: ProcessReport; readonly harness: ProcessReport };
}

const STARTUP_TIMEOUT_MS = 30_000;
const QUIET_MS = 500;
const QUIET_LIMIT_MS = 5000;
const JOB_PATH = /\/admin\/jobs\/(\d+)\/$/;
const AT_REST = new Set(['F', 'E', 'C']);

/**
 * N jobs started together (N start_job messages as bespin-api sends them) and run through all
 * five steps by lando and the watcher as processes, every step's Job completing as soon as its
 * pod runs. Requests are counted from the first measured start_job on, so neither the roles'
 * start-up calls nor the warm-up jobs are charged to the jobs.
 */
export async function runJobScenario(options: JobRunOptions): Promise<JobRunResult> {
  const name = `jobs-${options.jobs}`;
  const tracker = new JobStateTracker(1, options.jobs);
  // Ids after the measured ones, so no request of theirs is mistaken for a measured job's.
  const warmup = new JobStateTracker(options.jobs + 1, options.warmupJobs);
  const bespinCounts = new Map<string, number>();
  let counting = false;
  let bespinRequests = 0;
  const environment = await BenchEnvironment.start({
    autoComplete: {
      mode: 'immediate',
      // The record step's container annotates its own pod with the DukeDS ids it created.
      annotations: (job) =>
        job.labels['bespin-job-step'] === 'record_output_project'
          ? { project_id: `project-${job.labels['bespin-job-id']}`, readme_file_id: `readme-${job.labels['bespin-job-id']}` }
          : undefined,
    },
    config: { lando: { concurrency: options.concurrency, leases: options.leases } },
    onBespinRequest: (request) => {
      bespinRequests += 1;
      if (counting) {
        const operation = bespinOperation(request);
        bespinCounts.set(operation, (bespinCounts.get(operation) ?? 0) + 1);
      }
      tracker.observe(request);
      warmup.observe(request);
    },
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
  });
  const problems: string[] = [];
  try {
    const ids = Array.from({ length: options.jobs }, (_, index) => index + 1);
    const warmupIds = Array.from({ length: options.warmupJobs }, (_, index) => options.jobs + 1 + index);
    // What bespin-api does when a user presses start: the state becomes STARTING, then it sends start_job.
    for (const id of [...ids, ...warmupIds]) environment.bespin.records.generateJob(id, { state: 'S', step: '' });
    const watcherProcess = environment.spawnRole('watcher');
    const watcherSynced = watcherProcess.waitForLine('Job watch synced', STARTUP_TIMEOUT_MS);
    const [watcherStartMs, lando] = await Promise.all([watcherProcess.started(STARTUP_TIMEOUT_MS), environment.startRole('lando')]);
    const watcher = { process: watcherProcess, startMs: watcherStartMs };
    // The watcher's first list and its watch are start-up, not work for the jobs: let them happen before counting.
    await watcherSynced;
    await waitFor(() => environment.k8s.openWatches > 0, 'the watcher to open its watch', STARTUP_TIMEOUT_MS);
    const startJob = (id: number): Buffer => encodeMessage({ command: 'start_job', jobId: String(id), version: '2.0.0' }, 'pickle').body;
    if (warmupIds.length > 0) {
      await environment.publishAll(warmupIds.map(startJob));
      const warmed = await Promise.race([warmup.allAtRest(options.timeoutMs), exitOf(lando.process), exitOf(watcher.process)]);
      if (warmed !== 'settled') throw new Error(`the ${warmupIds.length} warm-up jobs did not finish: ${warmed}`);
      // What lando does after a job came to rest (releasing its Lease) must not be charged to the measured jobs.
      await untilQuiet(() => environment.k8s.calls.total() + bespinRequests);
    }
    const bodies = ids.map(startJob);

    environment.k8s.calls.clear();
    environment.k8s.jobTimeline.clear();
    counting = true;
    const before = { lando: lando.process.stats(), watcher: watcher.process.stats(), harness: ownProcessStats() };
    const progress = new Progress(name, options.jobs, 'jobs finished');
    tracker.onChange = () => progress.update(tracker.finished, tracker.failed);
    const startedAt = performance.now();
    await environment.publishAll(bodies);
    const outcome = await Promise.race([
      tracker.allAtRest(options.timeoutMs),
      exitOf(lando.process),
      exitOf(watcher.process),
    ]);
    const settled = outcome === 'settled';
    const endedAt = settled ? (tracker.lastAtRestAt ?? performance.now()) : performance.now();
    progress.finish();
    if (!settled) problems.push(outcome);
    // Judged at the deadline: a job that finishes later did not finish in time.
    let finished = 0;
    for (const id of ids) {
      const state = (environment.bespin.records.job(id) as { state?: string } | undefined)?.state;
      if (state === 'F') finished += 1;
      else if (problems.length < 10) problems.push(`job ${id} ended in state ${state ?? '?'}`);
    }
    if (finished < options.jobs) problems.push(`lando's last lines:\n${lando.process.tail}`, `the watcher's last lines:\n${watcher.process.tail}`);
    // The requests a job causes after it came to rest (its Lease released) are still its own.
    if (settled) await untilQuiet(() => environment.k8s.calls.total() + bespinRequests);
    counting = false;
    const after = { lando: lando.process.stats(), watcher: watcher.process.stats(), harness: ownProcessStats() };
    const wallSeconds = (endedAt - startedAt) / 1000;
    const kubernetesCounts = environment.k8s.calls.countsByOperation();
    const bespinCountsByOperation = Object.fromEntries(bespinCounts);
    const transitions = stepTransitions(environment.k8s.jobTimeline.entries());
    return {
      scenario: 'jobs',
      name,
      options: { jobs: options.jobs, concurrency: options.concurrency, leases: options.leases, warmupJobs: options.warmupJobs, timeoutMs: options.timeoutMs },
      ok: settled && finished === options.jobs,
      problems,
      finished,
      notFinished: options.jobs - finished,
      wallSeconds: round(wallSeconds),
      jobsPerMinute: round((finished / wallSeconds) * 60),
      stepTransitionMs: summarize([...transitions.values()].flat()),
      stepTransitionMsByStep: Object.fromEntries([...transitions].map(([step, values]) => [step, summarize(values)])),
      requestsPerJob: {
        bespin: round(sum(bespinCountsByOperation) / options.jobs),
        kubernetes: round(sum(kubernetesCounts) / options.jobs),
        bespinByOperation: perJob(bespinCountsByOperation, options.jobs),
        kubernetesByOperation: perJob(kubernetesCounts, options.jobs),
      },
      processes: {
        lando: processReport(before.lando, after.lando, lando.process, lando.startMs),
        watcher: processReport(before.watcher, after.watcher, watcher.process, watcher.startMs),
        harness: processReport(before.harness, after.harness),
      },
    };
  } finally {
    tracker.dispose();
    warmup.dispose();
    await environment.stop();
  }
}

/** `GET /admin/jobs/{id}/`; a job update also names the fields it writes, e.g. `PUT /admin/jobs/{id}/ state`. */
function bespinOperation(request: RecordedHttpRequest): string {
  const path = request.path.replace(/\?.*$/, '').replace(/^\/api\/v2/, '').replace(/\/\d+\//g, '/{id}/');
  if (request.method !== 'PUT' || !JOB_PATH.test(request.path)) return `${request.method} ${path}`;
  return `${request.method} ${path} ${Object.keys(parseJsonObject(request.body)).sort().join(',')}`;
}


/** Waits until `count` has not moved for QUIET_MS, QUIET_LIMIT_MS at most: the roles have nothing left in flight. */
async function untilQuiet(count: () => number): Promise<void> {
  const deadline = performance.now() + QUIET_LIMIT_MS;
  let last = count();
  let stableSince = performance.now();
  while (performance.now() < deadline && performance.now() - stableSince < QUIET_MS) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = count();
    if (now !== last) {
      last = now;
      stableSince = performance.now();
    }
  }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with a problem when the role process exits; the scenario never wants that. */
async function exitOf(role: RoleProcess): Promise<string> {
  const code = await role.exit;
  return `${role.role} exited with ${code} during the run; its last lines:\n${role.tail}`;
}

/** For each step after the first: its Job's creation minus the previous step's completion, per bespin job. */
function stepTransitions(timeline: readonly JobTimes[]): Map<string, number[]> {
  const byJob = new Map<string, Map<string, JobTimes>>();
  for (const times of timeline) {
    const jobId = times.labels['bespin-job-id'];
    const step = times.labels['bespin-job-step'];
    if (jobId === undefined || step === undefined) continue;
    const steps = byJob.get(jobId) ?? new Map<string, JobTimes>();
    steps.set(step, times);
    byJob.set(jobId, steps);
  }
  const transitions = new Map<string, number[]>(STEP_TYPES.slice(1).map((step) => [step, []]));
  for (const steps of byJob.values()) {
    STEP_TYPES.slice(1).forEach((step, index) => {
      const completed = steps.get(STEP_TYPES[index]!)?.completedAt;
      const created = steps.get(step)?.createdAt;
      if (completed !== undefined && created !== undefined) transitions.get(step)!.push(created - completed);
    });
  }
  return transitions;
}

/** Follows the states of jobs `firstId`..`firstId + total - 1` through the bespin-api updates lando makes, to see when all are at rest. */
class JobStateTracker {
  onChange: () => void = () => undefined;
  lastAtRestAt: number | undefined;
  private readonly states = new Map<number, string>();
  private atRest = 0;
  private errored = 0;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly firstId: number,
    private readonly total: number,
  ) {}

  get finished(): number {
    return this.atRest - this.errored;
  }

  get failed(): number {
    return this.errored;
  }

  observe(request: RecordedHttpRequest): void {
    if (request.method !== 'PUT' || request.status >= 300) return;
    const match = JOB_PATH.exec(request.path);
    const state = parseJsonObject(request.body).state;
    if (!match || typeof state !== 'string') return;
    const id = Number(match[1]);
    if (id < this.firstId || id >= this.firstId + this.total) return;
    const previous = this.states.get(id) ?? '';
    this.states.set(id, state);
    this.errored += (state === 'E' ? 1 : 0) - (previous === 'E' ? 1 : 0);
    const wasAtRest = AT_REST.has(previous);
    const isAtRest = AT_REST.has(state);
    if (wasAtRest === isAtRest) return;
    this.atRest += isAtRest ? 1 : -1;
    if (isAtRest) this.lastAtRestAt = performance.now();
    this.onChange();
    if (this.atRest === this.total) this.wake?.();
  }

  /** 'settled' once every job is FINISHED, ERRORED or CANCELED; a problem after `timeoutMs`. */
  allAtRest(timeoutMs: number): Promise<string> {
    if (this.atRest === this.total) return Promise.resolve('settled');
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.timer);
        resolve('settled');
      };
      this.timer = setTimeout(() => resolve(`timed out after ${timeoutMs / 1000} s with ${this.total - this.atRest} of ${this.total} jobs not at rest`), timeoutMs);
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
