/**
 * The logging calls the domain makes; a bunyan logger satisfies it. Fields go first, as in
 * bunyan, so every line of a job's work carries its job id and step.
 */
export interface Logger {
  child(fields: Record<string, unknown>): Logger;
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const LOGGER = Symbol.for('lando-k8s.Logger');
