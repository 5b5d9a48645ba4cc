export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or as soon as `wake` is aborted; an aborted sleep leaves no timer behind. */
  sleep(ms: number, wake?: AbortSignal): Promise<void>;
}

export const CLOCK = Symbol.for('lando-k8s.Clock');
