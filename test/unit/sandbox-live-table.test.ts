import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import sinon from 'sinon';
import { runSandbox } from '../../src/composition/sandbox.js';
import { LiveTable, REDRAW_INTERVAL_MS, renderLiveTable, terminalOf, type ActiveJob, type LiveTableView } from '../../src/composition/sandbox-live-table.js';
import { MemoryLogger } from '../support/memory-logger.js';

const ESC = '\u001b';

function activeJobs(count: number, firstId = 1001): ActiveJob[] {
  return Array.from({ length: count }, (_, index) => ({ id: firstId + index, state: 'R', step: 'R', elapsedMs: 2500 + index, inStepMs: 300 }));
}

function view(overrides: Partial<LiveTableView> = {}): LiveTableView {
  return { total: 200, finished: 37, errored: 1, canceled: 0, queued: 150, active: activeJobs(12), elapsedMs: 12_345, ...overrides };
}

/** A terminal that keeps what is written to it. */
function fakeTerminal(columns = 100, rows = 30): { columns: number; rows: number; frames: string[]; write(text: string): boolean } {
  const frames: string[] = [];
  return { columns, rows, frames, write: (text: string) => frames.push(text) > 0 };
}

describe('the sandbox\'s live table', () => {
  describe('a frame', () => {
    it('shows the totals, a progress bar and one row per active job with its state, step and times', () => {
      const lines = renderLiveTable(
        view({ active: [{ id: 1042, state: 'R', step: 'o', elapsedMs: 61_240, inStepMs: 1_049 }, { id: 1007, state: 'R', step: '', elapsedMs: 100, inStepMs: 100 }] }),
        { columns: 100, rows: 30 },
      );
      expect(lines[0]).to.equal('38/200 ended: 37 finished, 1 errored, 0 canceled; 2 running, 150 queued; 12.3s');
      expect(lines[1]).to.match(/^\[█+░+\] {2}19%$/);
      expect(lines[2]).to.match(/^job +state +step +in step +elapsed$/);
      expect(lines.slice(3)).to.deep.equal([
        '1007   RUNNING   -                               0.1s     0.1s',
        '1042   RUNNING   o  Organize Output Project      1.0s    61.2s',
      ]);
    });

    it('fills the bar in proportion to the jobs that ended, within the width', () => {
      const bar = (ended: number, columns: number) => renderLiveTable(view({ total: 4, finished: ended, errored: 0, active: [] }), { columns, rows: 10 })[1]!;
      expect(bar(0, 40)).to.equal(`[${'░'.repeat(32)}]   0%`);
      expect(bar(1, 40)).to.equal(`[${'█'.repeat(8)}${'░'.repeat(24)}]  25%`);
      expect(bar(4, 40)).to.equal(`[${'█'.repeat(32)}] 100%`);
    });

    it('fits the terminal\'s height, counting the active jobs it has no room for', () => {
      const lines = renderLiveTable(view({ active: activeJobs(40) }), { columns: 100, rows: 12 });
      expect(lines).to.have.length(11);
      expect(lines.slice(3, 10).map((line) => line.slice(0, 4))).to.deep.equal(['1001', '1002', '1003', '1004', '1005', '1006', '1007']);
      expect(lines[10]).to.equal('… and 33 more running job(s)');
    });

    it('keeps every line shorter than the terminal is wide, so no line wraps', () => {
      for (const columns of [20, 45, 80]) {
        const lines = renderLiveTable(view(), { columns, rows: 40 });
        expect(Math.max(...lines.map((line) => [...line].length)), `${columns} columns`).to.be.below(columns);
      }
    });

    it('shows only the totals and the bar once no job is running', () => {
      expect(renderLiveTable(view({ finished: 199, errored: 1, queued: 0, active: [] }), { columns: 80, rows: 24 })).to.have.length(2);
    });
  });

  describe('redrawing', () => {
    afterEach(() => sinon.restore());

    it('draws in place at most ten times a second, going back over the previous frame each time', () => {
      const clock = sinon.useFakeTimers();
      const terminal = fakeTerminal();
      let active = 3;
      const table = new LiveTable(terminal, () => view({ active: activeJobs(active) }));
      table.start();
      active = 1;
      clock.tick(1000);
      table.stop();

      expect(terminal.frames).to.have.length(1 + 1000 / REDRAW_INTERVAL_MS + 1);
      const lineEnd = `${ESC}[K\n`;
      expect(terminal.frames[0]!.startsWith('38/200 ended')).to.equal(true);
      expect(terminal.frames[0]!.split(lineEnd)).to.have.length(2 + 1 + 3 + 1);
      // Back over the first frame's 6 lines, then over the 4 of each next one; each frame erases what the last one left below it.
      expect(terminal.frames[1]!.startsWith(`${ESC}[6F38/200 ended`)).to.equal(true);
      expect(terminal.frames[1]!.split(lineEnd)).to.have.length(2 + 1 + 1 + 1);
      expect(terminal.frames[2]!.startsWith(`${ESC}[4F38/200 ended`)).to.equal(true);
      expect(terminal.frames.every((frame) => frame.endsWith(`${lineEnd}${ESC}[J`))).to.equal(true);
    });

    it('stops redrawing once stopped', () => {
      const clock = sinon.useFakeTimers();
      const terminal = fakeTerminal();
      const table = new LiveTable(terminal, () => view());
      table.start();
      table.stop();
      const drawn = terminal.frames.length;
      clock.tick(1000);
      expect(terminal.frames).to.have.length(drawn);
    });

    it('is used only for an output that is a terminal', () => {
      const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 80, rows: 24 });
      expect(terminalOf(tty)).to.equal(tty);
      expect(terminalOf(new PassThrough())).to.equal(undefined);
    });
  });

  describe('in a sandbox run', () => {
    function captured(isTTY: boolean): { stream: PassThrough; text: () => string } {
      const stream = Object.assign(new PassThrough(), isTTY ? { isTTY, columns: 100, rows: 20 } : {});
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
    }

    it('shows the live table instead of a line per change on a terminal, ending with every job counted', async () => {
      const out = captured(true);
      const results = await runSandbox({ jobs: 30, stepMs: 1, failStep: 'run_workflow', timeoutMs: 10_000, logger: new MemoryLogger(), out: out.stream });
      expect(results.map((result) => result.ended)).to.deep.equal([...Array(29).fill('F'), 'E']);
      const text = out.text();
      expect(text).to.match(/\u001b\[\d+F/);
      expect(text).not.to.match(/job 1001 {2}RUNNING/);
      expect(text).to.include('30/30 ended: 29 finished, 1 errored, 0 canceled; 0 running, 0 queued;');
      expect(text).to.include('30 of 30 job(s) ended as expected');
    });

    it('prints plain lines without any escape sequence when the output is not a terminal', async () => {
      const out = captured(false);
      await runSandbox({ jobs: 3, stepMs: 1, timeoutMs: 10_000, logger: new MemoryLogger(), out: out.stream });
      expect(out.text()).not.to.include(ESC);
      expect(out.text()).to.match(/job 1001 {2}RUNNING/);
    });
  });
});
