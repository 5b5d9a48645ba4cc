import { expect } from 'chai';
import fc from 'fast-check';

import {
  dumpPickle,
  isPickleObject,
  loadPickle,
  MAX_PICKLE_BYTES,
  MAX_PICKLE_CONTAINERS,
  MAX_PICKLE_DEPTH,
  MAX_PICKLE_STACK,
  PickleDecodeError,
  type PickleObject,
  type PickleValue,
} from '../../src/adapters/amqp/pickle-codec.js';
import { pickleFixtures } from '../support/pickle-fixtures.js';
import { pythonDump, pythonDumps, type PythonDumpRequest } from '../support/pickle-python.js';

const WORK_REQUEST = 'lando_messaging.workqueue.WorkRequest';
const START_JOB_PAYLOAD = 'lando_messaging.messaging.StartJobPayload';
const ERROR_PAYLOAD = 'lando_messaging.messaging.JobStepErrorPayload';
const ALLOWED = new Set([
  WORK_REQUEST,
  ...[
    'StartJobPayload',
    'RestartJobPayload',
    'CancelJobPayload',
    'JobStepCompletePayload',
    'JobStepStoreOutputCompletePayload',
    'JobStepErrorPayload',
    'StartDebugPayload',
    'CancelDebugPayload',
  ].map((name) => `lando_messaging.messaging.${name}`),
]);

/** JSON text of integers, exact at any size (JSON.stringify cannot write a bigint). */
function jsonInts(values: readonly bigint[]): string {
  return `[${values.join(',')}]`;
}

/** Safe integers as numbers, as the reader returns them. */
function asDecoded(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** Assembles a pickle from opcode text (latin-1, so `\x80` is one byte) and raw byte chunks. */
function pickle(...parts: (string | Uint8Array)[]): Buffer {
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));
}

/** BINUNICODE with its length prefix. */
function binunicode(text: string): Buffer {
  const encoded = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(encoded.length);
  return Buffer.concat([Buffer.from('X', 'latin1'), length, encoded]);
}

function load(bytes: Uint8Array): PickleValue {
  return loadPickle(bytes, ALLOWED);
}

function reasonOf(bytes: Uint8Array): string {
  try {
    load(bytes);
  } catch (error) {
    expect(error).to.be.instanceOf(PickleDecodeError);
    return (error as PickleDecodeError).reason;
  }
  expect.fail(`pickle ${Buffer.from(bytes).toString('hex')} was accepted`);
}

function instance(className: string, state: [string, PickleValue][]): PickleObject {
  return { kind: 'object', className, state: new Map(state) };
}

function workRequest(command: string, payload: PickleObject, version = '2.0.1'): PickleObject {
  return instance(WORK_REQUEST, [
    ['command', command],
    ['payload', payload],
    ['version', version],
  ]);
}

/** The WorkRequest pickle of messages.md §8.2 with its payload replaced by raw opcodes. */
function envelopeAround(payloadOpcodes: Uint8Array): Buffer {
  return pickle(
    '\x80\x02clando_messaging.workqueue\nWorkRequest\nq\x00)\x81q\x01}q\x02(',
    binunicode('command'),
    binunicode('start_job'),
    binunicode('payload'),
    payloadOpcodes,
    binunicode('version'),
    binunicode('2.0.1'),
    'ub.',
  );
}

