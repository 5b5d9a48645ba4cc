import type { Delivery, LandoMessage } from '../../domain/commands.js';
import { describeError } from '../../domain/errors.js';
import type { Clock } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../ports/metrics.js';
import type { DeliveryHandler, Disposition } from '../../ports/work-queue.js';
import { deadLetterProperties, defaultDeadLetterQueue } from './dead-letter-queue.js';
import { decodeMessage, MessageDecodeError } from './message-codec.js';
import { attemptOf, deferralsOf, withRetryCounts, type MessageProperties } from './message-properties.js';
import { checkIntegerOption } from './option-checks.js';
import { NO_OP_LOGGER, NO_OP_METRICS, SYSTEM_CLOCK } from './port-defaults.js';

/*
 * What happens to a delivery between the broker and the handler, shared by the RabbitMQ
 * consumer and its in-memory simulation so both settle messages the same way. It replaces the
 * original's ack-before-processing (W1), crash on undecodable bodies (W3) and crash after a
 * major version mismatch (W5): nothing is acknowledged before it is handled, retried or safely
 * in the dead-letter queue.
 */

export interface WorkQueueConsumerOptions {
  readonly queue: string;
  /** Default `<queue>.dead-letter`. */
  readonly deadLetterQueue?: string;
  /** Deliveries handled at once (the domain serializes per job). Default 4. */
  readonly prefetch?: number;
  /** Handler runs per message; after the last, a retryable failure is dead-lettered. Default 8. */
  readonly maxAttempts?: number;
  /** Pause before a message is put back on the queue after its first failure; doubles per failure. Default 1000 ms. */
  readonly retryDelayMs?: number;
  /** The longest pause between two attempts. Default 60 s. */
  readonly maxRetryDelayMs?: number;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly clock?: Clock;
}

export interface ConsumerPolicy {
  readonly queue: string;
  readonly deadLetterQueue: string;
  readonly prefetch: number;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
}

export const DEFAULT_PREFETCH = 4;
export const DEFAULT_MAX_ATTEMPTS = 8;
export const DEFAULT_RETRY_DELAY_MS = 1000;
export const DEFAULT_MAX_RETRY_DELAY_MS = 60_000;
export const DEAD_LETTERED_METRIC = 'lando_dead_lettered_total';
export const RETRIES_METRIC = 'lando_retries_total';

export type DeadLetterKind = 'undecodable' | 'rejected' | 'max_attempts';

export function consumerPolicy(options: WorkQueueConsumerOptions): ConsumerPolicy {
  if (typeof options.queue !== 'string' || options.queue.trim() === '') {
    throw new RangeError(`the work queue name must be a non-empty string, got ${JSON.stringify(options.queue)}`);
  }
  const policy: ConsumerPolicy = {
    queue: options.queue,
    deadLetterQueue: options.deadLetterQueue ?? defaultDeadLetterQueue(options.queue),
    prefetch: options.prefetch ?? DEFAULT_PREFETCH,
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    maxRetryDelayMs: options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS,
  };
  if (policy.deadLetterQueue.trim() === '' || policy.deadLetterQueue === policy.queue) {
    throw new RangeError(`the dead-letter queue must be named and differ from the work queue, got ${JSON.stringify(policy.deadLetterQueue)}`);
  }
  checkIntegerOption('work queue', 'prefetch', policy.prefetch, 1, 65_535);
  checkIntegerOption('work queue', 'maxAttempts', policy.maxAttempts, 1, Number.MAX_SAFE_INTEGER);
  checkIntegerOption('work queue', 'retryDelayMs', policy.retryDelayMs, 0, Number.MAX_SAFE_INTEGER);
  checkIntegerOption('work queue', 'maxRetryDelayMs', policy.maxRetryDelayMs, policy.retryDelayMs, Number.MAX_SAFE_INTEGER);
  return policy;
}

