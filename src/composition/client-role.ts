import { AmqpConnection } from '../adapters/amqp/amqp-connection.js';
import { AmqpLandoClient, encodeCommand } from '../adapters/amqp/amqp-lando-client.js';
import { AmqpDeadLetterQueue, type DeadLetter } from '../adapters/amqp/dead-letter-queue.js';
import { decodeMessage, MessageDecodeError, type MessageFormat } from '../adapters/amqp/message-codec.js';
import type { Logger } from '../ports/logger.js';
import type { AppConfig } from './config.js';

/** A command line the client role cannot act on. */
export class ClientUsageError extends Error {}

const SENDABLE = ['start_job', 'restart_job', 'cancel_job'] as const;
type Sendable = (typeof SENDABLE)[number];

export const CLIENT_USAGE = `client commands (npm start -- --role=client --config FILE ...):
  start_job|restart_job|cancel_job JOB_ID [--format pickle|json]   send a command as bespin-api does
  dead-letters list [--limit N]                                     show dead letters, decoded, with their reasons
  dead-letters requeue [--limit N]                                  put dead letters back on the work queue
  dead-letters discard [--limit N]                                  delete dead letters`;

export interface ClientOptions {
  readonly format?: MessageFormat;
  readonly limit?: number;
}

/**
 * The operator's client: sends lando a command exactly as bespin-api would (a string job id,
 * the configured wire format, persistent, confirmed by the broker), and looks after the
 * dead-letter queue. It prints what it did.
 */
export async function runClient(config: AppConfig, words: readonly string[], options: ClientOptions, logger: Logger, out: NodeJS.WritableStream): Promise<void> {
  const [verb, ...rest] = words;
  if (verb === undefined) throw new ClientUsageError('the client needs a command');
  const connection = new AmqpConnection({
    host: config.workQueue.host,
    port: config.workQueue.port,
    vhost: config.workQueue.vhost,
    username: config.workQueue.username,
    password: config.workQueue.password,
    ...(config.workQueue.tls ? { tls: config.workQueue.tlsCaCert === undefined ? {} : { caFile: config.workQueue.tlsCaCert } } : {}),
    connectionName: 'lando-k8s client',
    reconnectDelay: { initialMs: 100, maxMs: 1000 },
    waitTimeoutMs: 15_000,
    logger,
  });
  try {
    if ((SENDABLE as readonly string[]).includes(verb)) {
      await sendCommand(connection, config, verb as Sendable, rest, options.format ?? config.workQueue.messageFormat, out);
    } else if (verb === 'dead-letters') {
      await deadLetters(connection, config, rest, options.limit, out);
    } else {
      throw new ClientUsageError(`unknown client command ${JSON.stringify(verb)}`);
    }
  } finally {
    await connection.close();
  }
}

async function sendCommand(connection: AmqpConnection, config: AppConfig, command: Sendable, rest: readonly string[], format: MessageFormat, out: NodeJS.WritableStream): Promise<void> {
  const [jobId, ...extra] = rest;
  if (jobId === undefined || !/^\d+$/.test(jobId) || extra.length > 0) throw new ClientUsageError(`${command} takes exactly one job id (digits), got ${JSON.stringify(rest.join(' '))}`);
  const message = { command, jobId };
  await new AmqpLandoClient(connection, { queue: config.workQueue.listenQueue, format }).send(message);
  const { body } = encodeCommand(message, format);
  out.write(`sent ${command} for job ${jobId} to queue ${config.workQueue.listenQueue} as ${format} (${body.length} bytes)\n`);
  out.write(`${format === 'json' ? body.toString('utf8') : body.toString('hex')}\n`);
}

async function deadLetters(connection: AmqpConnection, config: AppConfig, rest: readonly string[], limit: number | undefined, out: NodeJS.WritableStream): Promise<void> {
  const queue = new AmqpDeadLetterQueue(connection, { queue: config.workQueue.listenQueue, deadLetterQueue: config.workQueue.deadLetterQueue });
  const [action, ...extra] = rest;
  if (extra.length > 0) throw new ClientUsageError(`dead-letters ${action ?? ''} takes no further words, got ${JSON.stringify(extra.join(' '))}`);
  switch (action) {
    case 'list': {
      const letters = await queue.list(limit ?? 100);
      out.write(`${await queue.count()} dead letter(s) in ${config.workQueue.deadLetterQueue}\n`);
      letters.forEach((letter, index) => out.write(describeDeadLetter(index + 1, letter)));
      return;
    }
    case 'requeue':
      out.write(`requeued ${await queue.requeue(limit)} dead letter(s) to ${config.workQueue.listenQueue}\n`);
      return;
    case 'discard':
      out.write(`discarded ${await queue.discard(limit)} dead letter(s)\n`);
      return;
    default:
      throw new ClientUsageError(`dead-letters needs list, requeue or discard, got ${JSON.stringify(action ?? '')}`);
  }
}

function describeDeadLetter(position: number, letter: DeadLetter): string {
  let content: string;
  try {
    const message = decodeMessage(letter.body, letter.originalProperties.contentType);
    content = `${message.command} job ${message.jobId} (version ${message.version})`;
  } catch (error) {
    content = error instanceof MessageDecodeError ? `undecodable: ${letter.body.length} bytes, starting ${letter.body.subarray(0, 32).toString('hex')}` : String(error);
  }
  return `#${position} ${letter.deadLetteredAt ?? 'unknown time'} from ${letter.sourceQueue ?? 'unknown queue'}: ${content}\n    reason: ${letter.reason}\n`;
}
