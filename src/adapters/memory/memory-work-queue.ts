import type { LandoMessage } from '../../domain/commands.js';
import { TransientError } from '../../domain/errors.js';
import type { JobProgress, ProgressPublisher } from '../../ports/progress-publisher.js';
import type { DeliveryHandler, LandoClient, WorkQueueConsumer } from '../../ports/work-queue.js';
import { encodeCommand } from '../amqp/amqp-lando-client.js';
import { encodeJobProgress } from '../amqp/amqp-progress-publisher.js';
import {
  consumerPolicy,
  DeliveryProcessor,
  InFlightDeliveries,
  type ConsumerPolicy,
  type InboundMessage,
  type SettlementChannel,
  type WorkQueueConsumerOptions,
} from '../amqp/delivery-settlement.js';
import type { MessageFormat } from '../amqp/message-codec.js';
import type { MessageProperties } from '../amqp/message-properties.js';
import { FaultPlan } from './fault-plan.js';

/** A message sitting in a queue of the in-memory broker. */
export interface MemoryQueuedMessage {
  readonly body: Buffer;
  readonly properties: MessageProperties;
  readonly redelivered: boolean;
}

/** Called synchronously from inside publish() or ack(), so it must defer any real work. */
type DeliverFunction = (message: InboundMessage, channel: SettlementChannel) => void;

interface Subscription {
  readonly queue: string;
  readonly prefetch: number;
  readonly deliver: DeliverFunction;
  /** Delivered and not yet acknowledged, by delivery tag. */
  readonly unacked: Map<number, MemoryQueuedMessage>;
  active: boolean;
}

/**
 * An in-memory stand-in for RabbitMQ with the semantics the work-queue adapters rely on:
 * named queues, prefetch-limited manual-ack consumers, redelivery (flagged) of what was
 * unacknowledged when the "connection" drops, and deliveries of a dropped connection that can
 * no longer be settled. The consumers settle messages through the same code as the RabbitMQ
 * consumer, so retries, attempts and dead letters look exactly alike.
 *
 * Faults: `faults` is consulted with the operations `send` and `start`.
 */
export class MemoryBroker {
  readonly faults = new FaultPlan();
  private readonly queues = new Map<string, MemoryQueuedMessage[]>();
  private readonly subscriptions = new Set<Subscription>();
  /** Bumped by simulateConnectionLoss(); deliveries of an older epoch are dead. */
  private epoch = 0;
  private nextDeliveryTag = 1;

  /** The consumer of, and client for, one queue. */
  workQueue(queue: string, options: MemoryWorkQueueOptions = {}): MemoryWorkQueue {
    return new MemoryWorkQueue(this, { ...options, queue });
  }

  /** Publishes a raw message, as another party (bespin-api, an operator) would. */
  publish(queue: string, body: Buffer, properties: MessageProperties = {}): void {
    this.readyMessages(queue).push({ body, properties, redelivered: false });
    this.dispatch(queue);
  }

  /** The messages waiting in the queue, oldest first (not those being handled). */
  messages(queue: string): readonly MemoryQueuedMessage[] {
    return [...(this.queues.get(queue) ?? [])];
  }

  depth(queue: string): number {
    return this.queues.get(queue)?.length ?? 0;
  }

  /** Removes and returns the oldest waiting message. */
  take(queue: string): MemoryQueuedMessage | undefined {
    return this.queues.get(queue)?.shift();
  }

  /**
   * As if every connection dropped and came back: unacknowledged messages return to the head
   * of their queues flagged redelivered, and the deliveries in flight can no longer be settled.
   */
  simulateConnectionLoss(): void {
    this.epoch += 1;
    for (const subscription of this.subscriptions) {
      const returned = [...subscription.unacked.entries()].sort(([a], [b]) => a - b).map(([, message]) => ({ ...message, redelivered: true }));
      subscription.unacked.clear();
      this.readyMessages(subscription.queue).unshift(...returned);
      if (!subscription.active) this.subscriptions.delete(subscription);
    }
    for (const queue of this.queues.keys()) this.dispatch(queue);
  }

  /** @internal for MemoryWorkQueue: a manual-ack consumer; returns its cancel function. */
  subscribe(queue: string, prefetch: number, deliver: DeliverFunction): () => void {
    const subscription: Subscription = { queue, prefetch, deliver, unacked: new Map(), active: true };
    this.subscriptions.add(subscription);
    this.dispatch(queue);
    return () => {
      subscription.active = false;
      if (subscription.unacked.size === 0) this.subscriptions.delete(subscription);
    };
  }

