import { expect } from 'chai';
import type { ApiList } from '../../src/adapters/k8s/json-list.js';
import { K8sJobWatch, MAX_CONCURRENT_DELIVERIES, MAX_QUEUED_DELIVERIES, type JobWatchSource, type ListedJob } from '../../src/adapters/k8s/k8s-job-watch.js';
import type { JobWatchEvent } from '../../src/ports/cluster.js';
import { MemoryLogger } from '../support/memory-logger.js';

const TIMINGS = { resyncMs: 600_000, idleTimeoutMs: 600_000, minBackoffMs: 10, maxBackoffMs: 100 };

function listedJobs(count: number): ListedJob[] {
  return Array.from({ length: count }, (_, index) => ({
    view: { name: `job-${index}`, uid: `uid-${index}`, labels: {}, conditions: [] },
    resourceVersion: String(index + 1),
  }));
}

/** Lets every pending promise reaction run: the fake source answers without any I/O. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('K8sJobWatch: a list longer than the listener can take at once', () => {
  it('holds the rest of the list back while MAX_QUEUED_DELIVERIES events wait, then delivers every Job once', async () => {
    const total = MAX_QUEUED_DELIVERIES * 4;
    let read = 0;
    const jobs = listedJobs(total);
    // An items array that counts how far the watch has read it.
    const items = new Proxy(jobs, {
      get(target, property, receiver) {
        if (typeof property === 'string' && /^\d+$/.test(property)) read = Math.max(read, Number(property) + 1);
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const source: JobWatchSource = {
      listPage: async (): Promise<ApiList<ListedJob>> => ({ items, metadata: { resourceVersion: '1' } }),
      openStream: () => new Promise(() => undefined),
    };
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const delivered: JobWatchEvent[] = [];
    let waiting = 0;
    const watch = new K8sJobWatch({
      source,
      listener: async (event) => {
        waiting += 1;
        await gate;
        waiting -= 1;
        delivered.push(event);
      },
      timings: TIMINGS,
      logger: new MemoryLogger(),
      now: Date.now,
    });
    watch.start();
    try {
      await settle();
      expect(waiting).to.equal(MAX_CONCURRENT_DELIVERIES);
      expect(read, 'Jobs taken from the list while the listener is stuck').to.be.within(MAX_QUEUED_DELIVERIES, MAX_QUEUED_DELIVERIES + 1);
      release();
      while (delivered.length < total) await settle();
      expect(new Set(delivered.map((event) => event.job.name)).size).to.equal(total);
      expect(read).to.equal(total);
    } finally {
      await watch.stop();
    }
  });
});
