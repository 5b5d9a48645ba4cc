/**
 * JSON text exactly as Python 3's `json.dumps(value)` writes it with default arguments. The
 * ConfigMap documents must be byte-identical to what the original lando stored (kubernetes.md
 * §6), and `JSON.stringify` differs in separators, non-ASCII escaping and float notation.
 *
 * JavaScript has one number type, so a number is written as a Python `int` when it is a safe
 * integer (the only integers a double holds exactly) and as a Python `float` otherwise. A
 * Python float with an integral value (`1.0`) cannot be told apart from `1` and is written `1`.
 * Keys come out in the object's own enumeration order, which is insertion order except that
 * JavaScript lists integer-like keys first.
 */
export function pythonJsonDumps(value: unknown): string {
  return encode(value, '$', new Set<object>());
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** Python's `ESCAPE_ASCII`: anything outside printable ASCII, plus the quote and backslash. */
const NEEDS_ESCAPE = /["\\]|[^ -~]/g;

function encode(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'number':
      return encodeNumber(value, path);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return encodeContainer(value, path, ancestors);
    default:
      throw new TypeError(`pythonJsonDumps: ${typeof value} at ${path} is not JSON serializable`);
  }
}

function encodeContainer(value: object, path: string, ancestors: Set<object>): string {
  if (ancestors.has(value)) throw new TypeError(`pythonJsonDumps: circular reference at ${path}`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((item, index) => encode(item, `${path}[${index}]`, ancestors)).join(', ')}]`;
    }
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const typeName = value.constructor?.name ?? 'object';
      throw new TypeError(`pythonJsonDumps: ${typeName} at ${path} is not JSON serializable (only plain objects and arrays are)`);
    }
    const members = Object.entries(value).map(
      ([key, member]) => `${encodeString(key)}: ${encode(member, `${path}.${key}`, ancestors)}`,
    );
    return `{${members.join(', ')}}`;
  } finally {
    ancestors.delete(value);
  }
}

function encodeString(text: string): string {
  // Matching per UTF-16 code unit gives Python's surrogate pairs for non-BMP characters.
  const escaped = text.replace(NEEDS_ESCAPE, (char) => {
    const short = SHORT_ESCAPES[char];
    if (short !== undefined) return short;
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `"${escaped}"`;
}

function encodeNumber(value: number, path: string): string {
  if (!Number.isFinite(value)) {
    // Python would write NaN/Infinity, which is not JSON and no consumer of ours accepts.
    throw new RangeError(`pythonJsonDumps: ${value} at ${path} is not a finite number`);
  }
  if (Number.isSafeInteger(value)) return Object.is(value, -0) ? '0' : String(value);
  return pythonFloatRepr(value);
}

/**
 * Python's `float.__repr__` (CPython `PyOS_double_to_string` mode 'r'): the shortest digits
 * that round-trip, which JavaScript also computes, laid out with Python's rules: scientific
 * notation when the magnitude is at least 1e16 or below 1e-4, a signed exponent of at least
 * two digits, and `.0` on integral values.
 */
function pythonFloatRepr(value: number): string {
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  const sign = value < 0 ? '-' : '';
  const pointPosition = exponent + 1;

  if (pointPosition > 16 || pointPosition < -3) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const exponentDigits = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${digits[0]}${fraction}e${exponent < 0 ? '-' : '+'}${exponentDigits}`;
  }
  if (pointPosition <= 0) return `${sign}0.${'0'.repeat(-pointPosition)}${digits}`;
  if (pointPosition >= digits.length) return `${sign}${digits}${'0'.repeat(pointPosition - digits.length)}.0`;
  return `${sign}${digits.slice(0, pointPosition)}.${digits.slice(pointPosition)}`;
}
