import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import fc from 'fast-check';

import { pythonJsonDumps } from '../../src/domain/python-json.js';

/** Reads one JSON text per line and writes `json.dumps` of each, one per line. */
const PYTHON_DUMPS = [
  'import json, sys',
  "lines = sys.stdin.buffer.read().decode('utf-8').split('\\n')",
  "sys.stdout.write('\\n'.join(json.dumps(json.loads(line)) for line in lines))",
].join('\n');

function pythonDumpsAll(inputs: readonly string[]): string[] {
  const output = execFileSync('python3', ['-c', PYTHON_DUMPS], { input: inputs.join('\n'), encoding: 'utf8' });
  return output.split('\n');
}

/**
 * JSON text that makes Python load the same value our encoder sees: safe integers as ints,
 * every other number as a float (a `.0` keeps e.g. 2**60 from loading as an int).
 */
function toPythonInput(value: unknown): string {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return Object.is(value, -0) ? '0' : String(value);
    const text = String(value);
    return /[.e]/.test(text) ? text : `${text}.0`;
  }
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map(toPythonInput).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value).map(([key, member]) => `${JSON.stringify(key)}:${toPythonInput(member)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

const edgeNumbers = fc.constantFrom(
  0, -0, 1, -1, 0.5, 0.1, 1e-7, 1e-5, 1e-4, 0.0001234, 1e15, 1e16, 1e16 + 2, 1e21, 1e22, 2 ** 53, 2 ** 53 + 2, 2 ** 60,
  Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_VALUE, Number.MIN_VALUE, -2.5e-10, 123456789.123,
  1234567890123456.7, 99999999999999999,
);

const jsonNumber = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  edgeNumbers,
);

const jsonString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u001f', '\u007f', 'é', '😀', '\ud800', '/', ' ') }),
);

const { json: jsonValue } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    jsonNumber,
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
    jsonString,
    fc.array(tie('json')),
    fc.dictionary(jsonString, tie('json')),
  ),
}));

describe('pythonJsonDumps', () => {
  it('writes what Python 3 json.dumps writes for random values', () => {
    fc.assert(
      fc.property(fc.array(jsonValue, { minLength: 250, maxLength: 250 }), (values) => {
        const expected = pythonDumpsAll(values.map(toPythonInput));
        assert.deepEqual(values.map(pythonJsonDumps), expected);
      }),
      { numRuns: 4 },
    );
  });

  it('uses Python separators and keeps key order', () => {
    assert.equal(
      pythonJsonDumps({ b: 1, a: [true, false, null], c: { d: 'x' } }),
      '{"b": 1, "a": [true, false, null], "c": {"d": "x"}}',
    );
    assert.equal(pythonJsonDumps([]), '[]');
    assert.equal(pythonJsonDumps({}), '{}');
  });

  it('escapes non-ASCII as lower-case \\u escapes and non-BMP characters as surrogate pairs', () => {
    assert.equal(pythonJsonDumps('é€😀\u007f\u2028'), '"\\u00e9\\u20ac\\ud83d\\ude00\\u007f\\u2028"');
  });

  it("uses Python's short escapes and \\u00XX for other control characters", () => {
    assert.equal(pythonJsonDumps('"\\\n\r\t\b\f\u0000\u001b/'), '"\\"\\\\\\n\\r\\t\\b\\f\\u0000\\u001b/"');
  });

  it("writes non-integral and unsafe numbers like Python's float repr", () => {
    const cases: [number, string][] = [
      [0.5, '0.5'],
      [1e-7, '1e-07'],
      [1e-5, '1e-05'],
      [1e-4, '0.0001'],
      [1e16 + 2, '1.0000000000000002e+16'],
      [2 ** 60, '1.152921504606847e+18'],
      [1e300 * 1.5, '1.5e+300'],
      [-2.5e-10, '-2.5e-10'],
      [1234567890123456.7, '1234567890123456.8'],
    ];
    for (const [value, text] of cases) assert.equal(pythonJsonDumps(value), text, String(value));
    assert.equal(pythonJsonDumps(-0), '0');
    assert.equal(pythonJsonDumps(2 ** 53 - 1), '9007199254740991');
    assert.equal(pythonJsonDumps(12345678901234567890n), '12345678901234567890');
  });

  it('refuses what is not JSON, naming where it is', () => {
    assert.throws(() => pythonJsonDumps({ a: [1, Number.NaN] }), { name: 'RangeError', message: /NaN at \$\.a\[1\]/ });
    assert.throws(() => pythonJsonDumps(Number.POSITIVE_INFINITY), { name: 'RangeError', message: /Infinity at \$/ });
    assert.throws(() => pythonJsonDumps({ a: undefined }), { name: 'TypeError', message: /undefined at \$\.a/ });
    assert.throws(() => pythonJsonDumps([() => 1]), { name: 'TypeError', message: /function at \$\[0\]/ });
    assert.throws(() => pythonJsonDumps(Symbol('s')), { name: 'TypeError', message: /symbol at \$/ });
    assert.throws(() => pythonJsonDumps({ when: new Date(0) }), { name: 'TypeError', message: /Date at \$\.when/ });
    assert.throws(() => pythonJsonDumps(new Map()), { name: 'TypeError', message: /Map at \$/ });
  });

  it('refuses circular structures but accepts shared ones', () => {
    const shared = { x: 1 };
    assert.equal(pythonJsonDumps([shared, shared]), '[{"x": 1}, {"x": 1}]');
    const loop: unknown[] = [];
    loop.push(loop);
    assert.throws(() => pythonJsonDumps(loop), { name: 'TypeError', message: /circular reference at \$\[0\]/ });
  });
});
