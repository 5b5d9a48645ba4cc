import { injectable } from 'inversify';
import type { MetricLabels, Metrics } from '../../ports/metrics.js';

/** Keeps every metric in memory so tests and the sandbox can read them back. */
@injectable()
export class MemoryMetrics implements Metrics {
  private readonly values = new Map<string, number>();
  private readonly observations = new Map<string, number[]>();

  increment(name: string, labels?: MetricLabels, by = 1): void {
    const key = metricKey(name, labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  set(name: string, value: number, labels?: MetricLabels): void {
    this.values.set(metricKey(name, labels), value);
  }

  observe(name: string, value: number, labels?: MetricLabels): void {
    const key = metricKey(name, labels);
    const list = this.observations.get(key) ?? [];
    list.push(value);
    this.observations.set(key, list);
  }

  value(name: string, labels?: MetricLabels): number {
    return this.values.get(metricKey(name, labels)) ?? 0;
  }

  observed(name: string, labels?: MetricLabels): readonly number[] {
    return this.observations.get(metricKey(name, labels)) ?? [];
  }
}

function metricKey(name: string, labels?: MetricLabels): string {
  if (!labels) return name;
  const parts = Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`);
  return `${name}{${parts.join(',')}}`;
}
