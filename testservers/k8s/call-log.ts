/**
 * Every request the server answered, with counters per operation (`create jobs`, `watch jobs`,
 * `get pods/log`, ...) so tests and benchmarks can count API calls per job.
 */
export interface CallRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Parsed JSON body (text when not JSON); absent without a body or when bodies are not kept. */
  readonly body?: unknown;
  readonly status: number;
  /** `performance.now()` when the request arrived. */
  readonly at: number;
  readonly operation: string;
  /** The accepted bearer token the request carried, which tells apart clients given different tokens. */
  readonly token?: string;
}

/** `full` keeps bodies; `without-bodies` saves memory in long benchmarks; `counts-only` keeps just the counters. */
export type CallLogMode = 'full' | 'without-bodies' | 'counts-only';

export class CallLog {
  private readonly kept: CallRecord[] = [];
  private readonly counters = new Map<string, number>();

  constructor(private readonly mode: CallLogMode) {}

  /** Whether recorded calls keep their bodies (so the server need not parse them otherwise). */
  get keepsBodies(): boolean {
    return this.mode === 'full';
  }

  get records(): readonly CallRecord[] {
    return this.kept;
  }

  add(record: CallRecord): void {
    this.counters.set(record.operation, (this.counters.get(record.operation) ?? 0) + 1);
    if (this.mode === 'counts-only') return;
    if (this.mode === 'full' || record.body === undefined) {
      this.kept.push(record);
    } else {
      const { body: _omitted, ...withoutBody } = record;
      this.kept.push(withoutBody);
    }
  }

  count(operation: string): number {
    return this.counters.get(operation) ?? 0;
  }

  countsByOperation(): Record<string, number> {
    return Object.fromEntries(this.counters);
  }

  total(): number {
    let total = 0;
    for (const count of this.counters.values()) total += count;
    return total;
  }

  /** Records of one operation, e.g. `create jobs`. */
  of(operation: string): CallRecord[] {
    return this.kept.filter((record) => record.operation === operation);
  }

  clear(): void {
    this.kept.length = 0;
    this.counters.clear();
  }
}
