/**
 * The JSON envelope, for new senders that should not have to speak pickle. It is the
 * WorkRequest's attribute dictionary written as JSON, sent with content type
 * `application/json`:
 *
 *   {"command": "run_job_error", "payload": {"job_id": "42", "message": "pod log"}, "version": "2.0.1"}
 *
 * - the members are exactly `command`, `payload` and `version`;
 * - `payload` is an object holding `job_id` (a string of digits or a non-negative integer, kept
 *   as sent) and, for `*_error` commands, `message`; the payload class is implied by the command,
 *   and other payload members are ignored, as Python lando ignores extra payload attributes;
 * - `version` is the sender's lando-messaging version; only its major part must match.
 *
 * The body is UTF-8 JSON of at most MAX_JSON_ENVELOPE_BYTES. This module only parses and
 * writes; message-codec.ts validates both formats with the same rules.
 */
import type { LandoMessage } from '../../domain/commands.js';

export const MAX_JSON_ENVELOPE_BYTES = 1024 * 1024;

/** Why a body is not a JSON envelope; `reason` is one sentence naming the problem. */
export class JsonEnvelopeError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'JsonEnvelopeError';
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The envelope's members. An object-valued `payload` is turned into a Map too, so that both
 * levels read like the pickle's attribute dictionaries and a member named `__proto__` stays data.
 */
export function parseJsonEnvelope(body: Uint8Array): ReadonlyMap<string, unknown> {
  if (body.length > MAX_JSON_ENVELOPE_BYTES) {
    throw new JsonEnvelopeError(`JSON envelope of ${body.length} bytes exceeds the limit of ${MAX_JSON_ENVELOPE_BYTES} bytes`);
  }
  let document: unknown;
  try {
    document = JSON.parse(UTF8.decode(body));
  } catch (error) {
    // TextDecoder and JSON.parse throw only for malformed input; their message says where.
    throw new JsonEnvelopeError(`body is not UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const members = membersOf(document);
  if (members === undefined) throw new JsonEnvelopeError('JSON envelope must be an object');
  const payload = membersOf(members.get('payload'));
  if (payload !== undefined) members.set('payload', payload);
  return members;
}

/** Writes the envelope with members in the documented order; `message` only when the message has one. */
export function formatJsonEnvelope(message: LandoMessage): Buffer {
  const payload = message.message === undefined ? { job_id: message.jobId } : { job_id: message.jobId, message: message.message };
  return Buffer.from(JSON.stringify({ command: message.command, payload, version: message.version }), 'utf8');
}

function membersOf(value: unknown): Map<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return new Map(Object.entries(value));
}
