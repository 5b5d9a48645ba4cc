import { STEP_TYPES, type StepType } from '../domain/job-codes.js';
import { stepByType } from '../domain/job-steps.js';
import type { JobProgress } from '../ports/progress-publisher.js';
import { MemoryMetrics } from '../adapters/memory/memory-metrics.js';
import { InMemorySystem } from './in-memory-system.js';
import { LiveTable, STATE_NAMES, STEP_NAMES, terminalOf, type ActiveJob, type LiveTableView } from './sandbox-live-table.js';
import type { Logger } from '../ports/logger.js';

export interface SandboxOptions {
  readonly jobs: number;
  readonly stepMs: number;
  /** The step at which the last demo job fails, to show the error path. */
  readonly failStep?: StepType;
  readonly timeoutMs: number;
  /**
   * Run lando and the watcher through the real Kubernetes and bespin-api adapters against the
   * project's test servers on loopback, instead of the in-memory cluster and bespin-api.
   */
  readonly withServers?: boolean;
  readonly logger: Logger;
  readonly out: NodeJS.WritableStream;
}

export interface SandboxJobResult {
  readonly id: number;
  readonly expected: string;
  readonly ended: string;
  readonly stepMs: Readonly<Record<string, number>>;
  readonly totalMs: number;
}

const FIRST_JOB_ID = 1001;
const END_STATES: readonly string[] = ['F', 'E', 'C'];

interface JobTimeline {
  readonly id: number;
  readonly expected: string;
  readonly changes: { at: number; state: string; step: string }[];
}

/**
 * The sandbox: lando and the watcher in one process over a simulated cluster and bespin-api,
 * running demo jobs the way bespin-api starts them, all at once through lando's concurrent
 * dispatcher. On a terminal it shows a live table of the running jobs; otherwise it prints a
 * line per state or step change. Then it prints a summary, and succeeds only if every job
 * ended as it was meant to.
 */
export async function runSandbox(options: SandboxOptions): Promise<SandboxJobResult[]> {
  const failingJob = options.failStep ? FIRST_JOB_ID + options.jobs - 1 : undefined;
  const workloads = {
    stepMs: options.stepMs,
    fail: (jobId: string, step: StepType) => (Number(jobId) === failingJob && step === options.failStep ? `sandbox: ${step} failed on purpose (--fail-step)` : undefined),
  };
  // Loaded only on demand: the test servers and the Kubernetes client take seconds to load.
  const servers = options.withServers
    ? await (await import('./sandbox-servers.js')).startSandboxServers({ ...workloads, logger: options.logger, metrics: new MemoryMetrics() })
    : undefined;
  const system = new InMemorySystem(
    servers ? { logger: options.logger, adapters: servers.adapters, bespinRecords: servers.bespinRecords } : { logger: options.logger, workloads },
  );
  const started = Date.now();
  const timelines = new Map<number, JobTimeline>();
  for (let index = 0; index < options.jobs; index += 1) {
    const id = FIRST_JOB_ID + index;
    system.bespin.generateJob(id, { state: 'A', step: '', name: `Sandbox job ${index + 1}` });
    timelines.set(id, { id, expected: id === failingJob ? 'E' : 'F', changes: [{ at: 0, state: 'S', step: '' }] });
  }
  const terminal = terminalOf(options.out);
  const live = terminal ? new LiveTable(terminal, () => liveView(timelines, Date.now() - started)) : undefined;
  system.onProgress((progress) => {
    const at = Date.now() - started;
    if (recordChange(timelines, progress, at) && !live) options.out.write(changeLine(progress, at));
  });

  const bespinSteps = options.failStep ? ` (job ${failingJob} will fail at ${stepByType(options.failStep).bespinStep} ${STEP_NAMES[stepByType(options.failStep).bespinStep]})` : '';
  options.out.write(`lando-k8s sandbox: ${options.jobs} job(s), each step's Job running ${options.stepMs} ms${bespinSteps}\n`);
  if (servers) options.out.write(`through the test servers: Kubernetes API ${servers.urls.kubernetes}, bespin-api ${servers.urls.bespin}\n`);
  await system.start();
  live?.start();
  try {
    await Promise.all([...timelines.keys()].map((id) => system.startJob(id)));
    await waitForEnd(timelines, options.timeoutMs);
  } finally {
    live?.stop();
    await system.stop();
    await servers?.close();
  }
  const results = [...timelines.values()].map(summarize);
  options.out.write(summaryTable(results));
  return results;
}

