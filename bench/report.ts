import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import type { JobRunResult } from './job-run-scenario.js';
import type { WatcherSyncResult } from './watcher-sync-scenario.js';

export type ScenarioResult = JobRunResult | WatcherSyncResult;

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly kernel: string;
  /** 1-minute load average when the benchmark began: anything else busy on the machine skews the numbers. */
  readonly loadAverage: number;
}

/** One of the targets, checked against this run. */
export interface TargetCheck {
  readonly scenario: string;
  readonly target: string;
  readonly limit: number;
  readonly actual: number;
  readonly pass: boolean;
}

export function describeMachine(): Machine {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    kernel: `${process.platform} ${release()}`,
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
  };
}

export function machineLine(machine: Machine): string {
  return `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB memory, Node ${machine.node}, ${machine.kernel}; load average ${machine.loadAverage} at start`;
}

const MAX_BESPIN_REQUESTS_PER_JOB = 20;
const MAX_K8S_REQUESTS_PER_JOB = 21;
const MAX_K8S_REQUESTS_PER_JOB_WITH_LEASES = 28;
const MAX_RSS_MB = 150;

/** The targets of the issue (for a 2-core machine on loopback) that this run's scenarios can be checked against. */
export function checkTargets(results: readonly ScenarioResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const check = (scenario: string, target: string, limit: number, actual: number, atMost: boolean): void => {
    checks.push({ scenario, target, limit, actual, pass: Number.isFinite(actual) && (atMost ? actual <= limit : actual >= limit) });
  };
  const jobRuns = results.filter((result): result is JobRunResult => result.scenario === 'jobs');
  const byJobs = new Map(jobRuns.map((result) => [result.options.jobs, result]));
  for (const run of jobRuns) {
    const { jobs, leases } = run.options;
    check(run.name, 'every job FINISHED', jobs, run.finished, false);
    check(run.name, 'bespin-api requests per job', MAX_BESPIN_REQUESTS_PER_JOB, run.requestsPerJob.bespin, true);
    const k8sLimit = leases ? MAX_K8S_REQUESTS_PER_JOB_WITH_LEASES : MAX_K8S_REQUESTS_PER_JOB;
    check(run.name, `Kubernetes requests per job (leases ${leases ? 'on' : 'off'})`, k8sLimit, run.requestsPerJob.kubernetes, true);
    if (jobs === 1) check(run.name, 'step transition p95 ms', 15, run.stepTransitionMs?.p95 ?? Number.NaN, true);
    if (jobs === 100) {
      check(run.name, 'jobs per minute', 1000, run.jobsPerMinute, false);
      check(run.name, 'step transition p95 ms', 150, run.stepTransitionMs?.p95 ?? Number.NaN, true);
    }
    if (jobs === 1000) {
      check(run.name, 'lando peak RSS MB', MAX_RSS_MB, run.processes.lando.peakRssMb, true);
      const hundred = byJobs.get(100);
      if (hundred) check(run.name, 'wall time / wall time of 100 jobs', 12, run.wallSeconds / hundred.wallSeconds, true);
    }
  }
  for (const sync of results.filter((result): result is WatcherSyncResult => result.scenario === 'watcher-sync')) {
    check(sync.name, 'every existing Job listed', sync.options.existingJobs, sync.listedJobs, false);
    if (sync.options.existingJobs === 10_000) {
      check(sync.name, 'seconds until synced', 5, sync.syncedSeconds, true);
      check(sync.name, 'watcher peak RSS MB', MAX_RSS_MB, sync.watcher.peakRssMb, true);
    }
  }
  return checks;
}

/** Everything a person wants on the terminal: the machine, the numbers, requests by operation, the targets. */
export function formatReport(machine: Machine, results: readonly ScenarioResult[], checks: readonly TargetCheck[]): string {
  const sections = [machineLine(machine)];
  const jobRuns = results.filter((result): result is JobRunResult => result.scenario === 'jobs');
  const syncs = results.filter((result): result is WatcherSyncResult => result.scenario === 'watcher-sync');
  if (jobRuns.length > 0) {
    sections.push(
      table(
        ['scenario', 'leases', 'conc.', 'warm-up', 'finished', 'wall s', 'jobs/min', 'transition ms p50/p95/p99/max', 'bespin req/job', 'k8s req/job', 'lando peak MB', 'lando CPU s', 'watcher peak MB', 'watcher CPU s', 'bench CPU s'],
        jobRuns.map((run) => {
          const latency = run.stepTransitionMs;
          return [
            run.name,
            run.options.leases ? 'on' : 'off',
            String(run.options.concurrency),
            String(run.options.warmupJobs),
            `${run.finished}/${run.options.jobs}`,
            fixed(run.wallSeconds),
            fixed(run.jobsPerMinute, 0),
            latency ? [latency.p50, latency.p95, latency.p99, latency.max].map((value) => fixed(value, 1)).join(' / ') : '-',
            fixed(run.requestsPerJob.bespin),
            fixed(run.requestsPerJob.kubernetes),
            fixed(run.processes.lando.peakRssMb, 1),
            fixed(run.processes.lando.cpuSeconds),
            fixed(run.processes.watcher.peakRssMb, 1),
            fixed(run.processes.watcher.cpuSeconds),
            fixed(run.processes.harness.cpuSeconds),
          ];
        }),
      ),
    );
    sections.push('Requests per job by operation (counted by the test servers from the first start_job on)');
    const operations = (pick: (run: JobRunResult) => Readonly<Record<string, number>>, prefix: string): string[][] => {
      const names = [...new Set(jobRuns.flatMap((run) => Object.keys(pick(run))))].sort();
      return names.map((name) => [`${prefix} ${name}`, ...jobRuns.map((run) => fixed(pick(run)[name] ?? 0))]);
    };
    sections.push(
      table(
        ['operation', ...jobRuns.map((run) => run.name)],
        [...operations((run) => run.requestsPerJob.bespinByOperation, 'bespin'), ...operations((run) => run.requestsPerJob.kubernetesByOperation, 'k8s')],
      ),
    );
  }
  if (syncs.length > 0) {
    sections.push(
      table(
        ['scenario', 'existing (complete/failed/running)', 'synced s', 'list+report s', 'start ms', 'listed', 'outcomes queued', 'k8s requests', 'watcher peak MB', 'watcher CPU s'],
        syncs.map((sync) => [
          sync.name,
          `${sync.existing.complete}/${sync.existing.failed}/${sync.existing.running}`,
          fixed(sync.syncedSeconds),
          fixed(sync.listAndReportSeconds),
          String(sync.startMs),
          String(sync.listedJobs),
          String(sync.outcomesQueued),
          String(sync.kubernetesRequests),
          fixed(sync.watcher.peakRssMb, 1),
          fixed(sync.watcher.totalCpuSeconds),
        ]),
      ),
    );
  }
  if (checks.length > 0) {
    sections.push(
      table(
        ['', 'scenario', 'target', 'limit', 'actual'],
        checks.map((entry) => [entry.pass ? 'PASS' : 'MISS', entry.scenario, entry.target, String(entry.limit), fixed(entry.actual)]),
      ),
    );
  }
  const problems = results.flatMap((result) => result.problems.map((problem) => `${result.name}: ${problem}`));
  if (problems.length > 0) sections.push(`Problems:\n${problems.join('\n')}`);
  return `${sections.join('\n\n')}\n`;
}

function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** A plain-text table: first column left-aligned, numbers right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}
