import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeMessage, encodeMessage, JSON_CONTENT_TYPE, type MessageFormat } from '../../src/adapters/amqp/message-codec.js';
import { MESSAGING_VERSION, type Delivery, type LandoCommandName, type LandoMessage } from '../../src/domain/commands.js';
import type { DeliveryHandler, Disposition, LandoClient, WorkQueueConsumer } from '../../src/ports/work-queue.js';

export interface WorkQueueHarnessOptions {
  readonly prefetch?: number;
  readonly maxAttempts?: number;
  /** Pause before the first retry; default 0. */
  readonly retryDelayMs?: number;
  /** The format the harness's client sends; default pickle. */
  readonly format?: MessageFormat;
}

/** A message as it sits in a queue. */
export interface QueuedMessageView {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly deliveryMode: number | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
}

/** One queue, its consumer and client, and a view of the broker behind them. */
export interface WorkQueueHarness {
  readonly consumer: WorkQueueConsumer;
  readonly client: LandoClient;
  /** Publishes to the queue as a foreign sender would (persistent, the given properties). */
  publishRaw(body: Buffer, properties?: { contentType?: string; headers?: Record<string, unknown> }): Promise<void>;
  /** Removes the oldest message from the queue, to inspect its wire form. */
  takeRaw(): Promise<QueuedMessageView | undefined>;
  /** The queue's dead letters, oldest first, left in place. */
  deadLetters(): Promise<{ body: Buffer; headers: Readonly<Record<string, unknown>> }[]>;
  /** Messages waiting in the queue (not those being handled). */
  queueDepth(): Promise<number>;
  /** Drops the connection between consumer and broker, which the adapter must get over by itself. */
  dropConnection(): Promise<void>;
  teardown(): Promise<void>;
}

export type WorkQueueHarnessFactory = (options: WorkQueueHarnessOptions) => Promise<WorkQueueHarness>;

const PICKLE_FIXTURES = new URL('../fixtures/pickle/', import.meta.url);

export function pickleFixture(name: string): Buffer {
  return Buffer.from(readFileSync(new URL(`${name}.pickle.hex`, PICKLE_FIXTURES), 'utf8').trim(), 'hex');
}

/** The message a fixture holds, from its `.json` description. */
export function fixtureMessage(name: string): LandoMessage {
  const description = JSON.parse(readFileSync(new URL(`${name}.json`, PICKLE_FIXTURES), 'utf8')) as {
    command: LandoCommandName;
    version: string;
    payload: { job_id: string | number; message?: string };
  };
  const { command, version, payload } = description;
  const jobId = payload.job_id;
  return payload.message === undefined ? { command, jobId, version } : { command, jobId, message: payload.message, version };
}

function decodeFailureReason(body: Buffer, contentType?: string): string {
  try {
    decodeMessage(body, contentType);
  } catch (error) {
    if (error instanceof Error && 'reason' in error && typeof error.reason === 'string') return error.reason;
    throw error;
  }
  throw new Error('the body was expected not to decode');
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Records deliveries and answers them with `decide`; `received(n)` waits for the n-th. */
class Recorder {
  readonly deliveries: Delivery[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly decide: (delivery: Delivery, index: number) => Promise<Disposition> | Disposition = () => ({ outcome: 'ack' })) {}

  readonly handler: DeliveryHandler = async (delivery) => {
    const index = this.deliveries.push(delivery) - 1;
    for (const wake of this.waiters) wake();
    return this.decide(delivery, index);
  };

  received(count: number): Promise<Delivery[]> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.deliveries.length < count) return;
        this.waiters.delete(check);
        resolve(this.deliveries.slice(0, count));
      };
      this.waiters.add(check);
      check();
    });
  }
}

const ACK: Disposition = { outcome: 'ack' };

function startJob(jobId: string): Omit<LandoMessage, 'version'> {
  return { command: 'start_job', jobId };
}

function summary(delivery: Delivery): string {
  return `${delivery.message.command}:${delivery.message.jobId}@${delivery.attempt}${delivery.redelivered ? ' (redelivered)' : ''}`;
}

async function nextTurns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

