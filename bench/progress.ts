import { performance } from 'node:perf_hooks';

const BAR_WIDTH = 30;
/** A terminal is redrawn at most this often; a log (CI, a file) gets a line this often. */
const REDRAW_MS = 100;
const PLAIN_LINE_MS = 5000;

/**
 * How far a scenario is: a redrawn bar on a terminal, plain periodic lines otherwise (CI
 * logs, a pipe), so a long run always shows it is alive without flooding a log.
 */
export class Progress {
  private readonly startedAt = performance.now();
  private lastDrawnAt = -Infinity;
  private done = 0;
  private failed = 0;
  private readonly interactive: boolean;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.interactive = out.isTTY === true;
    // The elapsed time keeps moving even when nothing finishes.
    this.timer = setInterval(() => this.draw(true), this.interactive ? 1000 : PLAIN_LINE_MS);
    this.timer.unref();
    if (!this.interactive) this.out.write(`${this.label}: started (${this.total} ${this.unit})\n`);
  }

  update(done: number, failed = 0): void {
    this.done = done;
    this.failed = failed;
    if (this.interactive) this.draw(false);
  }

  /** Draws the final state and ends the bar's line. */
  finish(): void {
    clearInterval(this.timer);
    this.draw(true);
    if (this.interactive) this.out.write('\n');
  }

  private draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastDrawnAt < (this.interactive ? REDRAW_MS : PLAIN_LINE_MS)) return;
    this.lastDrawnAt = now;
    const elapsed = `${((now - this.startedAt) / 1000).toFixed(1)} s`;
    const failed = this.failed > 0 ? `, ${this.failed} failed` : '';
    if (this.interactive) {
      const filled = this.total === 0 ? BAR_WIDTH : Math.round((this.done / this.total) * BAR_WIDTH);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
      this.out.write(`\r\x1b[K${this.label} [${bar}] ${this.done}/${this.total} ${this.unit}${failed}  ${elapsed}`);
    } else {
      this.out.write(`${this.label}: ${this.done}/${this.total} ${this.unit}${failed} after ${elapsed}\n`);
    }
  }
}
