/** Distribution of a set of durations, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles: every reported value is one that was measured. */
export function summarize(values: readonly number[]): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((left, right) => left - right);
  const rank = (percentile: number): number => sorted[Math.max(0, Math.ceil((percentile / 100) * sorted.length) - 1)]!;
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    count: sorted.length,
    p50: round(rank(50)),
    p95: round(rank(95)),
    p99: round(rank(99)),
    max: round(sorted.at(-1)!),
    mean: round(total / sorted.length),
  };
}

/** Counts divided by the number of jobs, largest first. */
export function perJob(counts: Readonly<Record<string, number>>, jobs: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts)
      .sort(([, left], [, right]) => right - left)
      .map(([operation, count]) => [operation, round(count / jobs)]),
  );
}

export function sum(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((total, count) => total + count, 0);
}

/** Two decimals: enough for milliseconds and requests per job, short enough for a table. */
export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function megabytes(bytes: number): number {
  return round(bytes / (1024 * 1024));
}
