import { MESSAGING_VERSION, type LandoMessage } from '../../domain/commands.js';
import type { LandoClient } from '../../ports/work-queue.js';
import type { AmqpConnection } from './amqp-connection.js';
import { encodeMessage, type MessageFormat } from './message-codec.js';
import { PERSISTENT, type MessageProperties } from './message-properties.js';

export interface AmqpLandoClientOptions {
  readonly queue: string;
  /** Default `pickle`, which every lando-messaging consumer reads. */
  readonly format?: MessageFormat;
}

/**
 * A command as it goes on the queue: the body in the wire format with this service's
 * lando-messaging version, persistent; pickle carries no other property, like
 * lando-messaging's publishes (messages.md §2), JSON carries its content type.
 */
export function encodeCommand(message: Omit<LandoMessage, 'version'>, format: MessageFormat): { body: Buffer; properties: MessageProperties } {
  const { body, contentType } = encodeMessage({ ...message, version: MESSAGING_VERSION }, format);
  return { body, properties: contentType === undefined ? { deliveryMode: PERSISTENT } : { deliveryMode: PERSISTENT, contentType } };
}

/** Sends commands to lando's queue over the shared connection, each confirmed by the broker. */
export class AmqpLandoClient implements LandoClient {
  private readonly queue: string;
  private readonly format: MessageFormat;

  constructor(
    private readonly connection: AmqpConnection,
    options: AmqpLandoClientOptions,
  ) {
    if (typeof options.queue !== 'string' || options.queue.trim() === '') {
      throw new RangeError(`the lando queue name must be a non-empty string, got ${JSON.stringify(options.queue)}`);
    }
    this.queue = options.queue;
    this.format = options.format ?? 'pickle';
  }

  async send(message: Omit<LandoMessage, 'version'>): Promise<void> {
    const { body, properties } = encodeCommand(message, this.format);
    await this.connection.run(`sending ${message.command} for job ${message.jobId} to queue '${this.queue}'`, async (session) => {
      await session.declareQueue(this.queue);
      await session.publish('', this.queue, body, properties);
    });
  }
}