export function workQueueContract(name: string, setup: WorkQueueHarnessFactory): void {
  describe(`work queue contract: ${name}`, function () {
    let harness: WorkQueueHarness | undefined;

    async function open(options: WorkQueueHarnessOptions = {}): Promise<WorkQueueHarness> {
      harness = await setup(options);
      return harness;
    }

    afterEach(async function () {
      await harness?.teardown();
      harness = undefined;
    });

    it('delivers a sent message decoded, as its first attempt', async function () {
      const { consumer, client } = await open();
      const recorder = new Recorder();
      await client.send({ command: 'run_job_error', jobId: '42', message: 'line 1\nline 2 ✓' });
      await consumer.start(recorder.handler);

      const [delivery] = await recorder.received(1);
      assert.deepEqual(delivery, {
        message: { command: 'run_job_error', jobId: '42', message: 'line 1\nline 2 ✓', version: MESSAGING_VERSION },
        attempt: 0,
        redelivered: false,
        lastAttempt: false,
      });
    });

    it('removes an acknowledged message from the queue for good', async function () {
      const { consumer, client, queueDepth, deadLetters, dropConnection } = await open();
      const recorder = new Recorder();
      await client.send(startJob('1'));
      await consumer.start(recorder.handler);
      await recorder.received(1);
      await consumer.stop();

      // An unacknowledged message would come back after a connection loss, ahead of the next one.
      await dropConnection();
      await consumer.start(recorder.handler);
      await client.send(startJob('2'));
      const deliveries = await recorder.received(2);
      await consumer.stop();

      assert.deepEqual(deliveries.map(summary), ['start_job:1@0', 'start_job:2@0']);
      assert.equal(await queueDepth(), 0);
      assert.deepEqual(await deadLetters(), []);
    });

    it('puts a retried message at the back of the queue with its attempt raised', async function () {
      const { consumer, client, queueDepth } = await open({ prefetch: 1 });
      const recorder = new Recorder((delivery) =>
        delivery.message.jobId === '1' && delivery.attempt === 0 ? { outcome: 'retry', reason: 'bespin is down' } : ACK,
      );
      await client.send(startJob('1'));
      await client.send(startJob('2'));
      await consumer.start(recorder.handler);

      const deliveries = await recorder.received(3);
      await consumer.stop();
      assert.deepEqual(deliveries.map(summary), ['start_job:1@0', 'start_job:2@0', 'start_job:1@1']);
      assert.equal(await queueDepth(), 0);
    });

    it('puts a deferred message back at the end without counting an attempt, however often', async function () {
      const { consumer, client, queueDepth, deadLetters } = await open({ prefetch: 1, maxAttempts: 2 });
      let deferrals = 0;
      const recorder = new Recorder((delivery) =>
        delivery.message.jobId === '1' && deferrals++ < 3 ? { outcome: 'defer', reason: 'job 1 is being handled by another lando replica' } : ACK,
      );
      await client.send(startJob('1'));
      await client.send(startJob('2'));
      await consumer.start(recorder.handler);

      const deliveries = await recorder.received(5);
      await consumer.stop();
      assert.deepEqual(deliveries.map(summary), ['start_job:1@0', 'start_job:2@0', 'start_job:1@0', 'start_job:1@0', 'start_job:1@0']);
      assert.equal(await queueDepth(), 0);
      assert.deepEqual(await deadLetters(), []);
    });

    it('stops without waiting out the pause before a retry, leaving the message queued with its attempt raised', async function () {
      const { consumer, client, queueDepth, takeRaw } = await open({ retryDelayMs: 3_600_000 });
      const recorder = new Recorder(() => ({ outcome: 'retry', reason: 'bespin is down' }));
      await client.send(startJob('1'));
      await consumer.start(recorder.handler);
      await recorder.received(1);

      // Without the hurry, stop() would wait an hour for the pause to end.
      await consumer.stop();
      assert.equal(await queueDepth(), 1);
      const queued = await takeRaw();
      assert.equal(queued?.headers['x-lando-attempt'], 1);
    });

    it('counts the deferrals of a message in a row, so their pauses can grow, without spending an attempt', async function () {
      const { consumer, client, takeRaw } = await open({ retryDelayMs: 3_600_000 });
      const recorder = new Recorder(() => ({ outcome: 'defer', reason: 'job 1 is being handled by another lando replica' }));
      await client.send(startJob('1'));
      await consumer.start(recorder.handler);
      const deliveries = await recorder.received(3);
      await consumer.stop();

      assert.deepEqual(deliveries.map(summary), ['start_job:1@0', 'start_job:1@0', 'start_job:1@0']);
      const queued = await takeRaw();
      assert.equal(queued?.headers['x-lando-deferrals'], 3);
      assert.equal(queued?.headers['x-lando-attempt'], 0);
    });

    it('dead-letters a message with the reason once it used up its attempts', async function () {
      const { consumer, client, queueDepth, deadLetters } = await open({ maxAttempts: 3 });
      const recorder = new Recorder(() => ({ outcome: 'retry', reason: 'bespin is down' }));
      await client.send({ command: 'stage_job_complete', jobId: '42' });
      await consumer.start(recorder.handler);

      const deliveries = await recorder.received(3);
      await consumer.stop();
      assert.deepEqual(
        deliveries.map((delivery) => [delivery.attempt, delivery.lastAttempt]),
        [[0, false], [1, false], [2, true]],
        'the handler is told which attempt is the last',
      );
      const letters = await deadLetters();
      assert.equal(letters.length, 1);
      const [letter] = letters;
      assert.deepEqual(letter?.body, pickleFixture('stage_job_complete.watcher.v2.0.1'));
      assert.match(String(letter?.headers['x-death-reason']), /bespin is down/);
      assert.match(String(letter?.headers['x-death-reason']), /3 attempts/);
      assert.equal(typeof letter?.headers['x-source-queue'], 'string');
      assert.ok(!Number.isNaN(Date.parse(String(letter?.headers['x-dead-lettered-at']))), 'x-dead-lettered-at is a time');
      assert.equal(await queueDepth(), 0);
    });

    it('dead-letters a rejected message with the reason and its original properties', async function () {
      const { consumer, publishRaw, queueDepth, deadLetters } = await open();
      const recorder = new Recorder(() => ({ outcome: 'reject', reason: 'job 42 does not exist' }));
      const { body, contentType } = encodeMessage({ command: 'cancel_job', jobId: '42', version: MESSAGING_VERSION }, 'json');
      await publishRaw(body, { contentType, headers: { 'x-trace': 'abc' } });
      await consumer.start(recorder.handler);

      const [delivery] = await recorder.received(1);
      await consumer.stop();
      assert.equal(delivery?.message.command, 'cancel_job');
      const letters = await deadLetters();
      assert.equal(letters.length, 1);
      assert.equal(letters[0]?.headers['x-death-reason'], 'job 42 does not exist');
      assert.deepEqual(letters[0]?.body, body);
      const original = letters[0]?.headers['x-original-properties'] as Record<string, unknown>;
      assert.equal(original['content_type'], JSON_CONTENT_TYPE);
      assert.equal(original['delivery_mode'], 2);
      assert.equal((original['headers'] as Record<string, unknown>)['x-trace'], 'abc');
      assert.equal(await queueDepth(), 0);
    });

    it('retries a message whose handler threw, and dead-letters it with the error in the end', async function () {
      const { consumer, client, deadLetters } = await open({ maxAttempts: 2 });
      const recorder = new Recorder(() => {
        throw new Error('kaput');
      });
      await client.send(startJob('42'));
      await consumer.start(recorder.handler);

      const deliveries = await recorder.received(2);
      await consumer.stop();
      assert.deepEqual(deliveries.map(summary), ['start_job:42@0', 'start_job:42@1']);
      const letters = await deadLetters();
      assert.equal(letters.length, 1);
      assert.match(String(letters[0]?.headers['x-death-reason']), /kaput/);
    });

    it('dead-letters an undecodable body with its reason and goes on with the next message', async function () {
      const { consumer, client, publishRaw, queueDepth, deadLetters } = await open({ prefetch: 1 });
      const recorder = new Recorder();
      const garbage = Buffer.from('certainly not a pickle');
      await publishRaw(garbage);
      await client.send(startJob('7'));
      await consumer.start(recorder.handler);

      const deliveries = await recorder.received(1);
      await consumer.stop();
      assert.deepEqual(deliveries.map(summary), ['start_job:7@0']);
      const letters = await deadLetters();
      assert.equal(letters.length, 1);
      assert.deepEqual(letters[0]?.body, garbage);
      assert.equal(letters[0]?.headers['x-death-reason'], decodeFailureReason(garbage));
      assert.equal(await queueDepth(), 0);
    });

    it('dead-letters a pickle of another major messaging version', async function () {
      const { consumer, client, publishRaw, deadLetters } = await open({ prefetch: 1 });
      const recorder = new Recorder();
      const fixture = pickleFixture('stage_job_complete.watcher.v2.0.1');
      const versionAt = fixture.indexOf('2.0.1');
      const newer = Buffer.concat([fixture.subarray(0, versionAt), Buffer.from('3.0.1'), fixture.subarray(versionAt + 5)]);
      await publishRaw(newer);
      await client.send(startJob('8'));
      await consumer.start(recorder.handler);

      await recorder.received(1);
      await consumer.stop();
      const letters = await deadLetters();
      assert.equal(letters.length, 1);
      assert.deepEqual(letters[0]?.body, newer);
      assert.equal(letters[0]?.headers['x-death-reason'], decodeFailureReason(newer));
      assert.match(String(letters[0]?.headers['x-death-reason']), /major version/);
    });

    it('consumes pickles from bespin-api and the watcher and JSON bodies alike', async function () {
      const { consumer, publishRaw } = await open({ prefetch: 1 });
      const recorder = new Recorder();
      const fixtures = ['start_job.bespin-api.v2.0.0', 'cancel_job.int-id-70000.v2.0.1', 'organize_output_error.watcher.non-bmp.v2.0.1'];
      for (const fixture of fixtures) await publishRaw(pickleFixture(fixture));
      const jsonMessage: LandoMessage = { command: 'record_output_project_complete', jobId: 9, version: MESSAGING_VERSION };
      const json = encodeMessage(jsonMessage, 'json');
      await publishRaw(json.body, { contentType: json.contentType });
      await consumer.start(recorder.handler);

      const deliveries = await recorder.received(4);
      await consumer.stop();
      assert.deepEqual(
        deliveries.map((delivery) => delivery.message),
        [...fixtures.map(fixtureMessage), jsonMessage],
      );
    });

    it('sends pickles byte-identical to lando-messaging, persistent and without a content type', async function () {
      const { client, takeRaw } = await open({ format: 'pickle' });
      for (const fixture of ['stage_job_complete.watcher.v2.0.1', 'run_job_error.watcher.v2.0.1']) {
        const { version: _fixtureVersion, ...message } = fixtureMessage(fixture);
        await client.send(message);
        const sent = await takeRaw();
        assert.deepEqual(sent?.body, pickleFixture(fixture), fixture);
        assert.equal(sent?.deliveryMode, 2);
        assert.equal(sent?.contentType, undefined);
        assert.deepEqual(Object.keys(sent?.headers ?? {}), []);
      }
    });

    it('sends JSON with its content type when configured to', async function () {
      const { client, takeRaw } = await open({ format: 'json' });
      await client.send({ command: 'stage_job_error', jobId: '5', message: 'Unable to read logs.' });
      const sent = await takeRaw();
      assert.equal(sent?.contentType, JSON_CONTENT_TYPE);
      assert.equal(sent?.deliveryMode, 2);
      assert.deepEqual(decodeMessage(sent?.body ?? Buffer.alloc(0), sent?.contentType), {
        command: 'stage_job_error',
        jobId: '5',
        message: 'Unable to read logs.',
        version: MESSAGING_VERSION,
      });
    });

    it('handles deliveries concurrently up to the prefetch, and stop() waits for them to settle', async function () {
      const { consumer, client, queueDepth, takeRaw } = await open({ prefetch: 2 });
      const release = gate();
      const events: string[] = [];
      const recorder = new Recorder(async (delivery) => {
        await release.promise;
        events.push(`handled ${delivery.message.jobId}`);
        return ACK;
      });
      await client.send(startJob('1'));
      await client.send(startJob('2'));
      await consumer.start(recorder.handler);
      await recorder.received(2);

      const stopped = consumer.stop().then(() => events.push('stopped'));
      await nextTurns(20);
      assert.deepEqual(events, [], 'stop() resolved while handlers were still running');
      release.open();
      await stopped;
      assert.deepEqual(events, ['handled 1', 'handled 2', 'stopped']);
      assert.equal(await queueDepth(), 0);

      await client.send(startJob('3'));
      assert.equal(jobIdOf(await takeRaw()), '3', 'a stopped consumer takes nothing more');
    });

    it('redelivers what was in flight when the connection dropped, and neither retries nor acks it on the new one', async function () {
      const { consumer, client, queueDepth, deadLetters, dropConnection } = await open({ prefetch: 1 });
      const first = gate();
      const second = gate();
      const recorder = new Recorder(async (_delivery, index): Promise<Disposition> => {
        if (index === 0) {
          await first.promise;
          return { outcome: 'retry', reason: 'too late: its connection is gone' };
        }
        if (index === 1) await second.promise;
        return ACK;
      });
      await client.send(startJob('1'));
      await consumer.start(recorder.handler);
      await recorder.received(1);

      await dropConnection();
      await recorder.received(2);
      first.open();
      second.open();
      await consumer.stop();
      // A retry copy of the first delivery would now be waiting ahead of the next message.
      await consumer.start(recorder.handler);
      await client.send(startJob('2'));
      const deliveries = await recorder.received(3);
      await consumer.stop();

      assert.deepEqual(deliveries.map(summary), ['start_job:1@0', 'start_job:1@0 (redelivered)', 'start_job:2@0']);
      assert.equal(await queueDepth(), 0);
      assert.deepEqual(await deadLetters(), []);
    });
  });
}

function jobIdOf(message: QueuedMessageView | undefined): string | number | undefined {
  return message === undefined ? undefined : decodeMessage(message.body, message.contentType).jobId;
}
