import type { Clock } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../ports/metrics.js';
import { SystemClock } from '../system/system-clock.js';

/**
 * Stand-ins for the optional logger, metrics and clock inputs of the messaging adapters (the
 * AMQP ones and their in-memory simulation), so a caller that does not care about them does
 * not have to build them.
 */
export const NO_OP_LOGGER: Logger = {
  child: () => NO_OP_LOGGER,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export const NO_OP_METRICS: Metrics = {
  increment: () => undefined,
  set: () => undefined,
  observe: () => undefined,
};

export const SYSTEM_CLOCK: Clock = new SystemClock();
