/**
 * The broker questions of an operator's `check`: can we log in, and do the queue and exchange
 * declare the way every party declares them. A declaration the broker refuses because the
 * entity exists with other flags (406 PRECONDITION_FAILED) is told apart from one it refuses
 * for missing permissions (403 ACCESS_REFUSED): the fixes differ.
 */
import type { AmqpConnection, AmqpSession } from './amqp-connection.js';
import { replyCodeOf, toDomainError } from './amqp-errors.js';
import { JOB_STATUS_EXCHANGE } from './amqp-progress-publisher.js';

export type DeclarationCheck =
  | { readonly outcome: 'declared' }
  /** It exists with other flags or arguments; `detail` is the broker's text naming them. */
  | { readonly outcome: 'mismatch'; readonly detail: string }
  | { readonly outcome: 'refused'; readonly detail: string }
  | { readonly outcome: 'failed'; readonly detail: string };

const ACCESS_REFUSED = 403;
const PRECONDITION_FAILED = 406;

/** Declares the queue exactly as bespin-api and lando-messaging do: durable, no arguments. */
export function declareQueueAsBespinApi(connection: AmqpConnection, queue: string): Promise<DeclarationCheck> {
  return declaration(connection, `declaring queue ${JSON.stringify(queue)}`, (session) => session.declareQueue(queue));
}

/** Declares `job_status` exactly as lando-messaging does: fanout, not durable. */
export function declareJobStatusExchange(connection: AmqpConnection): Promise<DeclarationCheck> {
  return declaration(connection, `declaring exchange ${JOB_STATUS_EXCHANGE}`, (session) =>
    session.declareExchange(JOB_STATUS_EXCHANGE, 'fanout', { durable: false }),
  );
}

/**
 * A refused declaration closes the channel and with it the session; the connection opens a
 * new one for the next question.
 */
async function declaration(connection: AmqpConnection, action: string, declare: (session: AmqpSession) => Promise<void>): Promise<DeclarationCheck> {
  let session: AmqpSession;
  try {
    session = await connection.session();
  } catch (error) {
    return { outcome: 'failed', detail: error instanceof Error ? error.message : String(error) };
  }
  try {
    await declare(session);
    return { outcome: 'declared' };
  } catch (error) {
    const code = replyCodeOf(error);
    const detail = toDomainError(error, action).message;
    if (code === PRECONDITION_FAILED) return { outcome: 'mismatch', detail };
    if (code === ACCESS_REFUSED) return { outcome: 'refused', detail };
    return { outcome: 'failed', detail };
  }
}
