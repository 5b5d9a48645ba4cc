/**
 * Field errors in the form apimachinery's `field.Error` prints them, so Status messages and
 * causes read exactly like a real API server's (`spec.x: Invalid value: "y": detail`).
 */
export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueNotFound'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong';

export interface FieldError {
  readonly type: FieldErrorType;
  readonly field: string;
  /** The offending value; absent for Required/Forbidden. */
  readonly value?: unknown;
  readonly detail?: string;
}

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueNotFound: 'Not found',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
};

/** A value printed the way Go's `%#v` would for the few non-JSON cases (e.g. `0x0`). */
export class GoLiteral {
  constructor(readonly text: string) {}
}

export const required = (field: string, detail?: string): FieldError => ({ type: 'FieldValueRequired', field, detail });
export const invalid = (field: string, value: unknown, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, value, detail });
export const duplicate = (field: string, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field, value });
export const notFound = (field: string, value: unknown): FieldError => ({ type: 'FieldValueNotFound', field, value });
export const forbidden = (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, detail });
export const notSupported = (field: string, value: unknown, supported: readonly string[]): FieldError => ({
  type: 'FieldValueNotSupported',
  field,
  value,
  detail: `supported values: ${supported.map((item) => JSON.stringify(item)).join(', ')}`,
});

function formatValue(value: unknown): string {
  if (value instanceof GoLiteral) return value.text;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? 'null';
}

/** `field.Error.ErrorBody()`: the message without the field path. */
export function errorBody(error: FieldError): string {
  const head = TYPE_TEXT[error.type];
  const withValue = error.type === 'FieldValueRequired' || error.type === 'FieldValueForbidden' || error.type === 'FieldValueTooLong'
    ? head
    : `${head}: ${formatValue(error.value)}`;
  return error.detail ? `${withValue}: ${error.detail}` : withValue;
}

/** `field.Error.Error()`. */
export function errorText(error: FieldError): string {
  return `${error.field}: ${errorBody(error)}`;
}

/** `ErrorList.ToAggregate().Error()`: one message alone, several in brackets. */
export function aggregateText(errors: readonly FieldError[]): string {
  const texts = [...new Set(errors.map(errorText))];
  return texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
}

/** Field path helpers, `spec.containers[0].name` style. */
export const child = (path: string, name: string): string => (path ? `${path}.${name}` : name);
export const index = (path: string, position: number): string => `${path}[${position}]`;
export const key = (path: string, mapKey: string): string => `${path}[${mapKey}]`;
