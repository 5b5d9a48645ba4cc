import { describeError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import type { DeliveryHandler, WorkQueueConsumer } from '../../ports/work-queue.js';
import type { AmqpConnection, AmqpSession, ReceivedMessage } from './amqp-connection.js';
import { toDomainError } from './amqp-errors.js';
import {
  consumerPolicy,
  DeliveryProcessor,
  InFlightDeliveries,
  type ConsumerPolicy,
  type SettlementChannel,
  type WorkQueueConsumerOptions,
} from './delivery-settlement.js';
import { NO_OP_LOGGER } from './port-defaults.js';

/** The consumer on one session; `ready` resolves with its tag once the broker accepted it. */
interface Subscription {
  readonly session: AmqpSession;
  readonly ready: Promise<string>;
}

/**
 * Consumes lando's work queue with manual acknowledgement. It declares the queue exactly as
 * bespin-api and the watcher do (durable, no arguments) plus its dead-letter queue, and
 * consumes again on every new session after a reconnection. Deliveries of a lost session are
 * never settled on the new one: the broker redelivers them, flagged.
 */
export class AmqpWorkQueueConsumer implements WorkQueueConsumer {
  private readonly policy: ConsumerPolicy;
  private readonly processor: DeliveryProcessor;
  private readonly inFlight = new InFlightDeliveries();
  private readonly logger: Logger;
  private handler: DeliveryHandler | undefined;
  private subscription: Subscription | undefined;
  private unsubscribe: (() => void) | undefined;
  private running = false;

  constructor(
    private readonly connection: AmqpConnection,
    options: WorkQueueConsumerOptions,
  ) {
    this.policy = consumerPolicy(options);
    this.processor = new DeliveryProcessor(this.policy, options);
    this.logger = (options.logger ?? NO_OP_LOGGER).child({ queue: this.policy.queue });
  }

  /** Resolves once the broker delivers to this consumer; fails if it cannot (e.g. a conflicting queue declaration). */
  async start(handler: DeliveryHandler): Promise<void> {
    if (this.handler) throw new Error(`the consumer of queue '${this.policy.queue}' is already started`);
    this.handler = handler;
    this.running = true;
    this.processor.pauseRetries();
    try {
      // The first consume runs outside the reconnection listener, so its failure reaches the caller.
      await this.consumeOnLiveSession();
      this.unsubscribe = this.connection.onSession((session) => this.consumeOn(session));
      // A reconnection between the two steps ran without the listener.
      await this.consumeOnLiveSession();
    } catch (error) {
      await this.halt();
      this.handler = undefined;
      throw error;
    }
    this.logger.info({ prefetch: this.policy.prefetch, deadLetterQueue: this.policy.deadLetterQueue }, 'consuming the work queue');
  }

  async stop(): Promise<void> {
    await this.halt();
    this.processor.hurry();
    await this.inFlight.settled();
    this.handler = undefined;
    this.logger.info({}, 'stopped consuming the work queue');
  }

  /** No new consumers, and the current one cancelled; deliveries already made still run. */
  private async halt(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const subscription = this.subscription;
    this.subscription = undefined;
    if (subscription) await this.cancel(subscription);
  }

  private consumeOnLiveSession(): Promise<void> {
    return this.connection.run(`consuming queue '${this.policy.queue}'`, (session) => this.consumeOn(session));
  }

  /** Sets up the consumer on `session` unless it already is; called by start() and on each reconnection. */
  private async consumeOn(session: AmqpSession): Promise<void> {
    // A reconnection may call a listener that stop() has just removed.
    if (!this.running) return;
    if (this.subscription?.session === session) {
      await this.subscription.ready;
      return;
    }
    const subscription: Subscription = { session, ready: this.subscribe(session) };
    this.subscription = subscription;
    await subscription.ready;
  }

  private async subscribe(session: AmqpSession): Promise<string> {
    await declareQueue(session, this.policy.queue);
    await declareQueue(session, this.policy.deadLetterQueue);
    return session.consume(
      this.policy.queue,
      this.policy.prefetch,
      (message) => this.onMessage(session, message),
      () => {
        // The queue was deleted or the broker is failing over: a new session re-declares and re-consumes.
        if (this.subscription?.session === session) session.abandon(`RabbitMQ cancelled the consumer of queue '${this.policy.queue}'`);
      },
    );
  }

  private onMessage(session: AmqpSession, message: ReceivedMessage): void {
    const handler = this.handler;
    if (handler === undefined) {
      // Only reachable after stop() gave up on a cancel: hand the message back for another consumer.
      message.release();
      return;
    }
    const channel: SettlementChannel = {
      get live() {
        return session.live;
      },
      publish: (queue, body, properties) => session.publish('', queue, body, properties),
      ack: () => message.ack(),
    };
    this.inFlight.track(this.processor.process(message, channel, handler));
  }

  private async cancel(subscription: Subscription): Promise<void> {
    // A consumer that never started, or whose session is gone, has nothing left to cancel.
    const consumerTag = await subscription.ready.catch(() => undefined);
    if (consumerTag === undefined || !subscription.session.live) return;
    try {
      await subscription.session.cancel(consumerTag);
    } catch (error) {
      this.logger.warn(
        { error: describeError(error) },
        'could not cancel the consumer; its unsettled deliveries return to the queue with its connection',
      );
    }
  }
}

async function declareQueue(session: AmqpSession, queue: string): Promise<void> {
  try {
    await session.declareQueue(queue);
  } catch (error) {
    throw toDomainError(error, `declaring queue '${queue}' (durable, no arguments, as bespin-api and the watcher do)`);
  }
}
