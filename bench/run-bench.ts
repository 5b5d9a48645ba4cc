import 'reflect-metadata';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONCURRENCY, DEFAULT_PREFETCH } from '../src/composition/config-schema.js';
import { runJobScenario } from './job-run-scenario.js';
import { checkTargets, describeMachine, formatReport, machineLine, type ScenarioResult } from './report.js';
import { COMPILED_MAIN, killAllRoles, PROJECT_ROOT } from './role-process.js';
import { runWatcherSyncScenario } from './watcher-sync-scenario.js';

const USAGE = `usage: npm run bench [-- OPTIONS]      (npm run bench:smoke: 5 jobs, nothing else, no JSON)
  --jobs LIST          job counts to run, each its own scenario (default 1,10,100,1000; --jobs= runs none)
  --concurrency N      lando.concurrency (default ${DEFAULT_CONCURRENCY}, as configured by default); work_queue.prefetch keeps its default (${DEFAULT_PREFETCH})
  --leases             per-job Leases on (lando.leases: true)
  --warmup N           jobs run through all steps first in the same processes, not measured (default 10, smoke 0; 0: a cold start)
  --watcher-jobs N     Jobs already in the namespace for the watcher start-up scenario; 0 skips it (default 10000)
  --timeout-s S        hard limit per scenario (default 60 s + 0.5 s per job; 120 s for the watcher start-up)
  --out DIR            where the JSON results go (default bench/results; the smoke run writes none unless given)
  --profile-dir DIR    run the roles with --cpu-prof and --heap-prof, writing the profiles under DIR/<scenario>/
  --node-arg FLAG      a node flag for the role processes, e.g. --node-arg=--max-semi-space-size=2 (repeatable)
  --smoke              the CI smoke run`;

interface BenchOptions {
  readonly jobCounts: readonly number[];
  readonly concurrency: number;
  readonly leases: boolean;
  readonly warmupJobs: number;
  readonly watcherJobs: number;
  readonly timeoutSeconds: number | undefined;
  readonly outDir: string | undefined;
  readonly profileDir: string | undefined;
  readonly nodeArgs: readonly string[];
}

/** Beyond a scenario's own timeout: what start-up, seeding and clean-up may add before the run is cut off. */
const HARD_LIMIT_MARGIN_MS = 120_000;

function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      jobs: { type: 'string' },
      concurrency: { type: 'string', default: String(DEFAULT_CONCURRENCY) },
      leases: { type: 'boolean', default: false },
      warmup: { type: 'string' },
      'watcher-jobs': { type: 'string' },
      'timeout-s': { type: 'string' },
      out: { type: 'string' },
      'profile-dir': { type: 'string' },
      'node-arg': { type: 'string', multiple: true, default: [] },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const smoke = values.smoke;
  return {
    jobCounts: (values.jobs ?? (smoke ? '5' : '1,10,100,1000'))
      .split(',')
      .filter((text) => text.trim() !== '')
      .map((text) => wholeNumber('--jobs', text.trim(), 1)),
    concurrency: wholeNumber('--concurrency', values.concurrency, 1),
    leases: values.leases,
    warmupJobs: wholeNumber('--warmup', values.warmup ?? (smoke ? '0' : '10'), 0),
    watcherJobs: wholeNumber('--watcher-jobs', values['watcher-jobs'] ?? (smoke ? '0' : '10000'), 0),
    timeoutSeconds: values['timeout-s'] === undefined ? undefined : wholeNumber('--timeout-s', values['timeout-s'], 1),
    outDir: values.out ?? (smoke ? undefined : join(PROJECT_ROOT, 'bench', 'results')),
    profileDir: values['profile-dir'] === undefined ? undefined : resolve(values['profile-dir']),
    nodeArgs: values['node-arg'],
  };
}

function wholeNumber(flag: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) throw new UsageError(`${flag} takes whole numbers of at least ${minimum}, got ${JSON.stringify(text)}`);
  return value;
}

class UsageError extends Error {}

/** Node flags for the roles of one scenario: those given, plus the profilers' when profiling. */
function roleNodeArgs(options: BenchOptions, scenario: string): string[] {
  if (options.profileDir === undefined) return [...options.nodeArgs];
  const directory = join(options.profileDir, scenario);
  mkdirSync(directory, { recursive: true });
  return [...options.nodeArgs, '--cpu-prof', `--cpu-prof-dir=${directory}`, '--heap-prof', `--heap-prof-dir=${directory}`];
}

/** Runs one scenario with a hard limit: past it every role is killed and the benchmark exits. */
async function bounded<T>(name: string, limitMs: number, run: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => {
    process.stderr.write(`\n${name}: still running after ${Math.round(limitMs / 1000)} s; killing its processes and giving up\n`);
    killAllRoles();
    process.exit(1);
  }, limitMs);
  try {
    return await run();
  } finally {
    clearTimeout(timer);
  }
}

function resultFileName(result: ScenarioResult, options: BenchOptions): string {
  if (result.scenario === 'watcher-sync') return `${result.name}.json`;
  return `${result.name}${options.concurrency === DEFAULT_CONCURRENCY ? '' : `-c${options.concurrency}`}${options.leases ? '-leases' : ''}.json`;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const machine = describeMachine();
  process.stderr.write(`${machineLine(machine)}\n`);
  if (!existsSync(join(PROJECT_ROOT, COMPILED_MAIN))) throw new UsageError(`${COMPILED_MAIN} is missing: run \`npm run build\` first (npm run bench does)`);
  const results: ScenarioResult[] = [];
  for (const jobs of options.jobCounts) {
    const timeoutMs = (options.timeoutSeconds ?? 60 + jobs / 2) * 1000;
    const nodeArgs = roleNodeArgs(options, `jobs-${jobs}`);
    results.push(
      await bounded(`jobs-${jobs}`, timeoutMs + HARD_LIMIT_MARGIN_MS, () =>
        runJobScenario({ jobs, concurrency: options.concurrency, leases: options.leases, warmupJobs: options.warmupJobs, timeoutMs, nodeArgs }),
      ),
    );
  }
  if (options.watcherJobs > 0) {
    const timeoutMs = (options.timeoutSeconds ?? 120) * 1000;
    const nodeArgs = roleNodeArgs(options, `watcher-sync-${options.watcherJobs}`);
    results.push(
      await bounded(`watcher-sync-${options.watcherJobs}`, timeoutMs + HARD_LIMIT_MARGIN_MS, () =>
        runWatcherSyncScenario({ existingJobs: options.watcherJobs, timeoutMs, nodeArgs }),
      ),
    );
  }

  const checks = checkTargets(results);
  process.stdout.write(`\n${formatReport(machine, results, checks)}`);
  if (options.outDir !== undefined) {
    mkdirSync(options.outDir, { recursive: true });
    const generatedAt = new Date().toISOString();
    for (const result of results) {
      const path = join(options.outDir, resultFileName(result, options));
      const targets = checks.filter((entry) => entry.scenario === result.name);
      writeFileSync(path, `${JSON.stringify({ generatedAt, machine, result, targets }, null, 2)}\n`);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
  const failed = results.filter((result) => !result.ok);
  if (failed.length > 0) process.stderr.write(`not every job finished in: ${failed.map((result) => result.name).join(', ')}\n`);
  return failed.length > 0 ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllRoles();
    process.exit(130);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    killAllRoles();
    if (error instanceof UsageError) {
      process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
