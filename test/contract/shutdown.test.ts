import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

type Line = Record<string, unknown>;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** test/support/shutdown-child.ts running, with every JSON line it has written so far. */
class ShutdownChild {
  readonly lines: Line[] = [];
  readonly exited: Promise<Exit>;
  private readonly process: ChildProcess;
  private readonly waiters: { readonly wanted: (line: Line) => boolean; readonly resolve: () => void }[] = [];

  constructor(behaviour: 'slow' | 'hung', graceMs: number) {
    const script = fileURLToPath(new URL('../support/shutdown-child.ts', import.meta.url));
    this.process = spawn(process.execPath, ['--import', 'tsx', script, behaviour, String(graceMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.exited = new Promise((resolve) => this.process.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: this.process.stdout ?? process.stdin }).on('line', (text) => {
      const line = JSON.parse(text) as Line;
      this.lines.push(line);
      for (const waiter of this.waiters.filter((candidate) => candidate.wanted(line))) waiter.resolve();
    });
  }

  /** Resolves once the child writes a line like `wanted`; fails if it exits first. */
  async until(wanted: Line): Promise<void> {
    const matches = (line: Line): boolean => Object.entries(wanted).every(([key, value]) => line[key] === value);
    if (this.lines.some(matches)) return;
    const seen = new Promise<void>((resolve) => this.waiters.push({ wanted: matches, resolve }));
    const early = this.exited.then((exit) => {
      throw new Error(`the child exited (${JSON.stringify(exit)}) before writing ${JSON.stringify(wanted)}; it wrote ${JSON.stringify(this.lines)}`);
    });
    await Promise.race([seen, early]);
  }

  signal(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }

  events(): string[] {
    return this.lines.flatMap((line) => (typeof line['event'] === 'string' ? [`${line['event']} ${String(line['service'] ?? line['signal'] ?? '')}`.trim()] : []));
  }

  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
  }
}

describe('graceful shutdown of a process', function () {
  let child: ShutdownChild | undefined;

  afterEach(function () {
    child?.kill();
    child = undefined;
  });

  async function started(behaviour: 'slow' | 'hung', graceMs: number): Promise<ShutdownChild> {
    child = new ShutdownChild(behaviour, graceMs);
    await child.until({ event: 'ready' });
    return child;
  }

  it('stops the services newest first on SIGTERM, waits for them, and exits 0', async function () {
    const running = await started('slow', 10_000);
    running.signal('SIGTERM');

    expect(await running.exited).to.deep.equal({ code: 0, signal: null });
    expect(running.events()).to.deep.equal([
      'ready',
      'signalled SIGTERM',
      'stop-started consumer',
      'stop-finished consumer',
      'stop-started health',
      'stop-finished health',
    ]);
  });

  it('stops the same way on SIGINT', async function () {
    const running = await started('slow', 10_000);
    running.signal('SIGINT');

    expect(await running.exited).to.deep.equal({ code: 0, signal: null });
    expect(running.events()).to.include('stop-finished health');
  });

  it('exits 1 naming the services that had not stopped when the grace runs out', async function () {
    const running = await started('hung', 300);
    running.signal('SIGTERM');

    expect(await running.exited).to.deep.equal({ code: 1, signal: null });
    expect(running.events()).not.to.include('stop-finished consumer');
    const ranOut = running.lines.find((line) => String(line['msg']).includes('grace of 300 ms ran out'));
    expect(ranOut?.['unfinished']).to.deep.equal(['consumer', 'health']);
  });

  for (const [second, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`exits ${code} at once on a second signal, ${second}, while the services are still stopping`, async function () {
      const running = await started('hung', 60_000);
      running.signal('SIGTERM');
      await running.until({ event: 'stop-started', service: 'consumer' });
      running.signal(second);

      expect(await running.exited).to.deep.equal({ code, signal: null });
      expect(running.lines.some((line) => String(line['msg']).startsWith(`Second signal ${second}`))).to.equal(true);
    });
  }
});
