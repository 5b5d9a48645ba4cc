/**
 * The AMQP basic properties of a message, with amqplib's field names, in a form free of the
 * client library so the in-memory broker can carry the same properties as RabbitMQ does.
 */
export interface MessageProperties {
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly headers?: Readonly<Record<string, unknown>>;
  /** 2 = persistent. */
  readonly deliveryMode?: number;
  readonly priority?: number;
  readonly correlationId?: string;
  readonly replyTo?: string;
  readonly expiration?: string;
  readonly messageId?: string;
  /** Seconds since the epoch, as AMQP carries it. */
  readonly timestamp?: number;
  readonly type?: string;
  readonly userId?: string;
  readonly appId?: string;
}

/** How many times the message was put back for a retry; absent on a first delivery. */
export const ATTEMPT_HEADER = 'x-lando-attempt';
/** How many times in a row the message was put back unhandled because another replica held its job. */
export const DEFERRAL_HEADER = 'x-lando-deferrals';

export const PERSISTENT = 2;

/** Property name → its name in the AMQP specification, used where operators read them. */
const SPEC_NAMES = {
  contentType: 'content_type',
  contentEncoding: 'content_encoding',
  headers: 'headers',
  deliveryMode: 'delivery_mode',
  priority: 'priority',
  correlationId: 'correlation_id',
  replyTo: 'reply_to',
  expiration: 'expiration',
  messageId: 'message_id',
  timestamp: 'timestamp',
  type: 'type',
  userId: 'user_id',
  appId: 'app_id',
} as const satisfies Record<keyof MessageProperties, string>;

type PropertyName = keyof typeof SPEC_NAMES;
const NUMERIC_PROPERTIES: ReadonlySet<PropertyName> = new Set(['deliveryMode', 'priority', 'timestamp']);

/** The count a delivery carries in `header`; 0 when absent or unreadable. */
function countIn(properties: MessageProperties, header: string): number {
  const raw = properties.headers?.[header];
  const count = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' ? Number(raw) : NaN;
  return Number.isSafeInteger(count) && count >= 0 ? count : 0;
}

export function attemptOf(properties: MessageProperties): number {
  return countIn(properties, ATTEMPT_HEADER);
}

export function deferralsOf(properties: MessageProperties): number {
  return countIn(properties, DEFERRAL_HEADER);
}

/** The properties of the copy put back on the queue: the attempt count, and the deferrals in a row (none after a handled attempt). */
export function withRetryCounts(properties: MessageProperties, attempt: number, deferrals: number): MessageProperties {
  const { [DEFERRAL_HEADER]: _previous, ...headers } = properties.headers ?? {};
  return { ...properties, headers: { ...headers, [ATTEMPT_HEADER]: attempt, ...(deferrals > 0 ? { [DEFERRAL_HEADER]: deferrals } : {}) } };
}

/** A fresh start: no attempt or deferral count. */
export function withoutRetryCounts(properties: MessageProperties): MessageProperties {
  if (properties.headers === undefined || !(ATTEMPT_HEADER in properties.headers || DEFERRAL_HEADER in properties.headers)) return properties;
  const { [ATTEMPT_HEADER]: _attempt, [DEFERRAL_HEADER]: _deferrals, ...headers } = properties.headers;
  return { ...properties, headers };
}

/** The properties as an AMQP field table keyed by their specification names (undefined ones left out). */
export function propertiesToTable(properties: MessageProperties): Record<string, unknown> {
  const table: Record<string, unknown> = {};
  for (const [name, specName] of Object.entries(SPEC_NAMES) as [PropertyName, string][]) {
    const value = properties[name];
    if (value !== undefined) table[specName] = value;
  }
  return table;
}

/** Reverses {@link propertiesToTable}; entries of the wrong type are reported, not guessed at. */
export function propertiesFromTable(table: unknown): MessageProperties {
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw new TypeError(`message properties must be a field table, got ${describeValue(table)}`);
  }
  const source = table as Record<string, unknown>;
  const properties: Record<string, unknown> = {};
  for (const [name, specName] of Object.entries(SPEC_NAMES) as [PropertyName, string][]) {
    const value = source[specName];
    if (value === undefined) continue;
    properties[name] = checkedProperty(name, specName, value);
  }
  return properties as MessageProperties;
}

function checkedProperty(name: PropertyName, specName: string, value: unknown): unknown {
  if (name === 'headers') {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  } else if (NUMERIC_PROPERTIES.has(name)) {
    if (typeof value === 'number') return value;
    if (typeof value === 'bigint') return Number(value);
  } else if (typeof value === 'string') {
    return value;
  }
  throw new TypeError(`message property '${specName}' has the wrong type: ${describeValue(value)}`);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
