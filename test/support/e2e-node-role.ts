import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const PROJECT = fileURLToPath(new URL('../../', import.meta.url));
const LAUNCHER = 'bin/lando-k8s.mjs';

/** How a process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * One role started as `node bin/lando-k8s.mjs --role=... --config FILE`, the command `npm
 * start` runs, without npm around it. npm dies of a SIGTERM sent to its process group even
 * when its child exits 0 after it, so only a role started like this shows the service's own
 * exit status. ServiceProcess (npm start) remains the way to run a role otherwise.
 */
export class NodeRoleProcess {
  private readonly child: ChildProcess;
  private readonly output: string[] = [];
  private readonly exited: Promise<ExitStatus>;

  private constructor(readonly role: string, configPath: string) {
    this.child = spawn(process.execPath, [LAUNCHER, `--role=${role}`, '--config', configPath], {
      cwd: PROJECT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk.toString('utf8')));
    this.child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk.toString('utf8')));
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  }

  /** Starts the role and waits until it logs that it started. */
  static async start(role: string, configPath: string): Promise<NodeRoleProcess> {
    const started = new NodeRoleProcess(role, configPath);
    try {
      await started.waitForLog(`lando-k8s ${role} started`, 30_000);
    } catch (error) {
      await started.kill();
      throw error;
    }
    return started;
  }

  get log(): string {
    return this.output.join('');
  }

  async waitForLog(text: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.log.includes(text)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`${this.role} ended before logging "${text}":\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`${this.role} did not log "${text}" within ${timeoutMs} ms:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then how the process ended; SIGKILL if it has not ended after `timeoutMs`. */
  async terminate(timeoutMs = 30_000): Promise<ExitStatus> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
