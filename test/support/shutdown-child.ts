/**
 * A process with installShutdown over two fake services, for the tests that signal it.
 * Arguments: how the second service stops (`slow`: after 200 ms; `hung`: never) and the grace
 * in milliseconds. It writes JSON lines on stdout: its own `{"event":...}` reports and the
 * shutdown's bunyan log lines (which have a `msg`).
 */
import { createLogger } from '../../src/composition/logger.js';
import { installShutdown, type NamedService } from '../../src/composition/shutdown.js';

const [behaviour, grace] = process.argv.slice(2);
if ((behaviour !== 'slow' && behaviour !== 'hung') || grace === undefined) throw new Error('usage: shutdown-child.ts slow|hung <grace-ms>');

function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

/** Holds the event loop open while started, as a real consumer's socket would. */
function fakeService(name: string, stop: () => Promise<void>): NamedService {
  let keepAlive: NodeJS.Timeout | undefined;
  return {
    name,
    start: async () => {
      keepAlive = setInterval(() => undefined, 60_000);
    },
    stop: async () => {
      report('stop-started', { service: name });
      await stop();
      clearInterval(keepAlive);
      report('stop-finished', { service: name });
    },
  };
}

const services = [
  fakeService('health', async () => undefined),
  fakeService('consumer', () => (behaviour === 'slow' ? new Promise((resolve) => setTimeout(resolve, 200)) : new Promise<void>(() => undefined))),
];
installShutdown({
  services,
  graceMs: Number(grace),
  logger: createLogger({ name: 'shutdown-child', level: 'info', secrets: [], stream: process.stdout }),
  onSignal: (signal) => report('signalled', { signal }),
});
for (const service of services) await service.start();
report('ready');
