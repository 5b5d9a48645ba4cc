/**
 * A lando consumer in a process of its own, for the test that kills it with SIGKILL in the
 * middle of a handler. Arguments: the queue name. It reports on stdout, one JSON object a
 * line: `{"event":"started"}` once consuming, then `{"event":"handling",...}` per delivery,
 * whose handler never returns.
 */
import { AmqpConnection } from '../../src/adapters/amqp/amqp-connection.js';
import { AmqpWorkQueueConsumer } from '../../src/adapters/amqp/amqp-work-queue-consumer.js';
import { RABBITMQ } from './rabbitmq.js';

const queue = process.argv[2];
if (queue === undefined) throw new Error('usage: amqp-consumer-child.ts <queue>');

function report(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const connection = new AmqpConnection({ ...RABBITMQ, connectionName: 'lando-test-child' });
const consumer = new AmqpWorkQueueConsumer(connection, { queue, prefetch: 1 });
await consumer.start(async (delivery) => {
  report({ event: 'handling', jobId: delivery.message.jobId, attempt: delivery.attempt, redelivered: delivery.redelivered });
  return new Promise<never>(() => undefined);
});
report({ event: 'started' });
