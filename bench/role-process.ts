import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readProcessStats, type ProcessSample } from './process-stats.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
/** What bin/lando-k8s.mjs (`npm start`) imports once `npm run build` has made dist/ current. */
export const COMPILED_MAIN = join('dist', 'src', 'composition', 'main.js');
const TAIL_LINES = 60;
/** Every role process not yet exited, so an interrupted benchmark can kill them all. */
const LIVE = new Set<RoleProcess>();
/** bunyan's numeric levels. */
const WARN_LEVEL = 40;
const ERROR_LEVEL = 50;

export interface RoleProcessOptions {
  /** Extra node flags, e.g. `--cpu-prof`, placed before the script. */
  readonly nodeArgs?: readonly string[];
}

interface LineWaiter {
  readonly text: string;
  readonly resolve: (line: string) => void;
}

/**
 * One role run as `npm start -- --role=...` runs it after `npm run build`, minus the wrappers:
 * `node dist/src/composition/main.js` spawned directly, the module bin/lando-k8s.mjs imports
 * in-process when dist/ is current. So the child's pid is the node process whose /proc entries
 * are read (npm would put an npm process and an `sh` between), and an edit to src/ during a
 * long run cannot make the launcher fall back to tsx and change what is measured. The log is
 * scanned line by line for markers and warnings; only its tail is kept, so a long run does not
 * fill the benchmark's own memory.
 */
export class RoleProcess {
  readonly pid: number;
  private readonly child: ChildProcess;
  private readonly tailLines: string[] = [];
  private readonly waiters = new Set<LineWaiter>();
  /** Resolves with the exit code (null when a signal ended it) once the process has exited. */
  readonly exit: Promise<number | null>;
  /** `performance.now()` when it was spawned. */
  readonly spawnedAt = performance.now();
  private warningCount = 0;
  private errorCount = 0;

  private constructor(readonly role: string, configPath: string, options: RoleProcessOptions) {
    this.child = spawn(process.execPath, [...(options.nodeArgs ?? []), COMPILED_MAIN, `--role=${role}`, '--config', configPath], {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`could not spawn the ${role} process`);
    this.pid = this.child.pid;
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.onLine(line));
    }
    LIVE.add(this);
    this.exit = once(this.child, 'exit').then(([code]) => {
      LIVE.delete(this);
      return code as number | null;
    });
  }

  /** Spawns the role without waiting: register waitForLine() markers before the event loop turns. */
  static spawn(role: 'lando' | 'watcher', configPath: string, options: RoleProcessOptions = {}): RoleProcess {
    return new RoleProcess(role, configPath, options);
  }

  /** Waits until the role logs that it started; resolves with the milliseconds since it was spawned. */
  async started(timeoutMs = 30_000): Promise<number> {
    await this.waitForLine(`lando-k8s ${this.role} started`, timeoutMs);
    return performance.now() - this.spawnedAt;
  }

  get warnings(): number {
    return this.warningCount;
  }

  get errors(): number {
    return this.errorCount;
  }

  /** The last lines the process wrote, for a failure message. */
  get tail(): string {
    return this.tailLines.join('\n');
  }

  stats(): ProcessSample {
    return readProcessStats(this.pid);
  }

  /** Resolves with the first line, from now on, that contains `text`. */
  waitForLine(text: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const waiter: LineWaiter = {
        text,
        resolve: (line) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.role} did not log "${text}" within ${timeoutMs} ms; its last lines:\n${this.tail}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      void this.exit.then((code) => {
        if (!this.waiters.has(waiter)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        reject(new Error(`${this.role} exited with ${code} before logging "${text}"; its last lines:\n${this.tail}`));
      });
    });
  }

  /** Sends a signal to the process's own group (it is its group leader). */
  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** SIGTERM (a graceful stop lets `--cpu-prof` write its profile), then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  private onLine(line: string): void {
    this.tailLines.push(line);
    if (this.tailLines.length > TAIL_LINES) this.tailLines.shift();
    const level = /"level":(\d+)/.exec(line);
    if (level) {
      const value = Number(level[1]);
      if (value >= ERROR_LEVEL) this.errorCount += 1;
      else if (value >= WARN_LEVEL) this.warningCount += 1;
    }
    for (const waiter of this.waiters) {
      if (line.includes(waiter.text)) waiter.resolve(line);
    }
  }
}

/** SIGKILLs every role process still running: the benchmark is being interrupted or ran out of time. */
export function killAllRoles(): void {
  for (const role of LIVE) role.signal('SIGKILL');
}
