import { performance } from 'node:perf_hooks';
import type { KubeObject } from './kube-object.js';
import type { ObjectStore, StoreChange } from './object-store.js';
import { JOBS } from './resource-registry.js';
import { asJob } from './typed-views.js';

/**
 * When each Job was created and when it was marked Complete or Failed (high-resolution ms,
 * `performance.now()`), whoever wrote the status. Benchmarks measure step transitions as
 * "Job of step N marked complete" → "Job of step N+1 created" for the same bespin job.
 */
export interface JobTimes {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly completedAt?: number;
  readonly failedAt?: number;
}

function hasCondition(object: KubeObject | undefined, type: 'Complete' | 'Failed'): boolean {
  if (!object) return false;
  return (asJob(object).status?.conditions ?? []).some((condition) => condition.type === type && condition.status === 'True');
}

export class JobTimeline {
  private readonly times = new Map<string, JobTimes>();
  private readonly unsubscribe: () => void;

  constructor(store: ObjectStore) {
    this.unsubscribe = store.onChange((change) => this.observe(change));
  }

  /** The latest Job of that name (a re-created Job starts a new entry). */
  get(name: string): JobTimes | undefined {
    return this.times.get(name);
  }

  entries(): JobTimes[] {
    return [...this.times.values()];
  }

  clear(): void {
    this.times.clear();
  }

  dispose(): void {
    this.unsubscribe();
  }

  private observe(change: StoreChange): void {
    if (change.resource !== JOBS) return;
    const { name, namespace = '', labels = {} } = change.object.metadata;
    if (change.type === 'ADDED') {
      this.times.set(name, { name, namespace, labels, createdAt: performance.now() });
      return;
    }
    const entry = this.times.get(name);
    if (change.type !== 'MODIFIED' || !entry) return;
    if (hasCondition(change.object, 'Complete') && !hasCondition(change.previous, 'Complete')) {
      this.times.set(name, { ...entry, completedAt: performance.now() });
    } else if (hasCondition(change.object, 'Failed') && !hasCondition(change.previous, 'Failed')) {
      this.times.set(name, { ...entry, failedAt: performance.now() });
    }
  }
}
