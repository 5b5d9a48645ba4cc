import { badRequestError } from './api-status.js';
import { invalid, notSupported, required, type FieldError } from './field-errors.js';
import { isJsonObject, type KubeObject } from './kube-object.js';
import { parseQuantity, QUANTITY_FORMAT_ERROR } from './name-rules.js';

/**
 * Checks a request body against the official OpenAPI schema through kubernetes-models, and
 * answers the way the API server's decoder and validation do: a value of the wrong JSON type
 * (or an unparsable time/quantity) cannot be decoded → 400 BadRequest naming the field; a
 * missing required field or a value outside an enum → a field error for the 422 Invalid Status.
 */

/** The part of an ajv error object we read (kubernetes-models throws ajv's ValidationError). */
interface SchemaViolation {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

// kubernetes-models model classes, e.g. `Job`; their constructor parameter type differs per kind,
// and `never` is the parameter type every one of them accepts.
export type ModelClass = new (data: never) => { validate(): void };

export interface SchemaCheckSpec {
  readonly model: ModelClass;
  readonly kind: string;
  readonly version: string;
  /** Dotted paths (`*` = any key or index) whose values are resource.Quantity. */
  readonly quantityPaths?: readonly string[];
  /** Dotted paths whose values are metav1.MicroTime (exactly six fractional digits). */
  readonly microTimePaths?: readonly string[];
}

// ajv keywords whose failures Go's JSON decoder would already reject.
const DECODE_KEYWORDS = new Set(['type', 'oneOf', 'anyOf', 'format']);
const GO_TYPES: Record<string, string> = { string: 'string', integer: 'int32', number: 'float64', boolean: 'bool', array: 'slice', object: 'struct' };
const MICRO_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

function violationsOf(error: unknown): SchemaViolation[] | undefined {
  if (!(error instanceof Error) || !('errors' in error) || !Array.isArray(error.errors)) return undefined;
  return error.errors.filter((item): item is SchemaViolation =>
    isJsonObject(item) && typeof item.keyword === 'string' && typeof item.instancePath === 'string' && isJsonObject(item.params));
}

function pointerSegments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `spec.containers[0].image`, the field path style of Status causes. */
function fieldPath(segments: readonly string[]): string {
  return segments.reduce((path, segment) => (/^[0-9]+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment), '');
}

/** `spec.containers.image`, how Go's decoder names a struct field (no indices). */
function goFieldPath(segments: readonly string[]): string {
  return segments.filter((segment) => !/^[0-9]+$/.test(segment)).join('.');
}

function valueAt(root: unknown, segments: readonly string[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isJsonObject(current)) current = current[segment];
    else return undefined;
  }
  return current;
}

function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** Every `[segments, value]` at a dotted path pattern. */
function valuesAt(root: unknown, pattern: string): [string[], unknown][] {
  let found: [string[], unknown][] = [[[], root]];
  for (const part of pattern.split('.')) {
    const next: [string[], unknown][] = [];
    for (const [segments, value] of found) {
      if (part === '*') {
        if (Array.isArray(value)) value.forEach((item, position) => next.push([[...segments, String(position)], item]));
        else if (isJsonObject(value)) for (const [name, item] of Object.entries(value)) next.push([[...segments, name], item]);
      } else if (isJsonObject(value) && value[part] !== undefined) {
        next.push([[...segments, part], value[part]]);
      }
    }
    found = next;
  }
  return found;
}

export function makeSchemaCheck(spec: SchemaCheckSpec): (body: KubeObject) => FieldError[] {
  const decodeFailure = (detail: string): Error =>
    badRequestError(`${spec.kind} in version ${JSON.stringify(spec.version)} cannot be handled as a ${spec.kind}: ${detail}`);

  const decodeDetail = (violation: SchemaViolation, body: KubeObject): string => {
    const segments = pointerSegments(violation.instancePath);
    const value = valueAt(body, segments);
    const goField = `${spec.kind}.${goFieldPath(segments)}`;
    if (violation.keyword === 'format' && violation.params.format === 'date-time') {
      return `parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(value)} as "2006"`;
    }
    if (violation.keyword === 'type') {
      const expected = GO_TYPES[String(violation.params.type)] ?? String(violation.params.type);
      return `json: cannot unmarshal ${jsonTypeName(value)} into Go struct field ${goField} of type ${expected}`;
    }
    return `json: cannot unmarshal ${jsonTypeName(value)} into Go struct field ${goField}: ${violation.message ?? violation.keyword}`;
  };

  return (body) => {
    // Quantities and micro-times first: the schema accepts any string there, the decoder does not.
    for (const pattern of spec.quantityPaths ?? []) {
      for (const [, value] of valuesAt(body, pattern)) {
        if (typeof value === 'string' && parseQuantity(value) === undefined) throw decodeFailure(QUANTITY_FORMAT_ERROR);
      }
    }
    for (const pattern of spec.microTimePaths ?? []) {
      for (const [, value] of valuesAt(body, pattern)) {
        if (typeof value === 'string' && !MICRO_TIME_RE.test(value)) {
          throw decodeFailure(`parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse ${JSON.stringify(value.slice(19))} as ".000000"`);
        }
      }
    }
    try {
      new spec.model(body as never).validate();
    } catch (error) {
      const violations = violationsOf(error);
      if (!violations) throw error;
      const decode = violations.find((violation) => DECODE_KEYWORDS.has(violation.keyword));
      if (decode) throw decodeFailure(decodeDetail(decode, body));
      return violations.map((violation) => toFieldError(violation, body));
    }
    return [];
  };
}

function toFieldError(violation: SchemaViolation, body: KubeObject): FieldError {
  const segments = pointerSegments(violation.instancePath);
  const value = valueAt(body, segments);
  if (violation.keyword === 'required') return required(fieldPath([...segments, String(violation.params.missingProperty)]));
  if (violation.keyword === 'enum' && Array.isArray(violation.params.allowedValues)) {
    return notSupported(fieldPath(segments), value, violation.params.allowedValues.map(String));
  }
  return invalid(fieldPath(segments), value, violation.message ?? `must satisfy schema keyword ${violation.keyword}`);
}
