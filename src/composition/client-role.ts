import { AmqpConnection } from '../adapters/amqp/amqp-connection.js';
import { AmqpLandoClient, encodeCommand } from '../adapters/amqp/amqp-lando-client.js';
import { AmqpDeadLetterQueue, type DeadLetter } from '../adapters/amqp/dead-letter-queue.js';
import { decodeMessage, MessageDecodeError, type MessageFormat } from '../adapters/amqp/message-codec.js';
import type { Logger } from '../ports/logger.js';
import { ClientUsageError } from './client-errors.js';
import type { AppConfig } from './config.js';
import { checkCommand } from './check-command.js';
import { renderCommand, type RenderFiles } from './render-command.js';
import { statusCommand } from './status-command.js';

export { ClientInputError, ClientUsageError } from './client-errors.js';

const SENDABLE = ['start_job', 'restart_job', 'cancel_job'] as const;
type Sendable = (typeof SENDABLE)[number];

export const CLIENT_USAGE = `client commands (npm start -- --role=client --config FILE ...):
  start_job|restart_job|cancel_job JOB_ID [--format pickle|json]   send a command as bespin-api does
  dead-letters list [--limit N]                                     show dead letters, decoded, with their reasons
  dead-letters requeue [--limit N]                                  put dead letters back on the work queue
  dead-letters discard [--limit N]                                  delete dead letters
  render --job FILE [--stage-group FILE] [--share-group FILE] [--methods FILE]
                                                                    print as YAML every Kubernetes object lando would create for the job
  check [--for lando|watcher]                                       test the connections, tokens and permissions of the configuration
  status JOB_ID                                                     show a job's bespin state and step beside its objects in the cluster`;

export interface ClientOptions {
  readonly format?: MessageFormat;
  readonly limit?: number;
  /** The bespin-api JSON files `render` reads. */
  readonly files?: RenderFiles;
  /** Whose permissions `check` reviews (`lando` or `watcher`); both when absent. */
  readonly checkFor?: string;
}

/**
 * The operator's client: sends lando a command exactly as bespin-api would (a string job id,
 * the configured wire format, persistent, confirmed by the broker), and looks after the
 * dead-letter queue. It prints what it did. The operator commands (render, check, status) show
 * what lando would do and what it finds. Resolves to the exit status.
 */
export async function runClient(config: AppConfig, words: readonly string[], options: ClientOptions, logger: Logger, out: NodeJS.WritableStream): Promise<number> {
  const [verb, ...rest] = words;
  if (verb === undefined) throw new ClientUsageError('the client needs a command');
  if (verb === 'render') {
    out.write(renderCommand(config, rest, options.files ?? {}));
    return 0;
  }
  if (verb === 'status') return statusCommand(config, rest, logger, out);
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
    } else if (verb === 'check') {
      return await checkCommand(config, rest, options.checkFor, connection, logger, out);
    } else {
      throw new ClientUsageError(`unknown client command ${JSON.stringify(verb)}`);
    }
    return 0;
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