describe('pickle codec', () => {
  describe('reading lando-messaging pickles', () => {
    for (const fixture of pickleFixtures()) {
      it(`reads ${fixture.name} as the instances lando-messaging pickled`, () => {
        const root = load(fixture.bytes);
        if (!isPickleObject(root)) return expect.fail('root is not an instance');
        expect(root.className).to.equal(fixture.meaning.envelope_class);
        expect([...root.state.keys()]).to.deep.equal(fixture.meaning.envelope_fields_in_pickle_order);
        expect(root.state.get('command')).to.equal(fixture.meaning.command);
        expect(root.state.get('version')).to.equal(fixture.meaning.version);
        const payload = root.state.get('payload');
        if (!isPickleObject(payload)) return expect.fail('payload is not an instance');
        expect(payload.className).to.equal(fixture.meaning.payload_class);
        expect([...payload.state.keys()]).to.deep.equal(fixture.meaning.payload_fields_in_pickle_order);
        expect(Object.fromEntries(payload.state)).to.deep.equal(fixture.meaning.payload);
      });

      it(`writes ${fixture.name} back byte for byte`, () => {
        expect(fixture.bytes.length).to.equal(fixture.meaning.length_bytes);
        expect(dumpPickle(load(fixture.bytes)).toString('hex')).to.equal(fixture.bytes.toString('hex'));
      });
    }

    it('reads what Python pickles at every protocol identically', () => {
      const message = 'line 1\nline 2\r\n\ttab, back\\slash, \\u0041 literal, quote \' and " NUL \0 ctrl-z \x1a é 中 🧬 end';
      const requests = [0, 1, 2, 3, 4, 5].flatMap((protocol): PythonDumpRequest[] => [
        {
          protocol,
          command: 'run_job_error',
          payload_class: 'JobStepErrorPayload',
          payload: { job_id: '42', vm_instance_name: null, message },
          version: '2.0.1',
        },
        { protocol, command: 'start_job', payload_class: 'StartJobPayload', payload: { job_id: 70000 }, version: '2.0.0' },
        { protocol, command: 'start_job', payload_class: 'StartJobPayload', payload: { job_id: -5 }, version: '2.0.0' },
      ]);
      const bodies = pythonDump(requests);
      const expected = [
        workRequest('run_job_error', instance(ERROR_PAYLOAD, [['job_id', '42'], ['vm_instance_name', null], ['message', message]])),
        workRequest('start_job', instance(START_JOB_PAYLOAD, [['job_id', 70000]]), '2.0.0'),
        workRequest('start_job', instance(START_JOB_PAYLOAD, [['job_id', -5]]), '2.0.0'),
      ];
      bodies.forEach((body, index) => {
        expect(load(body), `protocol ${requests[index]?.protocol} ${requests[index]?.command}`).to.deep.equal(expected[index % 3]);
      });
    });

    it('reads integers beyond the safe range as bigint from LONG, LONG1 and LONG4', () => {
      const big = 2n ** 70n + 12345n;
      const bigBytes = Uint8Array.from([0x39, 0x30, 0, 0, 0, 0, 0, 0, 0x40]);
      expect(pythonDumps([jsonInts([big, -big, 2n ** 53n])]).map(load)).to.deep.equal([[big, -big, 2n ** 53n]]);
      expect(load(pickle('\x80\x02\x8a\x09', bigBytes, '.'))).to.equal(big);
      expect(load(pickle(`L${big}L\n.`))).to.equal(big);
      expect(load(pickle('\x80\x02\x8b\x09\x00\x00\x00', bigBytes, '.'))).to.equal(big);
      expect(load(pickle('\x80\x02\x8a\x02\xff\x7f.'))).to.equal(32767);
      expect(load(pickle('\x80\x02\x8a\x01\xff.'))).to.equal(-1);
      expect(load(pickle('\x80\x02\x8a\x00.'))).to.equal(0);
    });

    it('reads Python 2 byte strings (SHORT_BINSTRING, BINSTRING, STRING) as UTF-8', () => {
      expect(load(pickle('\x80\x02U\x05caf\xc3\xa9.'))).to.equal('café');
      expect(load(pickle('\x80\x02T\x02\x00\x00\x0042.'))).to.equal('42');
      expect(load(pickle("S'caf\\xc3\\xa9 \\n\\t \\'q\\' \\101\\\\z \\d'\n."))).to.equal("café \n\t 'q' A\\z \\d");
      expect(load(pickle('S"say \\"hi\\""\n.'))).to.equal('say "hi"');
    });

    it('reads the plain containers and opcodes other picklers use', () => {
      expect(load(pickle('(I01\nI00\nK\x01\x85K\x02K\x03\x86K\x04K\x05K\x06\x87(K\x07tl.'))).to.deep.equal([
        true,
        false,
        [1],
        [2, 3],
        [4, 5, 6],
        [7],
      ]);
      expect(load(pickle('(Vk\\u00e9\nI-3\nd.'))).to.deep.equal(new Map([['ké', -3]]));
      expect(load(pickle('\x80\x02]q\x00(K\x01K\x02eK\x03a.'))).to.deep.equal([1, 2, 3]);
      expect(load(pickle('\x80\x02]r\x00\x01\x00\x00j\x00\x01\x00\x00\x86.'))).to.deep.equal([[], []]);
      expect(load(pickle('\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x02ab\x94.'))).to.equal('ab');
      expect(load(pickle('\x80\x04\x8d\x01\x00\x00\x00\x00\x00\x00\x00z.'))).to.equal('z');
    });

    it('keeps a dict key named __proto__ as plain data', () => {
      const dict = load(pickle('\x80\x02}', binunicode('__proto__'), binunicode('x'), 's.'));
      expect(dict).to.be.instanceOf(Map);
      expect([...(dict as Map<string, PickleValue>)]).to.deep.equal([['__proto__', 'x']]);
    });

    it('creates instances with NEWOBJ_EX and without a BUILD', () => {
      const bytes = pickle('\x80\x04\x8c\x19lando_messaging.messaging\x8c\x0fStartJobPayload\x93)}\x92.');
      expect(load(bytes)).to.deep.equal(instance(START_JOB_PAYLOAD, []));
    });
  });

  describe('writing', () => {
    it('encodes integers exactly as Python does at protocol 2', () => {
      const int32Edges = [-(2n ** 31n), 2n ** 31n - 1n, 2n ** 31n, -(2n ** 31n) - 1n];
      const values = [0n, 1n, 255n, 256n, 65535n, 65536n, -1n, -128n, -129n, ...int32Edges, 2n ** 63n, -(2n ** 63n), 2n ** 2100n, -(2n ** 2100n)];
      const bytes = dumpPickle(values.map(asDecoded));
      expect(bytes.toString('hex')).to.equal(pythonDumps([jsonInts(values)])[0]?.toString('hex'));
      const withinReadLimit = values.filter((value) => value < 2n ** 500n && value > -(2n ** 500n));
      expect(load(dumpPickle(withinReadLimit.map(asDecoded)))).to.deep.equal(withinReadLimit.map(asDecoded));
    });

    it('batches lists and dicts of every size class as CPython does', () => {
      const sizes = [0, 1, 2, 1000, 1001];
      const lists = sizes.map((size) => Array.from({ length: size }, (_, index) => index));
      const dicts = lists.map((list) => new Map(list.map((index): [string, PickleValue] => [`k${index}`, index])));
      const python = pythonDumps([...lists.map((list) => JSON.stringify(list)), ...dicts.map((dict) => JSON.stringify(Object.fromEntries(dict)))]);
      const ours = [...lists, ...dicts].map((value) => dumpPickle(value).toString('hex'));
      expect(ours).to.deep.equal(python.map((bytes) => bytes.toString('hex')));
      expect(dicts.map((dict) => load(dumpPickle(dict)))).to.deep.equal(dicts);
    });

    it('writes text of every length and script exactly as Python does', () => {
      const line = 'log line: é 中 🧬 \\ " \n';
      const texts = ['', 'x', line, line.repeat(40), line.repeat(3000)];
      const ours = texts.map((text) => dumpPickle(text).toString('hex'));
      expect(ours).to.deep.equal(pythonDumps(texts.map((text) => JSON.stringify(text))).map((bytes) => bytes.toString('hex')));
      expect(texts.map((text) => load(dumpPickle(text)))).to.deep.equal(texts);
    });

    it('writes a repeated class once and refers back to it', () => {
      const payload = instance(START_JOB_PAYLOAD, [['job_id', '1']]);
      const bytes = dumpPickle([payload, instance(START_JOB_PAYLOAD, [['job_id', '2']])]);
      expect(bytes.toString('latin1').split('StartJobPayload').length - 1).to.equal(1);
      expect(load(bytes)).to.deep.equal([payload, instance(START_JOB_PAYLOAD, [['job_id', '2']])]);
    });

    it('refuses values pickle cannot represent', () => {
      expect(() => dumpPickle(1.5)).to.throw(/supports only integers/);
      expect(() => dumpPickle(instance('NoModule', []))).to.throw(/module-qualified/);
    });
  });

  describe('refusing hostile or broken input', () => {
    const valid = pickleFixtures()[0]?.bytes ?? Buffer.alloc(0);

    it('refuses globals outside the allowlist wherever they are named', () => {
      expect(reasonOf(pickle("cos\nsystem\n(S'echo pwned'\ntR."))).to.equal('pickle refers to forbidden global os.system at offset 0');
      expect(reasonOf(pickle('\x80\x04\x8c\x08builtins\x8c\x04eval\x93.'))).to.equal('pickle refers to forbidden global builtins.eval at offset 18');
      expect(reasonOf(pickle('\x80\x02cposix\nsystem\nq\x00.'))).to.match(/forbidden global posix\.system/);
      expect(reasonOf(pickle('\x80\x02clando_messaging\nworkqueue.WorkRequest\n.'))).to.match(/forbidden global lando_messaging\.workqueue\.WorkRequest/);
      expect(reasonOf(pickle('\x80\x02clando_messaging.messaging\nSomethingElse\n.'))).to.match(/forbidden global/);
      expect(reasonOf(pickle('\x80\x02cos\nsys\ntem\n.'))).to.match(/forbidden global/);
      expect(reasonOf(pickle('\x80\x02c\xff\nx\n.'))).to.match(/not valid UTF-8/);
    });

    it('refuses REDUCE except for protocol 0/1 instance creation', () => {
      expect(reasonOf(pickle('\x80\x02clando_messaging.workqueue\nWorkRequest\n)R.'))).to.equal(
        'pickle opcode REDUCE at offset 42 is not allowed: it would call the global lando_messaging.workqueue.WorkRequest',
      );
      expect(reasonOf(pickle('ccopy_reg\n_reconstructor\n(clando_messaging.workqueue\nWorkRequest\nclando_messaging.workqueue\nWorkRequest\nNtR.'))).to.match(
        /accepts only copyreg\._reconstructor\(class, object, None\)/,
      );
      expect(reasonOf(pickle('ccopy_reg\n_reconstructor\n(clando_messaging.workqueue\nWorkRequest\nc__builtin__\nobject\nK\x01tR.'))).to.match(/accepts only/);
      expect(reasonOf(pickle('ccopy_reg\n_reconstructor\n(c__builtin__\nobject\nc__builtin__\nobject\nNtR.'))).to.match(
        /needs an allowlisted class, got the global builtins\.object/,
      );
    });

    it('refuses opcodes that run code, consult registries or are not needed', () => {
      expect(reasonOf(pickle('(ios\nsystem\n.'))).to.match(/^pickle opcode INST at offset 1 is not allowed/);
      expect(reasonOf(pickle('(o.'))).to.match(/^pickle opcode OBJ at offset 1 is not allowed/);
      expect(reasonOf(pickle('Pabc\n.'))).to.match(/^pickle opcode PERSID at offset 0 is not allowed/);
      expect(reasonOf(pickle('N\x51.'))).to.match(/BINPERSID at offset 1 is not allowed/);
      expect(reasonOf(pickle('\x80\x02\x82\x01.'))).to.match(/EXT1 at offset 2 is not allowed/);
      expect(reasonOf(pickle('F1.5\n.'))).to.equal('pickle opcode FLOAT at offset 0 is not supported: lando messages never contain it');
      expect(reasonOf(pickle('\x80\x03C\x01a.'))).to.match(/SHORT_BINBYTES at offset 2 is not supported/);
      expect(reasonOf(pickle('\x80\x02\xff.'))).to.equal('unknown pickle opcode 0xff at offset 2');
    });

    it('refuses NEWOBJ with constructor arguments or on a non-class', () => {
      expect(reasonOf(pickle('\x80\x02clando_messaging.workqueue\nWorkRequest\nK\x01\x85\x81.'))).to.match(/needs an empty argument tuple/);
      expect(reasonOf(pickle('\x80\x02K\x01)\x81.'))).to.match(/needs an allowlisted class, got the int 1/);
      expect(reasonOf(pickle('\x80\x04\x8c\x19lando_messaging.messaging\x8c\x0fStartJobPayload\x93)}\x8c\x01kK\x02s\x92.'))).to.match(/keyword arguments/);
    });

    it('refuses every truncation of a valid message', () => {
      const accepted: string[] = [];
      for (const fixture of pickleFixtures()) {
        for (let length = 0; length < fixture.bytes.length; length++) {
          try {
            load(fixture.bytes.subarray(0, length));
            accepted.push(`${fixture.name} cut at ${length} was accepted`);
          } catch (error) {
            if (!(error instanceof PickleDecodeError) || !error.reason.startsWith('truncated pickle: ')) {
              accepted.push(`${fixture.name} cut at ${length}: ${String(error)}`);
            }
          }
        }
      }
      expect(accepted).to.deep.equal([]);
    });

    it('names the missing bytes of a truncated operand', () => {
      expect(reasonOf(pickle('\x80\x02X\x2a\x00\x00\x00abc'))).to.equal('truncated pickle: BINUNICODE needs 42 bytes at offset 7');
      expect(reasonOf(pickle('\x80\x02X\xff\xff\xff\xff.'))).to.equal('truncated pickle: BINUNICODE needs 4294967295 bytes at offset 7');
      expect(reasonOf(pickle('\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff.'))).to.equal(
        'truncated pickle: BINUNICODE8 needs 18446744073709551615 bytes at offset 11',
      );
      expect(reasonOf(pickle('\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.'))).to.match(/^truncated pickle: FRAME needs 255 bytes/);
      expect(reasonOf(pickle('\x80\x02cos'))).to.match(/^truncated pickle: GLOBAL needs a newline-terminated argument/);
      expect(reasonOf(pickle('\x80\x02T\xff\xff\xff\xff.'))).to.match(/BINSTRING at offset 2 has a negative length -1/);
    });

    it('refuses trailing bytes after STOP', () => {
      expect(reasonOf(Buffer.concat([valid, Buffer.from('garbage')]))).to.equal(`pickle has 7 trailing bytes after STOP at offset ${valid.length}`);
    });

    it('refuses input over the size limit before reading it', () => {
      const oversized = Buffer.concat([pickle('\x80\x02'), Buffer.alloc(MAX_PICKLE_BYTES, 0x4e)]);
      expect(reasonOf(oversized)).to.equal(`pickle of ${MAX_PICKLE_BYTES + 2} bytes exceeds the limit of ${MAX_PICKLE_BYTES} bytes`);
    });

    it('refuses deep nesting of lists, tuples, dicts and MARKs', () => {
      expect(reasonOf(pickle('\x80\x02', ']'.repeat(100), 'a'.repeat(99), '.'))).to.match(
        new RegExp(`APPEND at offset \\d+ nests containers deeper than ${MAX_PICKLE_DEPTH} levels`),
      );
      expect(reasonOf(pickle('\x80\x02]', '\x85'.repeat(10_000), '.'))).to.equal(
        `pickle opcode TUPLE1 at offset ${3 + MAX_PICKLE_DEPTH - 1} nests containers deeper than ${MAX_PICKLE_DEPTH} levels`,
      );
      expect(reasonOf(pickle('\x80\x02', '('.repeat(10_000), '.'))).to.match(/MARK at offset 34 opens more than 32 nested MARKs/);
      const nestedDicts = pickle('\x80\x02', '}X\x01\x00\x00\x00k'.repeat(100), 'N', 's'.repeat(100), '.');
      expect(reasonOf(nestedDicts)).to.match(/SETITEM at offset \d+ nests containers deeper than 32 levels/);
      expect(load(pickle('\x80\x02', ']'.repeat(MAX_PICKLE_DEPTH), 'a'.repeat(MAX_PICKLE_DEPTH - 1), '.'))).to.be.an('array');
    });

    it('refuses pickles that would build too many objects', () => {
      expect(reasonOf(pickle('\x80\x02', ']'.repeat(10_000), 'a'.repeat(9_999), '.'))).to.equal(
        `pickle opcode EMPTY_LIST at offset ${2 + MAX_PICKLE_STACK} would hold more than ${MAX_PICKLE_STACK} values on the stack`,
      );
      expect(reasonOf(pickle('\x80\x02]', ']a'.repeat(MAX_PICKLE_CONTAINERS), '.'))).to.equal(
        `pickle opcode EMPTY_LIST at offset ${3 + 2 * (MAX_PICKLE_CONTAINERS - 1)} ` +
          `would create more than ${MAX_PICKLE_CONTAINERS} lists, tuples, dicts and instances`,
      );
      expect(load(pickle('\x80\x02]', ']a'.repeat(MAX_PICKLE_CONTAINERS - 1), '.'))).to.have.length(MAX_PICKLE_CONTAINERS - 1);
    });

    it('refuses recursive data', () => {
      expect(reasonOf(pickle('\x80\x02]q\x00h\x00a.'))).to.match(/APPEND at offset 7 puts a list inside itself/);
      expect(reasonOf(pickle('\x80\x02]q\x00]q\x01ah\x01h\x00a.'))).to.match(/modifies a list already nested in another value/);
      expect(reasonOf(pickle('\x80\x02}q\x00X\x01\x00\x00\x00kh\x00s.'))).to.match(/puts a dict inside itself/);
    });

    it('refuses memo misuse', () => {
      expect(reasonOf(pickle('\x80\x02h\x05.'))).to.equal('pickle opcode BINGET at offset 2 reads memo entry 5, which was never stored');
      expect(reasonOf(pickle('\x80\x02j\x00\x00\x01\x00.'))).to.match(/LONG_BINGET at offset 2 reads memo entry 65536/);
      expect(reasonOf(pickle('\x80\x02q\x00.'))).to.match(/BINPUT at offset 2 needs a value on the stack above the last MARK/);
      expect(reasonOf(pickle('\x80\x02N(q\x00.'))).to.match(/BINPUT at offset 4 needs a value on the stack above the last MARK/);
      expect(reasonOf(pickle('Np-1\n.'))).to.match(/PUT at offset 1 has memo index -1 out of range/);
      expect(reasonOf(pickle('Ngx\n.'))).to.match(/GET at offset 1 has a malformed or oversized integer x/);
    });

    it('refuses stack underflow and malformed structure', () => {
      expect(reasonOf(pickle('\x80\x02s.'))).to.match(/SETITEM at offset 2 needs 2 value\(s\) on the stack above the last MARK \(stack underflow\)/);
      expect(reasonOf(pickle('\x80\x02}K\x01u.'))).to.match(/SETITEMS at offset 5 has no matching MARK/);
      expect(reasonOf(pickle('\x80\x02}(K\x01u.'))).to.match(/SETITEMS at offset 6 needs key\/value pairs, got 1 items/);
      expect(reasonOf(pickle('\x80\x02}(K\x01K\x02u.'))).to.match(/has a dict key that is the int 1; only str keys are supported/);
      expect(reasonOf(pickle('\x80\x02)K\x01a.'))).to.match(/APPEND at offset 5 cannot append to a tuple/);
      expect(reasonOf(pickle('\x80\x02N(a.'))).to.match(/APPEND at offset 4 needs 1 value\(s\) on the stack above the last MARK/);
      expect(reasonOf(pickle('\x80\x02}}b.'))).to.match(/BUILD at offset 4 needs an instance below its state, got a dict/);
      expect(reasonOf(pickle('\x80\x02NN.'))).to.equal('pickle opcode STOP at offset 4 needs exactly one value on the stack, found 2');
      expect(reasonOf(pickle('\x80\x02.'))).to.equal('pickle opcode STOP at offset 2 needs exactly one value on the stack, found 0');
      expect(reasonOf(pickle('\x80\x02N(.'))).to.match(/STOP at offset 4 leaves 1 MARK\(s\) open/);
      expect(reasonOf(pickle('\x80\x06N.'))).to.match(/PROTO at offset 0 names unsupported protocol 6/);
      expect(reasonOf(pickle('N\x80\x02.'))).to.match(/PROTO at offset 1 is only allowed as the first opcode/);
      expect(reasonOf(pickle('\x80\x02X\x02\x00\x00\x00\xc3\x28.'))).to.match(/BINUNICODE at offset 2 has text that is not valid UTF-8/);
      expect(reasonOf(pickle('\x80\x02\x8a\xc8', Buffer.alloc(200), '.'))).to.match(/LONG1 at offset 2 has an integer of 200 bytes, more than 64/);
      expect(reasonOf(pickle(`I${'9'.repeat(200)}\n.`))).to.match(/INT at offset 0 has a malformed or oversized integer/);
      expect(reasonOf(pickle('Vbad \\u12\n.'))).to.match(/UNICODE at offset 0 has a truncated \\u12 escape/);
      expect(reasonOf(pickle('V\\U00110000\n.'))).to.match(/beyond Unicode/);
      expect(reasonOf(pickle("S'abc\n."))).to.match(/STRING at offset 0 needs a quoted argument/);
      expect(reasonOf(pickle("S'a\\x4'\n."))).to.match(/invalid \\x escape/);
      expect(reasonOf(pickle('S"a\\"\n.'))).to.match(/needs a quoted argument|lone backslash/);
    });

    it('refuses a payload built from opcodes Python never emits for it', () => {
      expect(reasonOf(envelopeAround(pickle('cos\nsystem\n')))).to.match(/^pickle refers to forbidden global os\.system at offset \d+$/);
    });

    it('throws only its own error for arbitrary bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          try {
            load(bytes);
          } catch (error) {
            return error instanceof PickleDecodeError && error.reason.length > 0;
          }
          return true;
        }),
        { numRuns: 3000 },
      );
    });

    it('throws only its own error for random opcode soup', () => {
      const structuralOpcodes = [...'()]}aeNstuKXqhjb\x85\x86\x87\x88\x89\x8a\x93\x94\x81\x92.Rc'].map((char) => char.charCodeAt(0));
      const opcodeSoup = fc
        .array(fc.oneof(fc.constantFrom(...structuralOpcodes), fc.integer({ min: 0, max: 255 })), { maxLength: 200 })
        .map((bytes) => Uint8Array.from([0x80, 0x02, ...bytes]));
      fc.assert(
        fc.property(opcodeSoup, (bytes) => {
          try {
            load(bytes);
          } catch (error) {
            return error instanceof PickleDecodeError && error.reason.length > 0;
          }
          return true;
        }),
        { numRuns: 3000 },
      );
    });
  });
});
