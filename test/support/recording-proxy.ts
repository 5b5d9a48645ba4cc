/** One port call, in the order the domain made it across all ports. */
export interface RecordedCall {
  readonly port: string;
  readonly method: string;
  readonly args: readonly unknown[];
}

/**
 * Wraps a port so every method call is appended to a shared log before it runs: the domain's
 * side effects across bespin-api, the cluster and the progress exchange then have one order,
 * which is what the spec's transcripts record.
 */
export function recording<T extends object>(port: string, target: T, log: RecordedCall[]): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        log.push({ port, method: property, args });
        return (value as (...params: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}
