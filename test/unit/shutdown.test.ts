import { expect } from 'chai';
import { installShutdown, signalExitCode, type NamedService } from '../../src/composition/shutdown.js';
import { MemoryLogger } from '../support/memory-logger.js';

/**
 * Signals are emitted on `process` rather than sent, under a name nothing else in the test
 * process listens to; the real SIGTERM/SIGINT path is covered by test/contract/shutdown.test.ts.
 */
const SIGNAL = 'SIGUSR2';

describe('installShutdown', function () {
  let dispose: (() => void) | undefined;

  afterEach(function () {
    dispose?.();
    dispose = undefined;
  });

  function recordingService(name: string, stopped: string[], stop: () => Promise<void> = async () => undefined): NamedService {
    return {
      name,
      start: async () => undefined,
      stop: async () => {
        await stop();
        stopped.push(name);
      },
    };
  }

  /** Installs shutdown and resolves with the first exit status it asks for after a signal. */
  function exitAfterSignal(services: readonly NamedService[], logger: MemoryLogger, onSignal?: () => void): Promise<number> {
    return new Promise((resolve) => {
      dispose = installShutdown({ services, graceMs: 5_000, logger, signals: [SIGNAL], exit: resolve, ...(onSignal ? { onSignal } : {}) });
      process.emit(SIGNAL, SIGNAL);
    });
  }

  it('keeps stopping the older services when one stop fails, then exits 1 naming it', async function () {
    const stopped: string[] = [];
    const logger = new MemoryLogger();
    const failing = recordingService('consumer', stopped, async () => {
      throw new Error('channel already closed');
    });

    const code = await exitAfterSignal([recordingService('health', stopped), failing, recordingService('publisher', stopped)], logger);

    expect(code).to.equal(1);
    expect(stopped).to.deep.equal(['publisher', 'health']);
    const failure = logger.lines.find((line) => line.level === 'error');
    expect(failure?.fields).to.include({ service: 'consumer' });
    expect(String(failure?.fields['err'])).to.include('channel already closed');
  });

  it('still stops the services when the signal callback throws', async function () {
    const stopped: string[] = [];
    const logger = new MemoryLogger();
    const code = await exitAfterSignal([recordingService('consumer', stopped)], logger, () => {
      throw new Error('readiness flag gone');
    });

    expect(code).to.equal(0);
    expect(stopped).to.deep.equal(['consumer']);
    expect(logger.messages('error')).to.include('The shutdown signal callback failed; stopping anyway');
  });

  it('names an unnamed service by its class', async function () {
    class QueueConsumer {
      async start(): Promise<void> {}
      async stop(): Promise<void> {}
    }
    const logger = new MemoryLogger();
    expect(await exitAfterSignal([new QueueConsumer()], logger)).to.equal(0);
    expect(logger.messages('info')).to.include('Stopped QueueConsumer');
  });

  it('removes its handlers when disposed', function () {
    const before = process.listenerCount(SIGNAL);
    const remove = installShutdown({ services: [], graceMs: 0, logger: new MemoryLogger(), signals: [SIGNAL], exit: () => expect.fail('exit after dispose') });
    expect(process.listenerCount(SIGNAL)).to.equal(before + 1);
    remove();
    expect(process.listenerCount(SIGNAL)).to.equal(before);
  });

  it('refuses a grace that is negative or not a number', function () {
    for (const graceMs of [-1, Number.NaN]) {
      expect(() => installShutdown({ services: [], graceMs, logger: new MemoryLogger(), signals: [SIGNAL] })).to.throw(RangeError, /shutdown grace/);
    }
  });

  it('gives the shell\'s status for death by a signal', function () {
    expect(signalExitCode('SIGINT')).to.equal(130);
    expect(signalExitCode('SIGTERM')).to.equal(143);
  });
});
