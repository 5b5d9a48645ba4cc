import { DomainError, PermanentError, TransientError } from '../../domain/errors.js';

/**
 * AMQP reply codes that mean "this request can never work as made": a declaration that
 * disagrees with the existing queue or exchange, missing permissions, a missing entity, a
 * message over the size limit. Every other failure (refused or reset sockets, a broker
 * shutting down, a channel closed under us) may work on the next connection.
 */
const PERMANENT_REPLY_CODES: ReadonlyMap<number, string> = new Map([
  [311, 'CONTENT_TOO_LARGE'],
  [403, 'ACCESS_REFUSED'],
  [404, 'NOT_FOUND'],
  [405, 'RESOURCE_LOCKED'],
  [406, 'PRECONDITION_FAILED'],
  [530, 'NOT_ALLOWED'],
  [540, 'NOT_IMPLEMENTED'],
]);

/** amqplib reports a refused login only in the text: "Handshake terminated by server: 403 (ACCESS-REFUSED) ...". */
const HANDSHAKE_REFUSAL = /^Handshake terminated by server: (\d{3}) /;

/** The AMQP reply code of an error caused by a channel or connection close, or by a refused handshake. */
export function replyCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  if ('code' in error && typeof error.code === 'number') return error.code;
  const handshake = error instanceof Error ? HANDSHAKE_REFUSAL.exec(error.message) : null;
  return handshake?.[1] === undefined ? undefined : Number(handshake[1]);
}

export function isPermanentAmqpError(error: unknown): boolean {
  const code = replyCodeOf(error);
  return code !== undefined && PERMANENT_REPLY_CODES.has(code);
}

/**
 * Maps an amqplib (or socket) error onto the domain errors. `action` says what was being done
 * ("declaring queue 'lando'"), so the message names the queue or exchange; the broker's own
 * text, which names the mismatching argument, follows it.
 */
export function toDomainError(error: unknown, action: string): DomainError {
  if (error instanceof DomainError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const code = replyCodeOf(error);
  const codeName = code === undefined ? undefined : PERMANENT_REPLY_CODES.get(code);
  if (codeName !== undefined) return new PermanentError(`${action}: RabbitMQ refused it (${code} ${codeName}): ${detail}`);
  return new TransientError(`${action}: ${detail}`);
}
