/**
 * Graceful shutdown on SIGTERM/SIGINT: stop the services newest first, each stop waiting for
 * its work in flight, within a grace period; a second signal ends the process at once.
 */
import { constants } from 'node:os';
import { describeError } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';
import type { Service } from './services.js';

/** A service as shutdown sees it; the name shows in the logs, else its class name does. */
export type NamedService = Service & { readonly name?: string };

export interface ShutdownOptions {
  /** In start order; they are stopped in reverse, one after another. */
  readonly services: readonly NamedService[];
  /** How long all the stops together may take before the process exits with status 1. */
  readonly graceMs: number;
  readonly logger: Logger;
  readonly exit?: (code: number) => void;
  readonly signals?: readonly NodeJS.Signals[];
  /** Runs as the first signal arrives, before any stop (e.g. to report not ready). */
  readonly onSignal?: (signal: NodeJS.Signals) => void;
}

/** Stopped cleanly, or a stop failed or ran out of time. */
const CLEAN = 0;
const UNCLEAN = 1;

/**
 * Installs the signal handlers and returns a function removing them. Install it before
 * starting the services, so a signal during a slow start (an unreachable broker) still ends
 * the process; every stop() must therefore tolerate a service that never finished starting.
 */
export function installShutdown(options: ShutdownOptions): () => void {
  const { services, graceMs, logger, signals = ['SIGTERM', 'SIGINT'], onSignal } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new RangeError(`shutdown grace must be a non-negative number of milliseconds, got ${graceMs}`);

  let shuttingDown = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      const code = signalExitCode(signal);
      logger.warn({ signal, code }, `Second signal ${signal}: exiting now without waiting for the services to stop`);
      exit(code);
      return;
    }
    shuttingDown = true;
    logger.info({ signal, grace_ms: graceMs }, `Received ${signal}: stopping`);
    try {
      onSignal?.(signal);
    } catch (error) {
      logger.error({ signal, err: describeError(error) }, 'The shutdown signal callback failed; stopping anyway');
    }
    void stopWithinGrace([...services].reverse(), graceMs, logger).then((code) => {
      if (code === CLEAN) logger.info({}, 'Stopped cleanly');
      exit(code);
    });
  };

  for (const signal of signals) process.on(signal, handle);
  return () => {
    for (const signal of signals) process.off(signal, handle);
  };
}

/** The status a shell reports for a process killed by that signal: 128 + its number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

function serviceName(service: NamedService): string {
  return service.name ?? service.constructor.name;
}

async function stopWithinGrace(ordered: readonly NamedService[], graceMs: number, logger: Logger): Promise<number> {
  const unfinished = new Set(ordered);
  let failed = false;
  const stopped = (async () => {
    for (const service of ordered) {
      try {
        await service.stop();
        logger.info({ service: serviceName(service) }, `Stopped ${serviceName(service)}`);
      } catch (error) {
        failed = true;
        logger.error({ service: serviceName(service), err: describeError(error) }, `Stopping ${serviceName(service)} failed`);
      }
      unfinished.delete(service);
    }
    return 'stopped' as const;
  })();

  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<'out of time'>((resolve) => {
    timer = setTimeout(() => resolve('out of time'), graceMs);
  });
  const result = await Promise.race([stopped, outOfTime]);
  clearTimeout(timer);

  if (result === 'out of time') {
    const names = [...unfinished].map(serviceName);
    logger.error({ grace_ms: graceMs, unfinished: names }, `Shutdown grace of ${graceMs} ms ran out before ${names.join(', ')} stopped; exiting`);
    return UNCLEAN;
  }
  return failed ? UNCLEAN : CLEAN;
}
