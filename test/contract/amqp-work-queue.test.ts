import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AmqpConnection } from '../../src/adapters/amqp/amqp-connection.js';
import { AmqpLandoClient } from '../../src/adapters/amqp/amqp-lando-client.js';
import { AmqpProgressPublisher, JOB_STATUS_EXCHANGE } from '../../src/adapters/amqp/amqp-progress-publisher.js';
import { AmqpWorkQueueConsumer } from '../../src/adapters/amqp/amqp-work-queue-consumer.js';
import { AmqpDeadLetterQueue, defaultDeadLetterQueue } from '../../src/adapters/amqp/dead-letter-queue.js';
import { encodeMessage } from '../../src/adapters/amqp/message-codec.js';
import { MESSAGING_VERSION, type Delivery } from '../../src/domain/commands.js';
import { PermanentError, TransientError } from '../../src/domain/errors.js';
import type { Disposition } from '../../src/ports/work-queue.js';
import { RABBITMQ, RabbitTestBroker, uniqueQueueName } from '../support/rabbitmq.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { progressPublisherContract } from './progress-publisher.contract.js';
import { workQueueContract, type WorkQueueHarnessOptions } from './work-queue.contract.js';

/** Everything one test needs: a fresh queue, a connection through a proxy it can cut, and a side door to the broker. */
interface RabbitFixture {
  readonly queue: string;
  readonly deadLetterQueue: string;
  readonly admin: RabbitTestBroker;
  readonly proxy: TcpProxy;
  readonly connection: AmqpConnection;
  readonly consumer: AmqpWorkQueueConsumer;
  readonly client: AmqpLandoClient;
  teardown(): Promise<void>;
}

async function openRabbitFixture(options: WorkQueueHarnessOptions & { waitTimeoutMs?: number } = {}): Promise<RabbitFixture> {
  const admin = await RabbitTestBroker.connect();
  const proxy = await TcpProxy.start(RABBITMQ);
  const queue = uniqueQueueName();
  const deadLetterQueue = defaultDeadLetterQueue(queue);
  admin.track(queue, deadLetterQueue);
  const connection = new AmqpConnection({
    ...RABBITMQ,
    port: proxy.port,
    connectionName: `lando-test ${queue}`,
    reconnectDelay: { initialMs: 20, maxMs: 200 },
    waitTimeoutMs: options.waitTimeoutMs ?? 5000,
  });
  const consumer = new AmqpWorkQueueConsumer(connection, {
    queue,
    prefetch: options.prefetch,
    maxAttempts: options.maxAttempts,
    retryDelayMs: options.retryDelayMs ?? 0,
    maxRetryDelayMs: options.retryDelayMs ?? 0,
  });
  const client = new AmqpLandoClient(connection, { queue, format: options.format });
  return {
    queue,
    deadLetterQueue,
    admin,
    proxy,
    connection,
    consumer,
    client,
    teardown: () =>
      runAll([
        () => consumer.stop(),
        () => connection.close(),
        () => proxy.close(),
        () => admin.close(),
      ]),
  };
}

