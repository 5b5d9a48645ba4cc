import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const PROJECT = new URL('../../', import.meta.url);

/**
 * One role run the way an operator runs it (`npm start -- --role=... --config FILE`), in its
 * own process group so a test can SIGKILL the whole of it (npm, tsx and node) at once. Its
 * bunyan lines are kept for assertions and for the failure message.
 */
export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly output: string[] = [];
  private exited: Promise<number | null>;

  private constructor(readonly role: string, configPath: string, env: NodeJS.ProcessEnv) {
    this.child = spawn('npm', ['start', '--silent', '--', `--role=${role}`, '--config', configPath], {
      cwd: PROJECT,
      detached: true,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk.toString('utf8')));
    this.child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk.toString('utf8')));
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null);
  }

  /** Starts the role and waits until it logs that it started. */
  static async start(role: string, configPath: string, env: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
    const service = new ServiceProcess(role, configPath, env);
    await service.waitForLog(`lando-k8s ${role} started`, 30_000);
    return service;
  }

  get log(): string {
    return this.output.join('');
  }

  async waitForLog(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.log.includes(text)) {
      if (this.child.exitCode !== null) throw new Error(`${this.role} exited with ${this.child.exitCode} before logging "${text}":\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`${this.role} did not log "${text}" within ${timeoutMs} ms:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Sends a signal to the whole process group. */
  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then the exit status. */
  async terminate(timeoutMs = 20_000): Promise<number | null> {
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
