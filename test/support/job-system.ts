import { InMemorySystem, type InMemorySystemOptions } from '../../src/composition/in-memory-system.js';
import type { StepType } from '../../src/domain/job-codes.js';
import type { JobProgress } from '../../src/ports/progress-publisher.js';
import { readDeadLetter, type DeadLetter } from '../../src/adapters/amqp/dead-letter-queue.js';
import { MemoryLogger } from './memory-logger.js';

const WAIT_LIMIT_MS = 5000;

/** lando and the watcher running over the in-memory adapters, with helpers for whole-job tests. */
export class JobSystem extends InMemorySystem {
  readonly log: MemoryLogger;

  constructor(options: Partial<InMemorySystemOptions> = {}) {
    const log = new MemoryLogger();
    super({ logger: log, retryDelayMs: 0, ...options });
    this.log = log;
  }

  /** Adds a bespin job (state A, as bespin-api has it before a user starts it). */
  addJob(id: number): void {
    this.bespin.generateJob(id, { state: 'A', step: '' });
  }

  stateOf(id: number): { state: string; step: string } {
    const json = this.bespin.job(id) as { state: string; step: string };
    return { state: json.state, step: json.step };
  }

  progressOf(id: number): string[] {
    return this.progress.notifications.filter((note: JobProgress) => note.job === id).map((note) => `${note.state}/${note.step}`);
  }

  async waitForState(id: number, state: string, step?: string): Promise<void> {
    await waitUntil(() => {
      const now = this.stateOf(id);
      return now.state === state && (step === undefined || now.step === step);
    }, () => `job ${id} to reach ${state}${step === undefined ? '' : `/${step}`}; it is at ${JSON.stringify(this.stateOf(id))}`);
  }

  /** Waits for the Job of one step to exist, i.e. lando has launched the step. */
  async waitForJob(id: number, step: StepType): Promise<string> {
    let name = '';
    await waitUntil(() => {
      name = this.cluster.objects('Job').find((job) => job.metadata.labels['bespin-job-id'] === String(id) && job.metadata.labels['bespin-job-step'] === step)?.metadata.name ?? '';
      return name !== '';
    }, () => `the ${step} Job of job ${id}`);
    return name;
  }

  /** Waits until every queued message has been handled and settled. */
  async quiesce(): Promise<void> {
    await waitUntil(() => this.broker.depth('lando') === 0, () => 'the lando queue to drain');
    await this.cluster.settled();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await waitUntil(() => this.broker.depth('lando') === 0, () => 'the lando queue to drain');
  }

  deadLetters(): DeadLetter[] {
    return this.broker.messages(this.client.deadLetterQueue).map((message) => readDeadLetter(message.body, message.properties));
  }

  objectsOf(id: number): string[] {
    const label = (labels: Readonly<Record<string, string>>) => labels['bespin-job-id'] === String(id);
    return [
      ...this.cluster.objects('Job').filter((o) => label(o.metadata.labels)).map((o) => `Job ${o.metadata.name}`),
      ...this.cluster.objects('ConfigMap').filter((o) => label(o.metadata.labels)).map((o) => `ConfigMap ${o.metadata.name}`),
      ...this.cluster.objects('PersistentVolumeClaim').filter((o) => label(o.metadata.labels)).map((o) => `PersistentVolumeClaim ${o.metadata.name}`),
    ];
  }
}

export async function waitUntil(condition: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
