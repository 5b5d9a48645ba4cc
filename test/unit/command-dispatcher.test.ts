import { expect } from 'chai';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { SystemClock } from '../../src/adapters/system/system-clock.js';
import { CommandDispatcher } from '../../src/domain/command-dispatcher.js';
import type { Delivery, LandoCommandName } from '../../src/domain/commands.js';
import type { JobRunner } from '../../src/domain/job-runner.js';
import type { Disposition } from '../../src/ports/work-queue.js';
import { MemoryLogger } from '../support/memory-logger.js';

/** A JobRunner whose handlers end when the test says, recording what started. */
class HeldRunner {
  readonly started: string[] = [];
  private readonly finishers: (() => void)[] = [];

  handle(delivery: Delivery): Promise<Disposition> {
    this.started.push(`${delivery.message.command} ${delivery.message.jobId}`);
    return new Promise((resolve) => this.finishers.push(() => resolve({ outcome: 'ack' })));
  }

  /** Ends the handlers that have started and not yet ended, oldest first. */
  finishRunning(): void {
    for (const finish of this.finishers.splice(0)) finish();
  }
}

function delivery(command: LandoCommandName, jobId: number): Delivery {
  return { message: { command, jobId: String(jobId), version: '2.0.1' }, attempt: 0, redelivered: false, lastAttempt: false };
}

const turns = async (count = 5): Promise<void> => {
  for (let index = 0; index < count; index += 1) await new Promise((resolve) => setImmediate(resolve));
};

describe('CommandDispatcher', () => {
  function dispatcher(concurrency: number): { dispatcher: CommandDispatcher; runner: HeldRunner; metrics: MemoryMetrics } {
    const runner = new HeldRunner();
    const metrics = new MemoryMetrics();
    const built = new CommandDispatcher(runner as unknown as JobRunner, { handlerTimeoutMs: 60_000, concurrency }, new SystemClock(), metrics, new MemoryLogger());
    return { dispatcher: built, runner, metrics };
  }

  it('runs at most `concurrency` handlers at once and says how many commands wait', async () => {
    const { dispatcher: subject, runner, metrics } = dispatcher(2);
    const settled = [1, 2, 3, 4].map((id) => subject.handle(delivery('start_job', id)));
    await turns();
    expect(runner.started).to.deep.equal(['start_job 1', 'start_job 2']);
    expect(metrics.value('lando_commands_waiting')).to.equal(2);

    runner.finishRunning();
    await turns();
    expect(runner.started).to.deep.equal(['start_job 1', 'start_job 2', 'start_job 3', 'start_job 4']);
    expect(metrics.value('lando_commands_waiting')).to.equal(0);
    runner.finishRunning();
    expect(await Promise.all(settled)).to.deep.equal(Array(4).fill({ outcome: 'ack' }));
  });

  it('moves the jobs already on the cluster on before starting new ones: step outcomes and cancels first', async () => {
    const { dispatcher: subject, runner } = dispatcher(1);
    void subject.handle(delivery('start_job', 1));
    for (const [command, id] of [['start_job', 2], ['run_job_complete', 3], ['restart_job', 4], ['cancel_job', 5], ['stage_job_error', 6]] as const) {
      void subject.handle(delivery(command, id));
    }
    for (let index = 0; index < 6; index += 1) {
      await turns();
      runner.finishRunning();
    }
    expect(runner.started).to.deep.equal(['start_job 1', 'run_job_complete 3', 'cancel_job 5', 'stage_job_error 6', 'start_job 2', 'restart_job 4']);
  });

  it('keeps the commands of one job in arrival order, whatever their priority', async () => {
    const { dispatcher: subject, runner } = dispatcher(4);
    void subject.handle(delivery('start_job', 7));
    void subject.handle(delivery('cancel_job', 7));
    void subject.handle(delivery('restart_job', 7));
    void subject.handle(delivery('stage_job_complete', 7));
    for (let index = 0; index < 4; index += 1) {
      await turns();
      expect(runner.started, 'one command of job 7 at a time').to.have.length(index + 1);
      runner.finishRunning();
    }
    expect(runner.started).to.deep.equal(['start_job 7', 'cancel_job 7', 'restart_job 7', 'stage_job_complete 7']);
  });
});
