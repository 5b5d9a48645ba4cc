import { readFileSync } from 'node:fs';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, Message, MessageProperties as AmqplibProperties, Options, SocketOptions } from 'amqplib';
import { describeError, PermanentError, TransientError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../ports/metrics.js';
import { isPermanentAmqpError, toDomainError } from './amqp-errors.js';
import type { MessageProperties } from './message-properties.js';
import { checkIntegerOption } from './option-checks.js';
import { NO_OP_LOGGER, NO_OP_METRICS } from './port-defaults.js';

export interface AmqpConnectionOptions {
  readonly host: string;
  readonly port?: number;
  readonly vhost?: string;
  readonly username: string;
  readonly password: string;
  /** Connect with TLS (amqps), trusting the CA in `caFile` in addition to the system ones. */
  readonly tls?: { readonly caFile?: string };
  /** Undefined accepts the broker's proposal, as lando-messaging does. */
  readonly heartbeatSeconds?: number;
  /** Shown in the broker's management UI. */
  readonly connectionName?: string;
  /**
   * How long a caller waits for a (re)connection, and a publish for its confirm, before it
   * fails with a TransientError.
   */
  readonly waitTimeoutMs?: number;
  /** Reconnection backoff: doubles from `initialMs` up to `maxMs`, each delay jittered. */
  readonly reconnectDelay?: { readonly initialMs?: number; readonly maxMs?: number };
  readonly logger?: Logger;
  /** Receives `lando_amqp_connected` (1 or 0) and `lando_amqp_connection_attempts_total{outcome}`. */
  readonly metrics?: Metrics;
}

/** A message taken from a queue, free of amqplib's types; it is settled on the channel it came from. */
export interface ReceivedMessage {
  readonly body: Buffer;
  readonly properties: MessageProperties;
  readonly redelivered: boolean;
  ack(): void;
  /** Hands it back to the queue, in its place. */
  release(): void;
}

export type PeekedMessage = Pick<ReceivedMessage, 'body' | 'properties' | 'redelivered'>;

export type SessionListener = (session: AmqpSession) => Promise<void>;

const DEFAULT_PORT = 5672;
const DEFAULT_WAIT_TIMEOUT_MS = 30_000;
const DEFAULT_RECONNECT_INITIAL_MS = 100;
const DEFAULT_RECONNECT_MAX_MS = 10_000;
/** A TCP connect or AMQP handshake that hangs longer than this counts as a failed attempt. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

interface Waiter {
  resolve(session: AmqpSession): void;
  reject(error: Error): void;
}

/**
 * One long-lived RabbitMQ connection with one confirm channel, shared by everything a process
 * sends and consumes (the original opened a connection per publish, W7). When the connection
 * or the channel is lost it reconnects with capped, jittered exponential backoff, forever, and
 * before handing out the new session runs the registered listeners (which re-declare and
 * re-consume). Callers that need the broker meanwhile wait, bounded by `waitTimeoutMs`.
 */
export class AmqpConnection {
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly endpoint: { readonly host: string; readonly port: number; readonly vhost: string };
  private readonly connectOptions: Options.Connect;
  private readonly socketOptions: SocketOptions;
  private readonly waitTimeoutMs: number;
  private readonly reconnectInitialMs: number;
  private readonly reconnectMaxMs: number;
  private readonly listeners = new Set<SessionListener>();
  private readonly waiters = new Set<Waiter>();
  private current: AmqpSession | undefined;
  private connecting: Promise<void> | undefined;
  private cancelBackoff: (() => void) | undefined;
  private closed = false;
  private opened = 0;
  private generation = 0;

  constructor(options: AmqpConnectionOptions) {
    this.logger = (options.logger ?? NO_OP_LOGGER).child({ component: 'amqp-connection' });
    this.metrics = options.metrics ?? NO_OP_METRICS;
    const port = options.port ?? DEFAULT_PORT;
    const vhost = options.vhost ?? '/';
    checkHost(options.host);
    checkIntegerOption('RabbitMQ', 'port', port, 1, 65_535);
    if (options.heartbeatSeconds !== undefined) checkIntegerOption('RabbitMQ', 'heartbeatSeconds', options.heartbeatSeconds, 0, 65_535);
    this.waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    checkIntegerOption('RabbitMQ', 'waitTimeoutMs', this.waitTimeoutMs, 1, Number.MAX_SAFE_INTEGER);
    this.reconnectInitialMs = options.reconnectDelay?.initialMs ?? DEFAULT_RECONNECT_INITIAL_MS;
    this.reconnectMaxMs = options.reconnectDelay?.maxMs ?? DEFAULT_RECONNECT_MAX_MS;
    checkIntegerOption('RabbitMQ', 'reconnectDelay.initialMs', this.reconnectInitialMs, 1, Number.MAX_SAFE_INTEGER);
    checkIntegerOption('RabbitMQ', 'reconnectDelay.maxMs', this.reconnectMaxMs, this.reconnectInitialMs, Number.MAX_SAFE_INTEGER);

    this.endpoint = { host: options.host, port, vhost };
    // The object form keeps the password out of any URL string; amqplib unescapes the vhost.
    this.connectOptions = {
      protocol: options.tls ? 'amqps' : 'amqp',
      hostname: options.host,
      port,
      vhost: encodeURIComponent(vhost),
      ...(options.heartbeatSeconds === undefined ? {} : { heartbeat: options.heartbeatSeconds }),
    };
    this.socketOptions = {
      credentials: amqp.credentials.plain(options.username, options.password),
      clientProperties: { connection_name: options.connectionName ?? 'lando-k8s' },
      timeout: HANDSHAKE_TIMEOUT_MS,
      // amqplib leaves Nagle's algorithm on: a publish or ack written while an earlier segment
      // awaits the broker's delayed ACK then waits up to 40 ms. Every message here is small and urgent.
      noDelay: true,
      ...(options.tls?.caFile === undefined ? {} : { ca: [readCaFile(options.tls.caFile)] }),
    };
  }

  /** How many connections this object has opened so far (1 unless it had to reconnect). */
  /** Whether a live session is open right now (readiness). */
  get connected(): boolean {
    return this.current?.live === true;
  }

  get connectionsOpened(): number {
    return this.opened;
  }

  /** The live session, connecting first if needed; fails with TransientError after `timeoutMs`. */
  session(timeoutMs = this.waitTimeoutMs): Promise<AmqpSession> {
    if (this.closed) return Promise.reject(new PermanentError(`the RabbitMQ connection to ${this.describeEndpoint()} was closed`));
    if (this.current?.live) return Promise.resolve(this.current);
    this.ensureConnecting();
    return new Promise<AmqpSession>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new TransientError(`no connection to RabbitMQ at ${this.describeEndpoint()} within ${this.waitTimeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        resolve: (session) => {
          clearTimeout(timer);
          resolve(session);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * Runs `operation` on the live session; any failure comes out as a domain error about
   * `action`. If the connection dies under it, it runs again on the next session while
   * `waitTimeoutMs` lasts, so a publish may reach the broker twice (delivery is at least once).
   */
  async run<T>(action: string, operation: (session: AmqpSession) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.waitTimeoutMs;
    for (;;) {
      let session: AmqpSession | undefined;
      try {
        session = await this.session(Math.max(1, deadline - Date.now()));
        return await operation(session);
      } catch (error) {
        const failure = toDomainError(error, action);
        const connectionLost = session !== undefined && !session.live && !this.closed;
        if (!connectionLost || !failure.retryable || Date.now() >= deadline) throw failure;
        this.logger.info({ action, error: failure.message }, 'the RabbitMQ connection was lost during an operation; trying again on the next one');
      }
    }
  }

  /**
   * `listener` runs on every session opened from now on, before the session is handed out; a
   * failure fails that connection attempt (it is retried). Returns the unsubscribe function.
   */
  onSession(listener: SessionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelBackoff?.();
    this.rejectWaiters(new PermanentError(`the RabbitMQ connection to ${this.describeEndpoint()} was closed`));
    const session = this.current;
    this.current = undefined;
    await this.connecting;
    await session?.close();
    this.metrics.set('lando_amqp_connected', 0);
    this.logger.info({ ...this.endpoint }, 'closed the RabbitMQ connection');
  }

  private ensureConnecting(): void {
    if (this.closed || this.connecting) return;
    this.connecting = this.connectUntilEstablished().finally(() => {
      this.connecting = undefined;
    });
  }

  private async connectUntilEstablished(): Promise<void> {
    for (let attempt = 1; !this.closed; attempt += 1) {
      try {
        const session = await this.openSession(attempt);
        if (this.closed) {
          await session.close();
          return;
        }
        this.current = session;
        this.metrics.increment('lando_amqp_connection_attempts_total', { outcome: 'connected' });
        this.metrics.set('lando_amqp_connected', 1);
        this.logger.info({ ...this.endpoint, attempt, generation: session.generation }, 'connected to RabbitMQ');
        for (const waiter of this.waiters) waiter.resolve(session);
        this.waiters.clear();
        return;
      } catch (error) {
        if (this.closed) return;
        this.metrics.increment('lando_amqp_connection_attempts_total', { outcome: 'failed' });
        const delayMs = this.backoffDelay(attempt);
        this.logger.warn({ ...this.endpoint, attempt, delayMs, error: describeError(error) }, 'RabbitMQ connection attempt failed; retrying');
        // Waiting on would only end in a timeout: a refused login or a missing vhost needs an operator.
        if (isPermanentAmqpError(error)) this.rejectWaiters(toDomainError(error, `connecting to RabbitMQ at ${this.describeEndpoint()}`));
        await this.sleepUnlessClosed(delayMs);
      }
    }
  }

  private async openSession(attempt: number): Promise<AmqpSession> {
    this.logger.info({ ...this.endpoint, attempt }, 'connecting to RabbitMQ');
    const model = await amqp.connect(this.connectOptions, this.socketOptions);
    this.opened += 1;
    try {
      const channel = await model.createConfirmChannel();
      this.generation += 1;
      const session = new AmqpSession(model, channel, this.generation, this.waitTimeoutMs, this.logger, (lost, error) =>
        this.handleLoss(lost, error),
      );
      for (const listener of [...this.listeners]) await listener(session);
      if (!session.live) throw new TransientError('the connection was lost while it was being set up');
      return session;
    } catch (error) {
      await model.close().catch(() => undefined);
      throw error;
    }
  }

  private handleLoss(session: AmqpSession, error: Error): void {
    if (this.current !== session) return;
    this.current = undefined;
    this.metrics.set('lando_amqp_connected', 0);
    if (this.closed) return;
    this.logger.warn({ ...this.endpoint, generation: session.generation, error: describeError(error) }, 'lost the RabbitMQ connection; reconnecting');
    this.ensureConnecting();
  }

  private backoffDelay(attempt: number): number {
    const ceiling = Math.min(this.reconnectMaxMs, this.reconnectInitialMs * 2 ** Math.min(attempt - 1, 30));
    // Half fixed, half random: spreads out a fleet of clients reconnecting to a restarted broker.
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private sleepUnlessClosed(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      this.cancelBackoff = done;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.cancelBackoff = undefined;
    });
  }

  private rejectWaiters(error: Error): void {
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }

  private describeEndpoint(): string {
    return `${this.endpoint.host}:${this.endpoint.port} (vhost ${this.endpoint.vhost})`;
  }
}

/**
 * One connection and its confirm channel. Once lost it stays dead (`live` false): deliveries it
 * brought can no longer be acknowledged, and the broker redelivers them on the next session.
 */
export class AmqpSession {
  private alive = true;
  private lastError: Error | undefined;
  private readonly declarations = new Map<string, Promise<void>>();

  constructor(
    private readonly model: ChannelModel,
    private readonly channel: ConfirmChannel,
    readonly generation: number,
    private readonly confirmTimeoutMs: number,
    private readonly logger: Logger,
    private readonly onLost: (session: AmqpSession, error: Error) => void,
  ) {
    // amqplib throws from emit() when an 'error' has no listener; the 'close' that follows does the work.
    model.on('error', (error: Error) => {
      this.lastError = error;
    });
    model.on('close', (error?: Error) => this.lose(error ?? this.lastError ?? new Error('connection closed')));
    model.on('blocked', (reason: string) => logger.warn({ reason }, 'RabbitMQ blocked the connection; publishes wait until it unblocks'));
    model.on('unblocked', () => logger.info({}, 'RabbitMQ unblocked the connection'));
    channel.on('error', (error: Error) => {
      this.lastError = error;
    });
    channel.on('close', () => this.lose(this.lastError ?? new Error('channel closed')));
  }

  get live(): boolean {
    return this.alive;
  }

  /** Declares the queue as every party does (durable, no arguments); once per session. */
  declareQueue(queue: string): Promise<void> {
    return this.declareOnce(`queue ${queue}`, async () => {
      await this.channel.assertQueue(queue, { durable: true });
    });
  }

  declareExchange(exchange: string, type: 'fanout', options: { readonly durable: boolean }): Promise<void> {
    return this.declareOnce(`exchange ${exchange}`, async () => {
      await this.channel.assertExchange(exchange, type, { durable: options.durable });
    });
  }

  /** Publishes and resolves once the broker confirmed the message (rejects on nack, loss or timeout). */
  publish(exchange: string, routingKey: string, body: Buffer, properties: MessageProperties): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TransientError(`RabbitMQ did not confirm the message within ${this.confirmTimeoutMs} ms`)),
        this.confirmTimeoutMs,
      );
      const settle = (error: unknown): void => {
        clearTimeout(timer);
        if (error === null || error === undefined) resolve();
        else reject(error instanceof Error ? error : new Error(String(error)));
      };
      try {
        this.channel.publish(exchange, routingKey, body, { ...properties }, settle);
      } catch (error) {
        settle(error);
      }
    });
  }

  /** Starts a manual-ack consumer with its own prefetch; `onCancel` runs if the broker cancels it. */
  async consume(queue: string, prefetch: number, onMessage: (message: ReceivedMessage) => void, onCancel: () => void): Promise<string> {
    await this.channel.prefetch(prefetch);
    const { consumerTag } = await this.channel.consume(
      queue,
      (message) => {
        if (message === null) onCancel();
        else onMessage(this.received(this.channel, message));
      },
      { noAck: false },
    );
    return consumerTag;
  }

  async cancel(consumerTag: string): Promise<void> {
    await this.channel.cancel(consumerTag);
  }

  /** Takes the next message off the queue, unacknowledged; undefined when it is empty. */
  async get(queue: string): Promise<ReceivedMessage | undefined> {
    const message = await this.channel.get(queue, { noAck: false });
    return message === false ? undefined : this.received(this.channel, message);
  }

  async messageCount(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /**
   * Reads up to `limit` messages without removing them: they are taken on a channel of their
   * own, whose closing hands them back to the queue in their places.
   */
  async peek(queue: string, limit: number): Promise<PeekedMessage[]> {
    const channel: Channel = await this.model.createChannel();
    channel.on('error', () => undefined);
    try {
      const messages: PeekedMessage[] = [];
      while (messages.length < limit) {
        const message = await channel.get(queue, { noAck: false });
        if (message === false) break;
        const { body, properties, redelivered } = this.received(channel, message);
        messages.push({ body, properties, redelivered });
      }
      return messages;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Drops the connection (for instance after the broker cancelled a consumer) so it is rebuilt. */
  abandon(reason: string): void {
    this.logger.warn({ generation: this.generation, reason }, 'abandoning the RabbitMQ connection');
    this.lose(new Error(reason));
  }

  /**
   * Closes the channel before the connection: channel.close is a round trip the broker answers
   * only after the acknowledgements sent before it, which a bare connection close can drop.
   */
  async close(): Promise<void> {
    this.alive = false;
    await this.channel.close().catch(() => undefined);
    await this.model.close().catch(() => undefined);
  }

  private declareOnce(key: string, declare: () => Promise<void>): Promise<void> {
    const existing = this.declarations.get(key);
    if (existing) return existing;
    const declaration = declare();
    this.declarations.set(key, declaration);
    declaration.catch(() => this.declarations.delete(key));
    return declaration;
  }

  private received(channel: Channel, message: Message): ReceivedMessage {
    return {
      body: message.content,
      properties: fromAmqplibProperties(message.properties),
      redelivered: message.fields.redelivered,
      ack: () => channel.ack(message),
      release: () => channel.nack(message, false, true),
    };
  }

  private lose(error: Error): void {
    if (!this.alive) return;
    this.alive = false;
    // A channel-level error leaves the connection open; drop it too so the next session starts clean.
    this.model.close().catch(() => undefined);
    this.onLost(this, error);
  }
}

const STRING_PROPERTIES = [
  'contentType',
  'contentEncoding',
  'correlationId',
  'replyTo',
  'expiration',
  'messageId',
  'type',
  'userId',
  'appId',
] as const;
const NUMBER_PROPERTIES = ['deliveryMode', 'priority', 'timestamp'] as const;

/** amqplib types every property as `any`; keep only values of the type AMQP gives them. */
function fromAmqplibProperties(source: AmqplibProperties): MessageProperties {
  const properties: Record<string, unknown> = {};
  for (const name of STRING_PROPERTIES) {
    const value: unknown = source[name];
    if (typeof value === 'string') properties[name] = value;
  }
  for (const name of NUMBER_PROPERTIES) {
    const value: unknown = source[name];
    if (typeof value === 'number') properties[name] = value;
  }
  if (typeof source.headers === 'object' && source.headers !== null) properties.headers = { ...source.headers };
  return properties as MessageProperties;
}

function checkHost(host: string): void {
  if (typeof host !== 'string' || host.trim() === '' || /[\s/@]/.test(host)) {
    throw new RangeError(`RabbitMQ host must be a bare host name or address, got ${JSON.stringify(host)}`);
  }
}

function readCaFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new PermanentError(`cannot read the RabbitMQ CA file ${path}: ${describeError(error)}`);
  }
}
