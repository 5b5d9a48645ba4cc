/**
 * lando's commands on the wire (messages.md §3-§5, §7, §8). Two formats share one set of rules:
 * the pickled WorkRequest that bespin-api and the Python watcher send, and the JSON envelope of
 * json-codec.ts for new senders. A body is JSON when its content type says so and pickle
 * otherwise, since lando-messaging sends no content type at all.
 */
import { isLandoCommand, MESSAGING_VERSION, type LandoCommandName, type LandoMessage } from '../../domain/commands.js';
import { PermanentError } from '../../domain/errors.js';
import { formatJsonEnvelope, JsonEnvelopeError, parseJsonEnvelope } from './json-codec.js';
import {
  describePickleValue,
  dumpPickle,
  isPickleGlobal,
  isPickleObject,
  loadPickle,
  PickleDecodeError,
  quoteForReason,
  type PickleObject,
  type PickleValue,
} from './pickle-codec.js';

export type MessageFormat = 'pickle' | 'json';
export const JSON_CONTENT_TYPE = 'application/json';

/** Thrown for any body that is not a valid lando command; `reason` is one clear sentence naming what was wrong. */
export class MessageDecodeError extends PermanentError {
  readonly reason: string;

  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

const WORK_REQUEST_CLASS = 'lando_messaging.workqueue.WorkRequest';
const ENVELOPE_FIELDS = ['command', 'payload', 'version'] as const;

/** A payload class and its attributes in pickle order. */
interface PayloadSchema {
  readonly className: string;
  readonly fields: readonly PayloadField[];
}
type PayloadField = 'job_id' | 'vm_instance_name' | 'output_project_info' | 'message';

function payloadClass(name: string, ...fields: PayloadField[]): PayloadSchema {
  return { className: `lando_messaging.messaging.${name}`, fields: ['job_id', ...fields] };
}

const STEP_COMPLETE = payloadClass('JobStepCompletePayload', 'vm_instance_name');
const STEP_ERROR = payloadClass('JobStepErrorPayload', 'vm_instance_name', 'message');

/** messages.md §4-§5 and §9: which payload class each command carries. */
const PAYLOADS: Readonly<Record<LandoCommandName, PayloadSchema>> = {
  start_job: payloadClass('StartJobPayload'),
  restart_job: payloadClass('RestartJobPayload'),
  cancel_job: payloadClass('CancelJobPayload'),
  stage_job_complete: STEP_COMPLETE,
  stage_job_error: STEP_ERROR,
  run_job_complete: STEP_COMPLETE,
  run_job_error: STEP_ERROR,
  organize_output_complete: STEP_COMPLETE,
  organize_output_error: STEP_ERROR,
  store_job_output_complete: payloadClass('JobStepStoreOutputCompletePayload', 'vm_instance_name', 'output_project_info'),
  store_job_output_error: STEP_ERROR,
  record_output_project_complete: STEP_COMPLETE,
  record_output_project_error: STEP_ERROR,
  start_debug: payloadClass('StartDebugPayload'),
  cancel_debug: payloadClass('CancelDebugPayload'),
};

/** The only classes a pickle may name: the envelope and the payloads (messages.md §8.1). */
const ALLOWED_CLASSES: ReadonlySet<string> = new Set([
  WORK_REQUEST_CLASS,
  ...Object.values(PAYLOADS).map((schema) => schema.className),
]);

/** A format's view of the envelope before the shared validation. */
interface RawEnvelope {
  readonly command: unknown;
  readonly version: unknown;
  /** Undefined when the format implies the class from the command (JSON). */
  readonly payloadClass: string | undefined;
  readonly payload: ReadonlyMap<string, unknown>;
}

/** Detects the format per message: content type application/json => JSON envelope, otherwise pickle. Validates fully. */
export function decodeMessage(body: Buffer, contentType?: string): LandoMessage {
  return toLandoMessage(isJsonContentType(contentType) ? readJsonEnvelope(body) : readPickleEnvelope(body));
}

/** Encodes as the given format. Pickle output is byte-identical to the fixtures for the same content. */
export function encodeMessage(message: LandoMessage, format: MessageFormat): { body: Buffer; contentType?: string } {
  const content = wireContent(message);
  if (format === 'json') return { body: formatJsonEnvelope(content), contentType: JSON_CONTENT_TYPE };
  return { body: dumpPickle(workRequestOf(content)) };
}

/** What goes on the wire: refuses what the receiving side would reject, drops `message` where no payload has it. */
function wireContent(message: LandoMessage): LandoMessage {
  const { command, jobId, version } = message;
  const refuse = (problem: string): never => {
    throw new PermanentError(`cannot encode ${quoteForReason(String(command))}: ${problem}`);
  };
  if (!isLandoCommand(command)) return refuse('unknown command');
  if (!isJobId(jobId)) return refuse(`${JOB_ID_RULE}, got ${describe(jobId)}`);
  if (!isErrorCommand(command)) return { command, jobId, version };
  if (typeof message.message !== 'string') return refuse(`message must be a string, got ${describe(message.message)}`);
  return { command, jobId, message: message.message, version };
}

/** Media types are case-insensitive and may carry parameters such as `; charset=utf-8`. */
function isJsonContentType(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === JSON_CONTENT_TYPE;
}

function readPickleEnvelope(body: Buffer): RawEnvelope {
  let root: PickleValue;
  try {
    root = loadPickle(body, ALLOWED_CLASSES);
  } catch (error) {
    if (error instanceof PickleDecodeError) throw new MessageDecodeError(error.reason);
    throw error;
  }
  if (!isPickleObject(root) || root.className !== WORK_REQUEST_CLASS) {
    throw new MessageDecodeError(`pickle must hold a ${WORK_REQUEST_CLASS}, got ${describe(root)}`);
  }
  requireExactly(root.state, 'WorkRequest attribute');
  const payload = root.state.get('payload');
  if (!isPickleObject(payload)) {
    throw new MessageDecodeError(`WorkRequest payload must be a payload class instance, got ${describe(payload)}`);
  }
  const { state } = root;
  return { command: state.get('command'), version: state.get('version'), payloadClass: payload.className, payload: payload.state };
}

function readJsonEnvelope(body: Buffer): RawEnvelope {
  let members: ReadonlyMap<string, unknown>;
  try {
    members = parseJsonEnvelope(body);
  } catch (error) {
    if (error instanceof JsonEnvelopeError) throw new MessageDecodeError(error.reason);
    throw error;
  }
  requireExactly(members, 'JSON envelope member');
  const payload = members.get('payload');
  if (!(payload instanceof Map)) {
    throw new MessageDecodeError(`JSON envelope payload must be an object, got ${describe(payload)}`);
  }
  return { command: members.get('command'), version: members.get('version'), payloadClass: undefined, payload };
}

function requireExactly(fields: ReadonlyMap<string, unknown>, what: string): void {
  const missing = ENVELOPE_FIELDS.find((name) => !fields.has(name));
  if (missing !== undefined) throw new MessageDecodeError(`${what} ${missing} is missing`);
  const extra = [...fields.keys()].find((name) => !(ENVELOPE_FIELDS as readonly string[]).includes(name));
  if (extra !== undefined) throw new MessageDecodeError(`unexpected ${what} ${quoteForReason(extra)}`);
}

/** The rules both formats share, in the order Python lando applies them: version, then command. */
function toLandoMessage(envelope: RawEnvelope): LandoMessage {
  const version = checkVersion(envelope.version);
  const { command } = envelope;
  if (typeof command !== 'string') throw new MessageDecodeError(`command must be a string, got ${describe(command)}`);
  if (!isLandoCommand(command)) throw new MessageDecodeError(`unknown command: ${quoteForReason(command)}`);
  const schema = PAYLOADS[command];
  if (envelope.payloadClass !== undefined && envelope.payloadClass !== schema.className) {
    throw new MessageDecodeError(`payload of ${command} must be a ${schema.className}, got ${envelope.payloadClass}`);
  }
  // Only what lando reads is checked; other payload attributes are ignored, as Python lando ignores them.
  const jobId = envelope.payload.get('job_id');
  if (!isJobId(jobId)) throw new MessageDecodeError(`payload of ${command}: ${JOB_ID_RULE}, got ${describe(jobId)}`);
  if (!isErrorCommand(command)) return { command, jobId, version };
  const message = envelope.payload.get('message');
  if (typeof message !== 'string') {
    throw new MessageDecodeError(`payload of ${command}: message must be a string, got ${describe(message)}`);
  }
  return { command, jobId, message, version };
}

/** messages.md §7: equal text before the first '.' is compatible; anything else is refused. */
function checkVersion(version: unknown): string {
  if (typeof version !== 'string') throw new MessageDecodeError(`version must be a string, got ${describe(version)}`);
  if (majorOf(version) !== majorOf(MESSAGING_VERSION)) {
    throw new MessageDecodeError(`major version mismatch: message ${quoteForReason(version)}, local ${MESSAGING_VERSION}`);
  }
  return version;
}

function majorOf(version: string): string {
  return version.split('.', 1)[0] ?? '';
}

const JOB_ID_RULE = 'job_id must be a non-empty string of digits or a non-negative safe integer';

function isJobId(value: unknown): value is string | number {
  if (typeof value === 'string') return /^[0-9]+$/.test(value);
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isErrorCommand(command: LandoCommandName): boolean {
  return PAYLOADS[command].fields.includes('message');
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'number' && !Number.isSafeInteger(value)) return `the number ${value}`;
  if (isPickleValue(value)) return describePickleValue(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

function isPickleValue(value: unknown): value is PickleValue {
  const type = typeof value;
  return (
    type === 'boolean' || type === 'number' || type === 'bigint' || type === 'string' ||
    Array.isArray(value) || value instanceof Map || isPickleObject(value) || isPickleGlobal(value)
  );
}

/** The object graph lando-messaging pickles: WorkRequest(command, payload, version), attributes in its order. */
function workRequestOf(message: LandoMessage): PickleObject {
  const schema = PAYLOADS[message.command];
  const payload = new Map<string, PickleValue>(
    schema.fields.map((field): [string, PickleValue] => [field, payloadValue(message, field)]),
  );
  return {
    kind: 'object',
    className: WORK_REQUEST_CLASS,
    state: new Map<string, PickleValue>([
      ['command', message.command],
      ['payload', { kind: 'object', className: schema.className, state: payload }],
      ['version', message.version],
    ]),
  };
}

/** What the Python senders put in each attribute; the VM-era ones are always None. */
function payloadValue(message: LandoMessage, field: PayloadField): PickleValue {
  if (field === 'job_id') return message.jobId;
  if (field === 'message') return message.message ?? null;
  return null;
}
