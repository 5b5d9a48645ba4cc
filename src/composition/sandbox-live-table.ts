/**
 * The sandbox's live view on a terminal: a table of the jobs running now (step, state, time in
 * the step and since the job started), totals and a progress bar, redrawn in place with ANSI
 * cursor control. Rendering is a pure function of a snapshot; LiveTable only paces the redraws.
 */

/** What each bespin step code means, for people reading the sandbox's output. */
export const STEP_NAMES: Readonly<Record<string, string>> = {
  '': '',
  V: 'Create VM',
  S: 'Staging In',
  R: 'Running Workflow',
  o: 'Organize Output Project',
  O: 'Store Job Output',
  P: 'Record Output Project',
};

export const STATE_NAMES: Readonly<Record<string, string>> = { R: 'RUNNING', F: 'FINISHED', E: 'ERRORED', C: 'CANCELED' };

/** A job lando has started and that has not ended yet. */
export interface ActiveJob {
  readonly id: number;
  /** bespin's state code. */
  readonly state: string;
  /** bespin's step code; '' before the first step. */
  readonly step: string;
  /** Since lando started the job. */
  readonly elapsedMs: number;
  /** Since its last change of step or state. */
  readonly inStepMs: number;
}

/** One moment of a sandbox run. */
export interface LiveTableView {
  readonly total: number;
  readonly finished: number;
  readonly errored: number;
  readonly canceled: number;
  /** Started by bespin, not yet taken up by lando. */
  readonly queued: number;
  readonly active: readonly ActiveJob[];
  /** Since the sandbox started. */
  readonly elapsedMs: number;
}

export interface TerminalSize {
  readonly columns: number;
  readonly rows: number;
}

/** An output stream that is a terminal, whose size is read at each redraw (it follows resizes). */
export interface Terminal extends Partial<TerminalSize> {
  write(text: string): unknown;
}

/** At most ten frames a second: smooth enough for elapsed times, cheap for a slow terminal. */
export const REDRAW_INTERVAL_MS = 100;

/** What a terminal that does not say its size is taken to be. */
const DEFAULT_SIZE: TerminalSize = { columns: 80, rows: 24 };
const BAR_WIDTH = { min: 10, max: 60 } as const;
const COLUMNS = [
  { title: 'job', width: 6 },
  { title: 'state', width: 9 },
  { title: 'step', width: 27 },
  { title: 'in step', width: 8, right: true },
  { title: 'elapsed', width: 8, right: true },
] as const;

/** The terminal behind `out`, or undefined when the output goes to a file or a pipe. */
export function terminalOf(out: NodeJS.WritableStream): Terminal | undefined {
  const stream = out as NodeJS.WritableStream & { isTTY?: boolean };
  return stream.isTTY === true ? (stream as Terminal) : undefined;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

function row(cells: readonly string[]): string {
  return cells
    .map((cell, index) => {
      const column = COLUMNS[index]!;
      return 'right' in column ? cell.padStart(column.width) : cell.padEnd(column.width);
    })
    .join(' ')
    .trimEnd();
}

function jobRow(job: ActiveJob): string {
  const step = job.step === '' ? '-' : `${job.step}  ${STEP_NAMES[job.step] ?? ''}`;
  return row([String(job.id), STATE_NAMES[job.state] ?? job.state, step, seconds(job.inStepMs), seconds(job.elapsedMs)]);
}

function progressBar(view: LiveTableView, columns: number): string {
  const ended = view.finished + view.errored + view.canceled;
  const fraction = view.total === 0 ? 1 : ended / view.total;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const width = Math.max(BAR_WIDTH.min, Math.min(BAR_WIDTH.max, columns - percent.length - 3));
  const filled = Math.round(fraction * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${percent}`;
}

function totalsLine(view: LiveTableView): string {
  const ended = view.finished + view.errored + view.canceled;
  return (
    `${ended}/${view.total} ended: ${view.finished} finished, ${view.errored} errored, ${view.canceled} canceled; ` +
    `${view.active.length} running, ${view.queued} queued; ${seconds(view.elapsedMs)}`
  );
}

/**
 * The lines of one frame: totals, a progress bar, then one row per active job in id order,
 * as many as fit the terminal's height (the rest counted on a last line). Every line is
 * shorter than the terminal is wide, so none wraps and the next frame can move back over it.
 */
export function renderLiveTable(view: LiveTableView, size: TerminalSize): string[] {
  const lines = [totalsLine(view), progressBar(view, size.columns - 1)];
  // One row stays free for the cursor below the frame, and one is the table's header.
  const room = size.rows - 1 - lines.length - 1;
  if (view.active.length > 0 && room > 0) {
    const active = [...view.active].sort((left, right) => left.id - right.id);
    const shown = active.length <= room ? active : active.slice(0, room - 1);
    lines.push(row(COLUMNS.map((column) => column.title)), ...shown.map(jobRow));
    if (shown.length < active.length) lines.push(`… and ${active.length - shown.length} more running job(s)`);
  }
  return lines.slice(0, Math.max(1, size.rows - 1)).map((line) => [...line].slice(0, Math.max(1, size.columns - 1)).join(''));
}

/**
 * Redraws the frame of `view()` every REDRAW_INTERVAL_MS, in place: each frame moves the
 * cursor back to the first line of the previous one and overwrites it.
 */
export class LiveTable {
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly terminal: Terminal,
    private readonly view: () => LiveTableView,
  ) {}

  start(): void {
    this.draw();
    this.timer = setInterval(() => this.draw(), REDRAW_INTERVAL_MS);
  }

  /** Draws the final frame and leaves it on the screen, the cursor below it. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private draw(): void {
    const lines = renderLiveTable(this.view(), {
      columns: this.terminal.columns || DEFAULT_SIZE.columns,
      rows: this.terminal.rows || DEFAULT_SIZE.rows,
    });
    // CSI n F: to the start of the line n lines up. Each line then erases what is left of the
    // old one after it (CSI K), and CSI J the old frame's lines below the new one. Erasing the
    // whole frame first would not do: tmux moves a screen erased from its top-left corner into
    // its scrollback, which then fills with copies of the table.
    const back = this.drawnLines > 0 ? `\u001b[${this.drawnLines}F` : '';
    this.terminal.write(`${back}${lines.map((line) => `${line}\u001b[K\n`).join('')}\u001b[J`);
    this.drawnLines = lines.length;
  }
}