  private readyMessages(queue: string): MemoryQueuedMessage[] {
    let messages = this.queues.get(queue);
    if (messages === undefined) {
      messages = [];
      this.queues.set(queue, messages);
    }
    return messages;
  }

  private dispatch(queue: string): void {
    const ready = this.readyMessages(queue);
    let delivered = true;
    while (ready.length > 0 && delivered) {
      delivered = false;
      for (const subscription of this.subscriptions) {
        const hasRoom = subscription.active && subscription.queue === queue && subscription.unacked.size < subscription.prefetch;
        const message = hasRoom ? ready.shift() : undefined;
        if (message === undefined) continue;
        this.deliver(subscription, message);
        delivered = true;
      }
    }
  }

  private deliver(subscription: Subscription, message: MemoryQueuedMessage): void {
    const tag = this.nextDeliveryTag++;
    const epoch = this.epoch;
    subscription.unacked.set(tag, message);
    const isLive = (): boolean => this.epoch === epoch && subscription.unacked.has(tag);
    const channel: SettlementChannel = {
      get live() {
        return isLive();
      },
      publish: async (queue, body, properties) => {
        if (this.epoch !== epoch) throw new TransientError('the memory broker connection was lost');
        this.publish(queue, body, properties);
      },
      ack: () => {
        if (!isLive()) throw new TransientError(`delivery ${tag} can no longer be acknowledged: its connection was lost`);
        subscription.unacked.delete(tag);
        if (!subscription.active && subscription.unacked.size === 0) this.subscriptions.delete(subscription);
        this.dispatch(subscription.queue);
      },
    };
    subscription.deliver({ body: message.body, properties: message.properties, redelivered: message.redelivered }, channel);
  }
}

export interface MemoryWorkQueueOptions extends Omit<WorkQueueConsumerOptions, 'queue'> {
  /** The format `send` writes; default `pickle`. */
  readonly format?: MessageFormat;
}

/** The in-memory WorkQueueConsumer and LandoClient of one queue. */
export class MemoryWorkQueue implements WorkQueueConsumer, LandoClient {
  private readonly policy: ConsumerPolicy;
  private readonly processor: DeliveryProcessor;
  private readonly inFlight = new InFlightDeliveries();
  private readonly format: MessageFormat;
  private cancel: (() => void) | undefined;

  constructor(
    private readonly broker: MemoryBroker,
    options: MemoryWorkQueueOptions & { readonly queue: string },
  ) {
    this.policy = consumerPolicy(options);
    this.processor = new DeliveryProcessor(this.policy, options);
    this.format = options.format ?? 'pickle';
  }

  get queue(): string {
    return this.policy.queue;
  }

  get deadLetterQueue(): string {
    return this.policy.deadLetterQueue;
  }

  async send(message: Omit<LandoMessage, 'version'>): Promise<void> {
    await this.broker.faults.before('send');
    const { body, properties } = encodeCommand(message, this.format);
    this.broker.publish(this.policy.queue, body, properties);
  }

  async start(handler: DeliveryHandler): Promise<void> {
    if (this.cancel) throw new Error(`the consumer of queue '${this.policy.queue}' is already started`);
    await this.broker.faults.before('start');
    this.processor.pauseRetries();
    this.cancel = this.broker.subscribe(this.policy.queue, this.policy.prefetch, (message, channel) =>
      // Tracked at once so stop() waits for it; handled on a later turn, as a network delivery would be.
      this.inFlight.track(nextTurn().then(() => this.processor.process(message, channel, handler))),
    );
  }

  async stop(): Promise<void> {
    this.cancel?.();
    this.cancel = undefined;
    this.processor.hurry();
    await this.inFlight.settled();
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Records progress notifications as the bytes a `job_status` subscriber would receive.
 * Faults: `faults` is consulted with the operation `publish`.
 */
export class MemoryProgressPublisher implements ProgressPublisher {
  readonly faults = new FaultPlan();
  private readonly bodies: Buffer[] = [];

  async publish(progress: JobProgress): Promise<void> {
    await this.faults.before('publish');
    this.bodies.push(encodeJobProgress(progress));
  }

  /** The published bodies, oldest first. */
  get published(): readonly Buffer[] {
    return [...this.bodies];
  }

  /** The published notifications, decoded. */
  get notifications(): readonly JobProgress[] {
    return this.bodies.map((body) => JSON.parse(body.toString('utf8')) as JobProgress);
  }
}
