export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const CLOCK = Symbol.for('lando-k8s.Clock');