/** A message as the queue delivered it. */
export interface InboundMessage {
  readonly body: Buffer;
  readonly properties: MessageProperties;
  readonly redelivered: boolean;
}

/** The broker operations a delivery is settled with, bound to the channel it arrived on. */
export interface SettlementChannel {
  /** False once that channel is gone: the delivery can no longer be settled, the broker redelivers it. */
  readonly live: boolean;
  /** Publishes to a queue through the default exchange; resolves once the broker confirmed. */
  publish(queue: string, body: Buffer, properties: MessageProperties): Promise<void>;
  ack(): void;
}

type Settlement =
  | { readonly action: 'ack' }
  | { readonly action: 'retry'; readonly attempt: number; readonly deferrals: number; readonly delayMs: number }
  | { readonly action: 'dead-letter'; readonly kind: DeadLetterKind; readonly reason: string };

export class DeliveryProcessor {
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly clock: Clock;
  /** Aborted by hurry(): the pauses before retries end at once. */
  private pauses = new AbortController();

  constructor(
    private readonly policy: ConsumerPolicy,
    options: Pick<WorkQueueConsumerOptions, 'logger' | 'metrics' | 'clock'>,
  ) {
    this.logger = (options.logger ?? NO_OP_LOGGER).child({ queue: policy.queue });
    this.metrics = options.metrics ?? NO_OP_METRICS;
    this.clock = options.clock ?? SYSTEM_CLOCK;
  }

  /**
   * The consumer is stopping: retries waiting out their pause, and those decided until the
   * consumer starts again, are put back on the queue at once, so a back-off of up to a minute
   * never holds up a shutdown.
   */
  hurry(): void {
    this.pauses.abort();
  }

  /** The consumer (re)starts: retries pause again. */
  pauseRetries(): void {
    if (this.pauses.signal.aborted) this.pauses = new AbortController();
  }

  /** Decodes, runs the handler, then settles; never throws (an unsettled delivery comes back). */
  async process(inbound: InboundMessage, channel: SettlementChannel, handler: DeliveryHandler): Promise<void> {
    let message: LandoMessage;
    try {
      message = decodeMessage(inbound.body, inbound.properties.contentType);
    } catch (error) {
      const reason = error instanceof MessageDecodeError ? error.reason : describeError(error);
      const log = this.logger.child({ redelivered: inbound.redelivered });
      log.error({ reason, bytes: inbound.body.length, contentType: inbound.properties.contentType }, 'cannot decode a message; dead-lettering it');
      await this.settle(inbound, channel, { action: 'dead-letter', kind: 'undecodable', reason }, log);
      return;
    }

    const attempt = attemptOf(inbound.properties);
    const delivery: Delivery = { message, attempt, redelivered: inbound.redelivered, lastAttempt: this.isLastAttempt(attempt) };
    const log = this.logger.child({
      command: message.command,
      jobId: message.jobId,
      attempt: delivery.attempt,
      redelivered: delivery.redelivered,
    });
    const disposition = await this.runHandler(handler, delivery, log);
    await this.settle(inbound, channel, this.settlementFor(disposition, delivery.attempt, deferralsOf(inbound.properties), log), log);
  }

  /** Attempts count from 0: the one numbered maxAttempts - 1 is the last. */
  private isLastAttempt(attempt: number): boolean {
    return attempt + 1 >= this.policy.maxAttempts;
  }

  private async runHandler(handler: DeliveryHandler, delivery: Delivery, log: Logger): Promise<Disposition> {
    try {
      return await handler(delivery);
    } catch (error) {
      log.warn({ error: describeError(error) }, 'the handler failed; the message will be retried');
      return { outcome: 'retry', reason: describeError(error) };
    }
  }

