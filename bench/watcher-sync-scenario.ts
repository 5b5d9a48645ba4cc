import { performance } from 'node:perf_hooks';
import { BenchEnvironment } from './bench-environment.js';
import { parseJsonObject } from './json-object.js';
import { processReport, type ProcessReport } from './process-report.js';
import { Progress } from './progress.js';
import { perJob, round, sum } from './statistics.js';
import { seedJobs, type SeededJobs } from './seeded-jobs.js';

export interface WatcherSyncOptions {
  readonly existingJobs: number;
  readonly timeoutMs: number;
  readonly nodeArgs?: readonly string[];
}

export interface WatcherSyncResult {
  readonly scenario: 'watcher-sync';
  readonly name: string;
  readonly options: Omit<WatcherSyncOptions, 'nodeArgs'>;
  /** The watcher logged that it was synced within the timeout, having listed every existing Job. */
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly existing: SeededJobs;
  /** From spawning the process to its "Job watch synced" line: start-up, the full list and every outcome sent. */
  readonly syncedSeconds: number;
  /** The watcher's own measure, from its first list request to the last listed Job handled. */
  readonly listAndReportSeconds: number;
  readonly startMs: number;
  /** Jobs the watcher says it listed. */
  readonly listedJobs: number;
  /** Outcome messages waiting in lando's queue once synced (no lando runs here). */
  readonly outcomesQueued: number;
  readonly kubernetesRequests: number;
  readonly kubernetesByOperation: Readonly<Record<string, number>>;
  /** At the moment it synced. */
  readonly watcher: ProcessReport;
}

const RUNNING_SHARE = 0.05;
const FAILED_SHARE = 0.05;

/**
 * A watcher started against a namespace that already holds `existingJobs` labelled Jobs,
 * seeded straight into the test server (most Complete, some Failed, a few still running):
 * how long until it has listed them and reported each outcome, and the memory that took.
 */
export async function runWatcherSyncScenario(options: WatcherSyncOptions): Promise<WatcherSyncResult> {
  const name = `watcher-sync-${options.existingJobs}`;
  const environment = await BenchEnvironment.start({
    autoComplete: { mode: 'manual' },
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
  });
  const problems: string[] = [];
  try {
    const seeding = new Progress(`${name} seeding`, options.existingJobs, 'Jobs');
    const existing = await seedJobs(environment.k8s, { total: options.existingJobs, runningShare: RUNNING_SHARE, failedShare: FAILED_SHARE });
    seeding.update(options.existingJobs);
    seeding.finish();
    environment.k8s.calls.clear();

    const progress = new Progress(name, 1, 'watcher synced');
    const watcher = environment.spawnRole('watcher');
    const startup = watcher.started(options.timeoutMs);
    const synced = watcher.waitForLine('Job watch synced', options.timeoutMs);
    let syncLine = '';
    let syncedSeconds = Number.NaN;
    let startMs = Number.NaN;
    try {
      startMs = await startup;
      syncLine = await synced;
      syncedSeconds = (performance.now() - watcher.spawnedAt) / 1000;
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
    const stats = watcher.stats();
    progress.update(syncLine === '' ? 0 : 1);
    progress.finish();

    const logged = parseJsonObject(syncLine);
    const listedJobs = typeof logged.jobs === 'number' ? logged.jobs : 0;
    if (syncLine !== '' && listedJobs !== options.existingJobs) problems.push(`the watcher listed ${listedJobs} Jobs, not ${options.existingJobs}`);
    const kubernetesCounts = environment.k8s.calls.countsByOperation();
    return {
      scenario: 'watcher-sync',
      name,
      options: { existingJobs: options.existingJobs, timeoutMs: options.timeoutMs },
      ok: problems.length === 0,
      problems,
      existing,
      syncedSeconds: round(syncedSeconds),
      listAndReportSeconds: round((typeof logged.synced_in_ms === 'number' ? logged.synced_in_ms : Number.NaN) / 1000),
      startMs: Math.round(startMs),
      listedJobs,
      outcomesQueued: await environment.queuedMessages(),
      kubernetesRequests: sum(kubernetesCounts),
      kubernetesByOperation: perJob(kubernetesCounts, 1),
      watcher: processReport({ peakRssBytes: 0, rssBytes: 0, cpuSeconds: 0 }, stats, watcher),
    };
  } finally {
    await environment.stop();
  }
}
