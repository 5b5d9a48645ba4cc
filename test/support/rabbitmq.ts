import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type { Channel, ChannelModel, Message, Options } from 'amqplib';

/** The shared RabbitMQ of the test machine. Tests never stop it, purge it or touch what they did not create. */
export const RABBITMQ = { host: '127.0.0.1', port: 5672, username: 'guest', password: 'guest' } as const;

export function uniqueQueueName(prefix = 'lando-test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** A message as a test inspects it. */
export interface RawMessage {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly deliveryMode: number | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly redelivered: boolean;
}

/** What a subscriber bound to an exchange receives, in order. */
export interface ExchangeSubscription {
  next(count: number): Promise<Buffer[]>;
}

/**
 * A test's own connection to the shared broker, for what the code under test must not do for
 * itself: publishing as another party, inspecting queues, declaring as bespin-api does. Every
 * queue a test makes is registered with track() and deleted by cleanup().
 */
export class RabbitTestBroker {
  private readonly tracked = new Set<string>();

  private constructor(private readonly model: ChannelModel) {
    model.on('error', () => undefined);
  }

  static async connect(): Promise<RabbitTestBroker> {
    const model = await amqp.connect({ hostname: RABBITMQ.host, port: RABBITMQ.port, username: RABBITMQ.username, password: RABBITMQ.password });
    return new RabbitTestBroker(model);
  }

  /** Registers queues for deletion by cleanup(). */
  track(...queues: string[]): void {
    for (const queue of queues) this.tracked.add(queue);
  }

  /** Runs `use` on a fresh channel, so a channel error in one step (e.g. 406) cannot spoil the next. */
  async withChannel<T>(use: (channel: Channel) => Promise<T>): Promise<T> {
    const channel = await this.model.createChannel();
    channel.on('error', () => undefined);
    try {
      return await use(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Declares the queue exactly as bespin-api and lando-messaging do (durable, no arguments). */
  async declareAsBespinApi(queue: string): Promise<void> {
    this.track(queue);
    await this.withChannel(async (channel) => {
      await channel.assertQueue(queue, { durable: true });
    });
  }

  /** Declares `job_status` exactly as lando-messaging does (fanout, not durable). */
  async declareJobStatusAsLando(): Promise<void> {
    await this.withChannel(async (channel) => {
      await channel.assertExchange('job_status', 'fanout', { durable: false });
    });
  }

  /** Publishes as a foreign sender does, after declaring the queue like bespin-api. */
  async publish(queue: string, body: Buffer, options: Options.Publish = {}): Promise<void> {
    this.track(queue);
    const channel = await this.model.createConfirmChannel();
    channel.on('error', () => undefined);
    try {
      await channel.assertQueue(queue, { durable: true });
      channel.sendToQueue(queue, body, { persistent: true, ...options });
      await channel.waitForConfirms();
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Removes and returns the oldest message of the queue. */
  async take(queue: string): Promise<RawMessage | undefined> {
    return this.withChannel(async (channel) => {
      const message = await channel.get(queue, { noAck: true });
      return message === false ? undefined : toRawMessage(message);
    });
  }

  /** Every message of the queue, oldest first, left in place (handed back when the channel closes). */
  async peekAll(queue: string): Promise<RawMessage[]> {
    return this.withChannel(async (channel) => {
      const messages: RawMessage[] = [];
      for (let message = await channel.get(queue); message !== false; message = await channel.get(queue)) {
        messages.push(toRawMessage(message));
      }
      return messages;
    });
  }

  /** Binds a temporary exclusive queue to the exchange and collects what arrives on it. */
  async subscribe(exchange: string): Promise<ExchangeSubscription> {
    const channel = await this.model.createChannel();
    channel.on('error', () => undefined);
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchange, '');
    const received: Buffer[] = [];
    const waiters = new Set<() => void>();
    await channel.consume(
      queue,
      (message) => {
        if (message === null) return;
        received.push(message.content);
        for (const wake of waiters) wake();
      },
      { noAck: true },
    );
    return {
      next: (count) =>
        new Promise<Buffer[]>((resolve) => {
          const check = (): void => {
            if (received.length < count) return;
            waiters.delete(check);
            resolve(received.splice(0, count));
          };
          waiters.add(check);
          check();
        }),
    };
  }

  /** Deletes every tracked queue (and with it what the test left in it). */
  async cleanup(): Promise<void> {
    const queues = [...this.tracked];
    this.tracked.clear();
    for (const queue of queues) {
      await this.withChannel(async (channel) => {
        await channel.deleteQueue(queue);
      });
    }
  }

  async close(): Promise<void> {
    await this.cleanup();
    await this.model.close().catch(() => undefined);
  }
}

function toRawMessage(message: Message): RawMessage {
  const properties = message.properties;
  return {
    body: message.content,
    contentType: typeof properties.contentType === 'string' ? properties.contentType : undefined,
    deliveryMode: typeof properties.deliveryMode === 'number' ? properties.deliveryMode : undefined,
    headers: properties.headers ?? {},
    redelivered: message.fields.redelivered,
  };
}
