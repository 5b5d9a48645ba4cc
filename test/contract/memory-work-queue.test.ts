import { MemoryBroker, MemoryProgressPublisher } from '../../src/adapters/memory/memory-work-queue.js';
import { progressPublisherContract } from './progress-publisher.contract.js';
import { workQueueContract } from './work-queue.contract.js';

workQueueContract('in-memory broker', async (options) => {
  const broker = new MemoryBroker();
  const workQueue = broker.workQueue('lando', { retryDelayMs: 0, ...options, maxRetryDelayMs: options.retryDelayMs ?? 0 });
  return {
    consumer: workQueue,
    client: workQueue,
    publishRaw: async (body, properties = {}) => broker.publish(workQueue.queue, body, { deliveryMode: 2, ...properties }),
    takeRaw: async () => {
      const message = broker.take(workQueue.queue);
      if (message === undefined) return undefined;
      const { body, properties } = message;
      return { body, contentType: properties.contentType, deliveryMode: properties.deliveryMode, headers: properties.headers ?? {} };
    },
    deadLetters: async () => broker.messages(workQueue.deadLetterQueue).map(({ body, properties }) => ({ body, headers: properties.headers ?? {} })),
    queueDepth: async () => broker.depth(workQueue.queue),
    dropConnection: async () => broker.simulateConnectionLoss(),
    teardown: () => workQueue.stop(),
  };
});

progressPublisherContract('in-memory publisher', async () => {
  const publisher = new MemoryProgressPublisher();
  let read = 0;
  return {
    publisher,
    received: async (count) => {
      const bodies = publisher.published.slice(read, read + count);
      read += bodies.length;
      return bodies;
    },
    breakPublishing: async () => {
      publisher.faults.failNext(1, 'transient', 'publish');
    },
    teardown: async () => undefined,
  };
});