export function sandboxSucceeded(results: readonly SandboxJobResult[]): boolean {
  return results.every((result) => result.ended === result.expected);
}

/** Adds the change to its job's timeline; false for a job that is not one of the sandbox's. */
function recordChange(timelines: Map<number, JobTimeline>, progress: JobProgress, at: number): boolean {
  const timeline = timelines.get(progress.job);
  if (!timeline) return false;
  timeline.changes.push({ at, state: progress.state, step: progress.step });
  return true;
}

function changeLine(progress: JobProgress, at: number): string {
  const seconds = (at / 1000).toFixed(3).padStart(8);
  const state = (STATE_NAMES[progress.state] ?? progress.state).padEnd(9);
  return `${seconds}s  job ${progress.job}  ${state} ${progress.step.padEnd(1)}  ${STEP_NAMES[progress.step] ?? ''}\n`;
}

/** The live table's snapshot at `now` (ms since the sandbox started). */
function liveView(timelines: ReadonlyMap<number, JobTimeline>, now: number): LiveTableView {
  const counts = { F: 0, E: 0, C: 0 };
  let queued = 0;
  const active: ActiveJob[] = [];
  for (const timeline of timelines.values()) {
    const last = timeline.changes.at(-1)!;
    if (last.state === 'F' || last.state === 'E' || last.state === 'C') {
      counts[last.state] += 1;
      continue;
    }
    // The first change is bespin's own (state S); lando's first shows it took the job up.
    const startedAt = timeline.changes[1]?.at;
    if (startedAt === undefined) queued += 1;
    else active.push({ id: timeline.id, state: last.state, step: last.step, elapsedMs: now - startedAt, inStepMs: now - last.at });
  }
  return { total: timelines.size, finished: counts.F, errored: counts.E, canceled: counts.C, queued, active, elapsedMs: now };
}

async function waitForEnd(timelines: Map<number, JobTimeline>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ended = () => [...timelines.values()].every((timeline) => END_STATES.includes(timeline.changes.at(-1)!.state));
  while (!ended() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

function summarize(timeline: JobTimeline): SandboxJobResult {
  const stepMs: Record<string, number> = {};
  timeline.changes.forEach((change, index) => {
    const next = timeline.changes[index + 1];
    if (next && change.state === 'R' && change.step !== '') stepMs[change.step] = (stepMs[change.step] ?? 0) + next.at - change.at;
  });
  const last = timeline.changes.at(-1)!;
  return { id: timeline.id, expected: timeline.expected, ended: END_STATES.includes(last.state) ? last.state : 'unfinished', stepMs, totalMs: last.at };
}

function summaryTable(results: readonly SandboxJobResult[]): string {
  const steps = ['V', ...STEP_TYPES.map((type) => stepByType(type).bespinStep)];
  const header = ['job', 'ended', 'expected', ...steps.map((step) => `${step} ms`), 'total ms', ''];
  const rows = results.map((result) => [
    String(result.id),
    STATE_NAMES[result.ended] ?? result.ended,
    STATE_NAMES[result.expected] ?? result.expected,
    ...steps.map((step) => (result.stepMs[step] === undefined ? '-' : String(result.stepMs[step]))),
    String(result.totalMs),
    result.ended === result.expected ? 'ok' : 'NOT AS EXPECTED',
  ]);
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  const ok = results.filter((result) => result.ended === result.expected).length;
  return ['', line(header), ...rows.map(line), '', `${ok} of ${results.length} job(s) ended as expected`, ''].join('\n');
}
