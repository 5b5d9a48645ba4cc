/**
 * The services' logger: bunyan JSON lines, with every configured secret replaced by
 * `[REDACTED]`. Redaction works on the finished line bunyan hands its stream, so messages,
 * fields at any depth, serialized errors and child loggers' lines all pass through it.
 */
import { EOL } from 'node:os';
import Bunyan from 'bunyan';
import type { Logger } from '../ports/logger.js';
import type { AppConfig } from './config.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export const REDACTED = '[REDACTED]';

export interface LoggerOptions {
  readonly name: string;
  readonly level: LogLevel;
  /** Texts that must never be written; empty ones are ignored. */
  readonly secrets: readonly string[];
  /** Where the lines go; stdout by default. */
  readonly stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Bunyan {
  const redactor = new SecretRedactor(options.secrets);
  const target = options.stream ?? process.stdout;
  const logger = Bunyan.createLogger({
    name: options.name,
    serializers: { err: Bunyan.stdSerializers.err },
    streams: [
      {
        type: 'stream',
        level: options.level,
        // A non-raw bunyan stream receives the finished JSON line.
        stream: { write: (line: unknown) => target.write(redactor.redactLine(String(line))) },
      },
    ],
  });
  return logger satisfies Logger;
}

/** The secrets in a configuration: passwords and tokens that are set. */
export function secretsOf(config: AppConfig): string[] {
  return [
    config.workQueue.password,
    config.workQueue.workerPassword,
    config.clusterApiSettings.token,
    config.bespinApi.token,
  ].filter((secret): secret is string => secret !== undefined && secret !== '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

class SecretRedactor {
  /** Matches any secret, longest first so a secret containing another is replaced whole. */
  private readonly pattern: RegExp | undefined;
  /** The secrets as they appear inside a JSON string, for the cheap "anything to do?" test. */
  private readonly inJson: readonly string[];

  constructor(secrets: readonly string[]) {
    // The URL-encoded form too: a password may be written inside an amqp:// or https:// URL.
    const forms = new Set(
      secrets.filter((secret) => secret !== '').flatMap((secret) => [secret, encodeURIComponent(secret)]),
    );
    const longestFirst = [...forms].sort((a, b) => b.length - a.length);
    this.pattern =
      longestFirst.length === 0 ? undefined : new RegExp(longestFirst.map(escapeRegExp).join('|'), 'g');
    this.inJson = longestFirst.map((form) => JSON.stringify(form).slice(1, -1));
  }

  redactLine(line: string): string {
    if (!this.inJson.some((form) => line.includes(form))) return line;
    // Redacting the parsed record rather than the text keeps the line valid JSON whatever the
    // secret looks like (a number, a quote, a key name).
    return JSON.stringify(this.redactValue(JSON.parse(line))) + EOL;
  }

  private redactValue(value: unknown): unknown {
    if (typeof value === 'string') return this.redactText(value);
    if (typeof value === 'number' || typeof value === 'boolean') {
      return this.redactText(String(value)) === String(value) ? value : REDACTED;
    }
    if (Array.isArray(value)) return value.map((item) => this.redactValue(item));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [this.redactText(key), this.redactValue(item)]),
      );
    }
    return value;
  }

  private redactText(text: string): string {
    return this.pattern === undefined ? text : text.replace(this.pattern, REDACTED);
  }
}
