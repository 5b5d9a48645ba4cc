export type MetricLabels = Readonly<Record<string, string>>;

/** Counters, gauges and histograms the services report; the names are listed in the README. */
export interface Metrics {
  increment(name: string, labels?: MetricLabels, by?: number): void;
  set(name: string, value: number, labels?: MetricLabels): void;
  observe(name: string, value: number, labels?: MetricLabels): void;
}

export const METRICS = Symbol.for('lando-k8s.Metrics');