  private settlementFor(disposition: Disposition, attempt: number, deferrals: number, log: Logger): Settlement {
    switch (disposition.outcome) {
      case 'ack':
        return { action: 'ack' };
      case 'reject':
        log.error({ reason: disposition.reason }, 'the handler rejected the message; dead-lettering it');
        return { action: 'dead-letter', kind: 'rejected', reason: disposition.reason };
      case 'defer':
        log.info({ reason: disposition.reason }, 'putting the message back, unhandled, for later');
        this.metrics.increment(RETRIES_METRIC, { reason_kind: 'deferred' });
        return { action: 'retry', attempt, deferrals: deferrals + 1, delayMs: deferralDelay(this.policy, deferrals + 1) };
      case 'retry': {
        const tries = attempt + 1;
        if (this.isLastAttempt(attempt)) {
          log.error({ reason: disposition.reason, tries }, 'the message failed its last attempt; dead-lettering it');
          return { action: 'dead-letter', kind: 'max_attempts', reason: `${disposition.reason} (gave up after ${tries} attempts)` };
        }
        log.info({ reason: disposition.reason }, 'putting the message back for a retry');
        this.metrics.increment(RETRIES_METRIC, { reason_kind: 'failed_attempt' });
        return { action: 'retry', attempt: tries, deferrals: 0, delayMs: retryDelay(this.policy, tries) };
      }
    }
  }

  private async settle(inbound: InboundMessage, channel: SettlementChannel, settlement: Settlement, log: Logger): Promise<void> {
    if (settlement.action === 'retry' && settlement.delayMs > 0) await this.clock.sleep(settlement.delayMs, this.pauses.signal);
    // A copy published after the connection dropped would duplicate the broker's own redelivery.
    if (!channel.live) {
      log.warn({}, 'the connection was lost before the message was settled; the broker will redeliver it');
      return;
    }
    try {
      if (settlement.action === 'retry') {
        await channel.publish(this.policy.queue, inbound.body, withRetryCounts(inbound.properties, settlement.attempt, settlement.deferrals));
      } else if (settlement.action === 'dead-letter') {
        const properties = deadLetterProperties(inbound.properties, settlement.reason, this.policy.queue, new Date(this.clock.now()));
        await channel.publish(this.policy.deadLetterQueue, inbound.body, properties);
        this.metrics.increment(DEAD_LETTERED_METRIC, { reason_kind: settlement.kind });
      }
      channel.ack();
    } catch (error) {
      log.warn({ error: describeError(error), action: settlement.action }, 'could not settle the message; the broker will redeliver it');
    }
  }
}

/** The deliveries still being handled, so stop() can wait for them. */
export class InFlightDeliveries {
  private readonly pending = new Set<Promise<void>>();

  track(work: Promise<void>): void {
    this.pending.add(work);
    const forget = (): void => {
      this.pending.delete(work);
    };
    work.then(forget, forget);
  }

  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/**
 * Exponential back-off with equal jitter: the pause after the n-th failure is half of
 * min(max, base * 2^(n-1)) plus a random part up to the other half, so the retries of many
 * jobs that failed together (an API server restart) do not come back in step.
 */
export function retryDelay(policy: Pick<ConsumerPolicy, 'retryDelayMs' | 'maxRetryDelayMs'>, failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxRetryDelayMs, policy.retryDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The first pause after a deferral, unless retry_delay_ms is shorter. */
export const FIRST_DEFERRAL_DELAY_MS = 100;

/**
 * The pause before a deferred message (its job held by another replica) goes back. The holder
 * usually finishes within milliseconds, and the copy may well reach it next, so the first pause
 * is short; one that keeps finding the job held (a long handler) backs off to retry_delay_ms,
 * never longer, as a deferral is no failure.
 */
export function deferralDelay(policy: Pick<ConsumerPolicy, 'retryDelayMs'>, deferrals: number, random: () => number = Math.random): number {
  return retryDelay({ retryDelayMs: Math.min(FIRST_DEFERRAL_DELAY_MS, policy.retryDelayMs), maxRetryDelayMs: policy.retryDelayMs }, deferrals, random);
}
