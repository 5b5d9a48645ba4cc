import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const PROJECT = new URL('../../', import.meta.url);

/** How a process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * `npm`: as an operator runs a role (`npm start -- --role=... --config FILE`), in its own
 * process group so a test can SIGKILL all of it (npm, node) at once. `node`: the command npm
 * start runs (`node bin/lando-k8s.mjs ...`) without npm around it, for tests that read the
 * service's own exit status: npm dies of a SIGTERM sent to its group even when its child
 * exits 0 after it.
 */
export type Launcher = 'npm' | 'node';

/** One role run as a process. Its bunyan lines are kept for assertions and failure messages. */
export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly output: string[] = [];
  private readonly exited: Promise<ExitStatus>;

  private constructor(readonly role: string, configPath: string, private readonly launcher: Launcher) {
    const roleArguments = [`--role=${role}`, '--config', configPath];
    this.child =
      launcher === 'npm'
        ? spawn('npm', ['start', '--silent', '--', ...roleArguments], { cwd: PROJECT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(process.execPath, ['bin/lando-k8s.mjs', ...roleArguments], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk.toString('utf8')));
    this.child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk.toString('utf8')));
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  }

  /** Starts the role and waits until it logs that it started; one that does not is killed. */
  static async start(role: string, configPath: string, launcher: Launcher = 'npm'): Promise<ServiceProcess> {
    const service = new ServiceProcess(role, configPath, launcher);
    try {
      await service.waitForLog(`lando-k8s ${role} started`, 30_000);
    } catch (error) {
      await service.kill();
      throw error;
    }
    return service;
  }

  get log(): string {
    return this.output.join('');
  }

  async waitForLog(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.log.includes(text)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`${this.role} ended before logging "${text}":\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`${this.role} did not log "${text}" within ${timeoutMs} ms:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Signals the process (with npm, its whole process group). */
  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return;
    try {
      process.kill(this.launcher === 'npm' ? -this.child.pid : this.child.pid, signal);
    } catch {
      // Already gone.
    }
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then how the process ended; SIGKILL if it has not ended after `timeoutMs`. */
  async terminate(timeoutMs = 30_000): Promise<ExitStatus> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

let built: Promise<void> | undefined;

/** `npm run build`, once per test run: the roles then start from dist/ as an operator's build would. */
export function buildOnce(): Promise<void> {
  built ??= new Promise((resolve, reject) => {
    const build = spawn('npm', ['run', '--silent', 'build'], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: Buffer[] = [];
    build.stdout!.on('data', (chunk: Buffer) => output.push(chunk));
    build.stderr!.on('data', (chunk: Buffer) => output.push(chunk));
    build.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build failed (${code}):\n${Buffer.concat(output).toString('utf8')}`))));
  });
  return built;
}
