import { describeError, PermanentError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import type { AmqpConnection, AmqpSession } from './amqp-connection.js';
import {
  PERSISTENT,
  propertiesFromTable,
  propertiesToTable,
  withoutRetryCounts,
  type MessageProperties,
} from './message-properties.js';
import { NO_OP_LOGGER } from './port-defaults.js';

/**
 * The dead-letter queue is declared by this service (durable, no arguments) next to the work
 * queue. Its messages keep the original body; the headers say why, when and from where, and
 * carry the original properties so an operator can put a message back exactly as it came.
 * RabbitMQ's own dead-lettering (x-dead-letter-exchange) is not used: it needs a queue
 * argument that would break bespin-api's declaration of the work queue (messages.md §2).
 */
export const DEAD_LETTER_HEADERS = {
  reason: 'x-death-reason',
  deadLetteredAt: 'x-dead-lettered-at',
  sourceQueue: 'x-source-queue',
  originalProperties: 'x-original-properties',
} as const;

export function defaultDeadLetterQueue(queue: string): string {
  return `${queue}.dead-letter`;
}

export function deadLetterProperties(original: MessageProperties, reason: string, sourceQueue: string, at: Date): MessageProperties {
  return {
    deliveryMode: PERSISTENT,
    headers: {
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.deadLetteredAt]: at.toISOString(),
      [DEAD_LETTER_HEADERS.sourceQueue]: sourceQueue,
      [DEAD_LETTER_HEADERS.originalProperties]: propertiesToTable(original),
    },
  };
}

/** A dead-lettered message as an operator sees it. */
export interface DeadLetter {
  readonly body: Buffer;
  readonly reason: string;
  /** ISO time; undefined for a message that was not put there by this service. */
  readonly deadLetteredAt?: string;
  readonly sourceQueue?: string;
  /** The properties it had on the work queue (its own ones when it carries no copy). */
  readonly originalProperties: MessageProperties;
}

export function readDeadLetter(body: Buffer, properties: MessageProperties): DeadLetter {
  const headers = properties.headers ?? {};
  const text = (name: string): string | undefined => {
    const value = headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const originalTable = headers[DEAD_LETTER_HEADERS.originalProperties];
  return {
    body,
    reason: text(DEAD_LETTER_HEADERS.reason) ?? 'unknown (no x-death-reason header)',
    deadLetteredAt: text(DEAD_LETTER_HEADERS.deadLetteredAt),
    sourceQueue: text(DEAD_LETTER_HEADERS.sourceQueue),
    originalProperties: originalTable === undefined ? properties : readOriginalProperties(originalTable),
  };
}

function readOriginalProperties(table: unknown): MessageProperties {
  try {
    return propertiesFromTable(table);
  } catch (error) {
    throw new PermanentError(`a dead letter's ${DEAD_LETTER_HEADERS.originalProperties} header is unreadable: ${describeError(error)}`);
  }
}

export interface AmqpDeadLetterQueueOptions {
  /** The work queue whose dead letters these are; requeued messages go back to it. */
  readonly queue: string;
  /** Default `<queue>.dead-letter`. */
  readonly deadLetterQueue?: string;
  readonly logger?: Logger;
}

/**
 * Operator tools for a work queue's dead letters: look at them, put them back on the work
 * queue with a fresh attempt count (once the cause is fixed), or throw them away.
 */
export class AmqpDeadLetterQueue {
  private readonly queue: string;
  private readonly deadLetterQueue: string;
  private readonly logger: Logger;

  constructor(
    private readonly connection: AmqpConnection,
    options: AmqpDeadLetterQueueOptions,
  ) {
    this.queue = options.queue;
    this.deadLetterQueue = options.deadLetterQueue ?? defaultDeadLetterQueue(options.queue);
    this.logger = (options.logger ?? NO_OP_LOGGER).child({ queue: this.queue, deadLetterQueue: this.deadLetterQueue });
  }

  async count(): Promise<number> {
    return this.connection.run(`counting the dead letters in ${this.deadLetterQueue}`, async (session) => {
      await session.declareQueue(this.deadLetterQueue);
      return session.messageCount(this.deadLetterQueue);
    });
  }

  /** The first `limit` dead letters, oldest first; they stay in the queue. */
  async list(limit = 100): Promise<DeadLetter[]> {
    checkLimit(limit);
    return this.connection.run(`listing the dead letters in ${this.deadLetterQueue}`, async (session) => {
      await session.declareQueue(this.deadLetterQueue);
      const messages = await session.peek(this.deadLetterQueue, limit);
      return messages.map((message) => readDeadLetter(message.body, message.properties));
    });
  }

  /**
   * Moves up to `limit` dead letters (oldest first) back to the end of the work queue with
   * their original properties and no attempt count. Each is removed from the dead-letter
   * queue only after the broker confirmed its copy. Returns how many were moved.
   */
  async requeue(limit = Number.POSITIVE_INFINITY): Promise<number> {
    return this.drain('requeueing', limit, async (session, message) => {
      const deadLetter = readDeadLetter(message.body, message.properties);
      await session.declareQueue(this.queue);
      await session.publish('', this.queue, message.body, withoutRetryCounts(deadLetter.originalProperties));
      this.logger.info({ reason: deadLetter.reason, deadLetteredAt: deadLetter.deadLetteredAt }, 'requeued a dead letter');
    });
  }

  /** Deletes up to `limit` dead letters (oldest first). Returns how many were deleted. */
  async discard(limit = Number.POSITIVE_INFINITY): Promise<number> {
    return this.drain('discarding', limit, async (_session, message) => {
      const deadLetter = readDeadLetter(message.body, message.properties);
      this.logger.warn({ reason: deadLetter.reason, deadLetteredAt: deadLetter.deadLetteredAt }, 'discarded a dead letter');
    });
  }

  /**
   * Takes dead letters one by one, runs `handle` and acknowledges; stops at the count the queue
   * had at the start, so letters that die again meanwhile are not cycled forever.
   */
  private async drain(
    verb: string,
    limit: number,
    handle: (session: AmqpSession, message: { body: Buffer; properties: MessageProperties }) => Promise<void>,
  ): Promise<number> {
    checkLimit(limit);
    return this.connection.run(`${verb} the dead letters in ${this.deadLetterQueue}`, async (session) => {
      await session.declareQueue(this.deadLetterQueue);
      const available = Math.min(limit, await session.messageCount(this.deadLetterQueue));
      let done = 0;
      while (done < available) {
        const message = await session.get(this.deadLetterQueue);
        if (message === undefined) break;
        try {
          await handle(session, message);
        } catch (error) {
          message.release();
          throw error;
        }
        message.ack();
        done += 1;
      }
      return done;
    });
  }
}

function checkLimit(limit: number): void {
  if (!(limit >= 1) || (Number.isFinite(limit) && !Number.isSafeInteger(limit))) {
    throw new RangeError(`a dead-letter limit must be a positive integer or Infinity, got ${limit}`);
  }
}