/** Runs every cleanup step even when one fails, then reports the first failure. */
async function runAll(steps: (() => Promise<void>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}

workQueueContract('RabbitMQ', async (options) => {
  const fixture = await openRabbitFixture(options);
  const { admin, queue, connection } = fixture;
  return {
    consumer: fixture.consumer,
    client: fixture.client,
    publishRaw: (body, properties) => admin.publish(queue, body, properties),
    takeRaw: () => admin.take(queue),
    deadLetters: async () => (await admin.peekAll(fixture.deadLetterQueue)).map(({ body, headers }) => ({ body, headers })),
    // On the consumer's own channel, which the broker processes in order after its acks.
    queueDepth: () =>
      connection.run(`counting ${queue}`, async (session) => {
        await session.declareQueue(queue);
        return session.messageCount(queue);
      }),
    dropConnection: async () => fixture.proxy.cutAll(),
    teardown: fixture.teardown,
  };
});

progressPublisherContract('RabbitMQ', async () => {
  const admin = await RabbitTestBroker.connect();
  const proxy = await TcpProxy.start(RABBITMQ);
  const connection = new AmqpConnection({ ...RABBITMQ, port: proxy.port, waitTimeoutMs: 300, reconnectDelay: { initialMs: 20, maxMs: 100 } });
  await admin.declareJobStatusAsLando();
  const subscription = await admin.subscribe(JOB_STATUS_EXCHANGE);
  return {
    publisher: new AmqpProgressPublisher(connection),
    received: (count) => subscription.next(count),
    breakPublishing: async () => {
      proxy.refuseConnections(true);
      proxy.cutAll();
    },
    teardown: () => runAll([() => connection.close(), () => proxy.close(), () => admin.close()]),
  };
});

function ackAll(): { deliveries: Delivery[]; handler: (delivery: Delivery) => Promise<Disposition>; received(count: number): Promise<Delivery[]> } {
  const deliveries: Delivery[] = [];
  const waiters = new Set<() => void>();
  return {
    deliveries,
    handler: async (delivery) => {
      deliveries.push(delivery);
      for (const wake of waiters) wake();
      return { outcome: 'ack' };
    },
    received: (count) =>
      new Promise((resolve) => {
        const check = (): void => {
          if (deliveries.length < count) return;
          waiters.delete(check);
          resolve(deliveries.slice(0, count));
        };
        waiters.add(check);
        check();
      }),
  };
}

describe('RabbitMQ work queue adapters', function () {
  let fixture: RabbitFixture | undefined;

  async function open(options: Parameters<typeof openRabbitFixture>[0] = {}): Promise<RabbitFixture> {
    fixture = await openRabbitFixture(options);
    return fixture;
  }

  afterEach(async function () {
    await fixture?.teardown();
    fixture = undefined;
  });

  describe('declarations', function () {
    it("lets bespin-api declare the queue and lando declare job_status while we use them", async function () {
      const { consumer, connection, admin, queue } = await open();
      await consumer.start(ackAll().handler);
      await new AmqpProgressPublisher(connection).publish({ job: 1, state: 'R', step: '' });

      await admin.declareAsBespinApi(queue);
      await admin.declareJobStatusAsLando();
    });

    it('fails to start with a PermanentError naming the queue and the mismatch when the queue was declared otherwise', async function () {
      const { consumer, admin, queue } = await open();
      await admin.withChannel(async (channel) => {
        await channel.assertQueue(queue, { durable: false });
      });

      const failure = await consumer.start(ackAll().handler).then(
        () => assert.fail('start() succeeded against a conflicting declaration'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof PermanentError, String(failure));
      assert.match(failure.message, new RegExp(`'${queue}'`));
      assert.match(failure.message, /PRECONDITION_FAILED/);
      assert.match(failure.message, /durable/);
    });
  });

  describe('configuration', function () {
    it('refuses options out of range, naming them', function () {
      assert.throws(() => new AmqpConnection({ ...RABBITMQ, port: 70_000 }), /port must be an integer from 1 to 65535, got 70000/);
      assert.throws(() => new AmqpConnection({ ...RABBITMQ, host: 'amqp://guest@host' }), /host must be a bare host name/);
      const connection = new AmqpConnection(RABBITMQ);
      assert.throws(() => new AmqpWorkQueueConsumer(connection, { queue: 'lando', prefetch: 0 }), /prefetch must be an integer from 1/);
      assert.throws(() => new AmqpWorkQueueConsumer(connection, { queue: 'lando', deadLetterQueue: 'lando' }), /dead-letter queue must .* differ/);
    });

    it('fails with a PermanentError naming the file when the TLS CA file cannot be read', function () {
      assert.throws(() => new AmqpConnection({ ...RABBITMQ, tls: { caFile: '/nonexistent/ca.pem' } }), (error: unknown) => {
        return error instanceof PermanentError && error.message.includes('/nonexistent/ca.pem');
      });
    });

    it('fails fast with a PermanentError, without the password, when the broker refuses the login', async function () {
      const password = 'not-the-guest-password';
      const connection = new AmqpConnection({ ...RABBITMQ, password, reconnectDelay: { initialMs: 1000, maxMs: 1000 } });
      try {
        const failure = await new AmqpLandoClient(connection, { queue: uniqueQueueName() }).send({ command: 'start_job', jobId: '1' }).then(
          () => assert.fail('the send succeeded with a wrong password'),
          (error: unknown) => error,
        );
        assert.ok(failure instanceof PermanentError, String(failure));
        assert.match(failure.message, /ACCESS_REFUSED/);
        assert.ok(!failure.message.includes(password), 'the password leaked into the error');
      } finally {
        await connection.close();
      }
    });
  });

  describe('connection', function () {
    it('sends many messages over one connection', async function () {
      const { client, connection, admin, queue } = await open();
      for (let jobId = 1; jobId <= 25; jobId += 1) await client.send({ command: 'start_job', jobId: String(jobId) });

      assert.equal(connection.connectionsOpened, 1);
      const sent = await admin.peekAll(queue);
      assert.equal(sent.length, 25);
    });

    it('holds a send while the broker is unreachable and completes it after reconnecting', async function () {
      const { client, connection, admin, proxy, queue } = await open();
      await client.send({ command: 'start_job', jobId: '1' });
      proxy.refuseConnections(true);
      proxy.cutAll();

      const sending = client.send({ command: 'start_job', jobId: '2' });
      await proxy.refusals(2);
      proxy.refuseConnections(false);
      await sending;

      assert.equal(connection.connectionsOpened, 2);
      const sent = await admin.peekAll(queue);
      assert.equal(sent.length, 2);
    });

    it('fails a send with a TransientError when the broker stays unreachable', async function () {
      const { client, proxy } = await open({ waitTimeoutMs: 300 });
      proxy.refuseConnections(true);

      await assert.rejects(client.send({ command: 'start_job', jobId: '1' }), TransientError);
    });

    it('reconnects after a cut, redelivers the message in flight and settles nothing on the new channel', async function () {
      const { consumer, client, connection, proxy, queue } = await open({ prefetch: 1 });
      const deliveries: Delivery[] = [];
      const waiters = new Set<() => void>();
      let releaseFirst: () => void = () => undefined;
      const firstHeld = new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      const received = (count: number): Promise<void> =>
        new Promise((resolve) => {
          const check = (): void => {
            if (deliveries.length < count) return;
            waiters.delete(check);
            resolve();
          };
          waiters.add(check);
          check();
        });
      await consumer.start(async (delivery) => {
        deliveries.push(delivery);
        for (const wake of waiters) wake();
        if (deliveries.length === 1) await firstHeld;
        return { outcome: 'ack' };
      });
      await client.send({ command: 'start_job', jobId: '1' });
      await received(1);

      proxy.cutAll();
      await received(2);
      // The first handler's ack now belongs to a dead channel; on the new one it would ack the wrong message.
      releaseFirst();
      await client.send({ command: 'start_job', jobId: '2' });
      await received(3);
      await consumer.stop();

      assert.deepEqual(
        deliveries.map((delivery) => [delivery.message.jobId, delivery.redelivered]),
        [
          ['1', false],
          ['1', true],
          ['2', false],
        ],
      );
      assert.equal(connection.connectionsOpened, 2, 'a settle on the new channel would have broken it again');
      const depth = await connection.run('counting', (session) => session.messageCount(queue));
      assert.equal(depth, 0);
    });
  });

  describe('a consumer killed in the middle of a handler', function () {
    let child: ChildProcess | undefined;

    afterEach(function () {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
    });

    it('gets its message redelivered to the next consumer', async function () {
      const { consumer, client, queue } = await open();
      const script = fileURLToPath(new URL('../support/amqp-consumer-child.ts', import.meta.url));
      child = spawn(process.execPath, ['--import', 'tsx', script, queue], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
      const events = createInterface({ input: child.stdout ?? process.stdin })[Symbol.asyncIterator]();
      const nextEvent = async (): Promise<Record<string, unknown>> => {
        const line = await events.next();
        if (line.done === true) throw new Error('the consumer child exited early');
        return JSON.parse(line.value) as Record<string, unknown>;
      };

      assert.deepEqual(await nextEvent(), { event: 'started' });
      await client.send({ command: 'cancel_job', jobId: '42' });
      assert.deepEqual(await nextEvent(), { event: 'handling', jobId: '42', attempt: 0, redelivered: false });
      child.kill('SIGKILL');
      await exited;

      const recorder = ackAll();
      await consumer.start(recorder.handler);
      const [delivery] = await recorder.received(1);
      assert.deepEqual(delivery, {
        message: { command: 'cancel_job', jobId: '42', version: MESSAGING_VERSION },
        attempt: 0,
        redelivered: true,
        lastAttempt: false,
      });
    });
  });

  describe('dead-letter queue tools', function () {
    it('lists, requeues with fresh attempts and discards dead letters', async function () {
      const { consumer, connection, admin, queue } = await open({ maxAttempts: 2, prefetch: 1 });
      const garbage = Buffer.from('garbage');
      const json = encodeMessage({ command: 'start_job', jobId: '3', version: MESSAGING_VERSION }, 'json');
      await admin.publish(queue, garbage);
      await admin.publish(queue, json.body, { contentType: json.contentType });
      const failing = ackAll();
      await consumer.start(async (delivery) => {
        await failing.handler(delivery);
        return { outcome: 'retry', reason: 'bespin is down' };
      });
      // With prefetch 1 the garbage is dead-lettered before the JSON one is delivered, twice.
      await failing.received(2);
      await consumer.stop();

      const deadLetters = new AmqpDeadLetterQueue(connection, { queue });
      const listed = await deadLetters.list();
      assert.deepEqual(
        listed.map((letter) => letter.body),
        [garbage, json.body],
      );
      const [undecodable, exhausted] = listed;
      assert.match(undecodable?.reason ?? '', /.+/);
      assert.match(exhausted?.reason ?? '', /bespin is down/);
      assert.equal(exhausted?.sourceQueue, queue);
      assert.equal(exhausted?.originalProperties.contentType, json.contentType);
      assert.equal(await deadLetters.count(), 2, 'listing leaves them in place');

      assert.equal(await deadLetters.requeue(), 2);
      const healthy = ackAll();
      await consumer.start(healthy.handler);
      const [delivery] = await healthy.received(1);
      await consumer.stop();
      assert.equal(delivery?.message.jobId, '3');
      assert.equal(delivery?.attempt, 0, 'a requeued message starts its attempts afresh');

      const [again] = await deadLetters.list();
      assert.deepEqual(again?.body, garbage);
      assert.equal(await deadLetters.discard(), 1);
      assert.equal(await deadLetters.count(), 0);
    });
  });
});
