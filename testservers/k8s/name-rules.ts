/**
 * apimachinery's `util/validation` string checks. Each returns the error details (empty when
 * valid), worded exactly like the Go functions so clients see the real messages.
 */

function regexError(message: string, pattern: string, ...examples: string[]): string {
  // Go builds this with "', " after each example and " or " between them, hence the double space.
  let text = `${message} (`;
  if (examples.length > 0) {
    text += 'e.g. ';
    examples.forEach((example, position) => {
      if (position > 0) text += ' or ';
      text += `'${example}', `;
    });
  }
  return `${text}regex used for validation is '${pattern}')`;
}

const maxLenError = (length: number): string => `must be no more than ${length} characters`;

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const QUALIFIED_NAME_PART = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${QUALIFIED_NAME_PART})?`;
const ENV_VAR_NAME = '[-._a-zA-Z][-._a-zA-Z0-9]*';
const CONFIG_MAP_KEY = '[-._a-zA-Z0-9]+';

const whole = (pattern: string): RegExp => new RegExp(`^${pattern}$`);
const DNS1123_LABEL_RE = whole(DNS1123_LABEL);
const DNS1123_SUBDOMAIN_RE = whole(DNS1123_SUBDOMAIN);
const QUALIFIED_NAME_RE = whole(QUALIFIED_NAME_PART);
const LABEL_VALUE_RE = whole(LABEL_VALUE);
const ENV_VAR_NAME_RE = whole(ENV_VAR_NAME);
const CONFIG_MAP_KEY_RE = whole(CONFIG_MAP_KEY);

const LABEL_MAX_LENGTH = 63;
const SUBDOMAIN_MAX_LENGTH = 253;

export function dns1123LabelErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > LABEL_MAX_LENGTH) errors.push(maxLenError(LABEL_MAX_LENGTH));
  if (!DNS1123_LABEL_RE.test(value)) {
    errors.push(regexError(
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
      DNS1123_LABEL, 'my-name', '123-abc'));
  }
  return errors;
}

export function dns1123SubdomainErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > SUBDOMAIN_MAX_LENGTH) errors.push(maxLenError(SUBDOMAIN_MAX_LENGTH));
  if (!DNS1123_SUBDOMAIN_RE.test(value)) {
    errors.push(regexError(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      DNS1123_SUBDOMAIN, 'example.com'));
  }
  return errors;
}

/** Label and annotation keys: `[prefix/]name`. */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  let name: string;
  const errors: string[] = [];
  if (parts.length === 1) {
    name = value;
  } else if (parts.length === 2) {
    const [prefix, rest] = parts as [string, string];
    name = rest;
    if (prefix.length === 0) errors.push('prefix part must be non-empty');
    else errors.push(...dns1123SubdomainErrors(prefix).map((error) => `prefix part ${error}`));
  } else {
    return [
      `a qualified name ${regexError("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME_PART, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errors.push('name part must be non-empty');
  else if (name.length > LABEL_MAX_LENGTH) errors.push(`name part ${maxLenError(LABEL_MAX_LENGTH)}`);
  if (name.length > 0 && !QUALIFIED_NAME_RE.test(name)) {
    errors.push(`name part ${regexError("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
      QUALIFIED_NAME_PART, 'MyName', 'my.name', '123-abc')}`);
  }
  return errors;
}

export function labelValueErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > LABEL_MAX_LENGTH) errors.push(maxLenError(LABEL_MAX_LENGTH));
  if (!LABEL_VALUE_RE.test(value)) {
    errors.push(regexError(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
      LABEL_VALUE, 'MyValue', 'my_value', '12345'));
  }
  return errors;
}

export function envVarNameErrors(value: string): string[] {
  if (ENV_VAR_NAME_RE.test(value)) return [];
  return [regexError("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
    ENV_VAR_NAME, 'my.env-name', 'MY_ENV.NAME', 'MyEnvName1')];
}

export function configMapKeyErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > SUBDOMAIN_MAX_LENGTH) errors.push(maxLenError(SUBDOMAIN_MAX_LENGTH));
  if (!CONFIG_MAP_KEY_RE.test(value)) {
    errors.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", CONFIG_MAP_KEY, 'key.name', 'KEY_NAME', 'key-name'));
  }
  if (value === '.') errors.push("must not be '.'");
  else if (value === '..') errors.push("must not be '..'");
  else if (value.startsWith('..')) errors.push("must not start with '..'");
  return errors;
}

const QUANTITY_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
export const QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const BINARY_SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL_SUFFIX: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** resource.Quantity as a number, or undefined when the text is not a quantity. */
export function parseQuantity(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const match = QUANTITY_RE.exec(value);
  if (!match) return undefined;
  const mantissa = Number(match[1]);
  const suffix = match[2] ?? '';
  if (Number.isNaN(mantissa)) return undefined;
  if (suffix in BINARY_SUFFIX) return mantissa * BINARY_SUFFIX[suffix];
  if (suffix in DECIMAL_SUFFIX) return mantissa * DECIMAL_SUFFIX[suffix];
  const exponent = /^[eE]([-+]?[0-9]+)$/.exec(suffix);
  return exponent ? mantissa * 10 ** Number(exponent[1]) : undefined;
}
