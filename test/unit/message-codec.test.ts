import { expect } from 'chai';
import fc from 'fast-check';

import {
  decodeMessage,
  encodeMessage,
  JSON_CONTENT_TYPE,
  MessageDecodeError,
  type MessageFormat,
} from '../../src/adapters/amqp/message-codec.js';
import { dumpPickle, type PickleObject, type PickleValue } from '../../src/adapters/amqp/pickle-codec.js';
import { LANDO_COMMANDS, MESSAGING_VERSION, type LandoCommandName, type LandoMessage } from '../../src/domain/commands.js';
import { PermanentError } from '../../src/domain/errors.js';
import { pickleFixtures, watcherSends, type PickleFixture } from '../support/pickle-fixtures.js';
import { pythonDump, pythonLoad, type PythonDumpRequest, type PythonValue } from '../support/pickle-python.js';

const MESSAGING = 'lando_messaging.messaging';
const JOB_ID_RULE = 'job_id must be a non-empty string of digits or a non-negative safe integer';
const ERROR_COMMANDS: readonly LandoCommandName[] = LANDO_COMMANDS.filter((command) => command.endsWith('_error'));

/** The payload class and attributes (in pickle order, values as the Python senders set them) per command. */
function expectedPayload(message: LandoMessage): { className: string; attributes: [string, PythonValue][] } {
  const { command, jobId } = message;
  const jobIdOnly = {
    start_job: 'StartJobPayload',
    restart_job: 'RestartJobPayload',
    cancel_job: 'CancelJobPayload',
    start_debug: 'StartDebugPayload',
    cancel_debug: 'CancelDebugPayload',
  } as const;
  if (command in jobIdOnly) return { className: jobIdOnly[command as keyof typeof jobIdOnly], attributes: [['job_id', jobId]] };
  if (command === 'store_job_output_complete') {
    return { className: 'JobStepStoreOutputCompletePayload', attributes: [['job_id', jobId], ['vm_instance_name', null], ['output_project_info', null]] };
  }
  if (command.endsWith('_complete')) return { className: 'JobStepCompletePayload', attributes: [['job_id', jobId], ['vm_instance_name', null]] };
  return { className: 'JobStepErrorPayload', attributes: [['job_id', jobId], ['vm_instance_name', null], ['message', message.message ?? null]] };
}

function messageOf(fixture: PickleFixture): LandoMessage {
  const { command, version, payload } = fixture.meaning;
  const jobId = payload['job_id'] as string | number;
  const base = { command: command as LandoCommandName, jobId, version };
  return typeof payload['message'] === 'string' ? { ...base, message: payload['message'] } : base;
}

function reasonOf(body: Buffer, contentType?: string): string {
  try {
    decodeMessage(body, contentType);
  } catch (error) {
    expect(error).to.be.instanceOf(MessageDecodeError);
    return (error as MessageDecodeError).reason;
  }
  return expect.fail(`body ${body.toString('hex')} was accepted`);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function instance(className: string, state: [string, PickleValue][]): PickleObject {
  return { kind: 'object', className, state: new Map(state) };
}

function workRequest(state: [string, PickleValue][], className = 'lando_messaging.workqueue.WorkRequest'): Buffer {
  return dumpPickle(instance(className, state));
}

const startPayload = instance(`${MESSAGING}.StartJobPayload`, [['job_id', '42']]);

/** A well-formed message for every command, with the job id kinds and log texts senders use. */
const SAMPLE_MESSAGES: LandoMessage[] = LANDO_COMMANDS.flatMap((command, index): LandoMessage[] => {
  const jobId = index % 3 === 0 ? index * 100_003 : String(index * 7);
  const message = ERROR_COMMANDS.includes(command) ? { message: `failed\n\tat step ${index} — é 中 🧬 "quoted" \\ \r\n` } : {};
  return [{ command, jobId, version: MESSAGING_VERSION, ...message }];
});

function isValidLandoMessage(message: LandoMessage): boolean {
  const jobIdOk = typeof message.jobId === 'string' ? /^[0-9]+$/.test(message.jobId) : Number.isSafeInteger(message.jobId) && message.jobId >= 0;
  const messageOk = ERROR_COMMANDS.includes(message.command) ? typeof message.message === 'string' : message.message === undefined;
  return (LANDO_COMMANDS as readonly string[]).includes(message.command) && jobIdOk && messageOk && message.version.split('.')[0] === '2';
}

describe('message codec', () => {
  describe('pickle (lando-messaging wire format)', () => {
    for (const fixture of pickleFixtures()) {
      it(`decodes ${fixture.name} and encodes its content back to the same bytes`, () => {
        const message = decodeMessage(fixture.bytes);
        expect(message).to.deep.equal(messageOf(fixture));
        const encoded = encodeMessage(message, 'pickle');
        expect(encoded.contentType).to.equal(undefined);
        expect(encoded.body.toString('hex')).to.equal(fixture.bytes.toString('hex'));
      });
    }

    it('decodes every message the original watcher sent and re-encodes it byte for byte', () => {
      const sends = watcherSends();
      expect(sends.length).to.be.greaterThan(0);
      for (const send of sends) {
        const message = decodeMessage(send.bytes);
        const expected: LandoMessage = {
          command: send.command as LandoCommandName,
          jobId: send.payload['job_id'] ?? '',
          version: send.version,
          ...(typeof send.payload['message'] === 'string' ? { message: send.payload['message'] } : {}),
        };
        expect(message, send.case).to.deep.equal(expected);
        expect(encodeMessage(message, 'pickle').body.toString('hex'), send.case).to.equal(send.bytes.toString('hex'));
      }
    });

    it('decodes the 2.1.0 debug commands', () => {
      const debug = pickleFixtures().filter((fixture) => fixture.name.includes('debug'));
      expect(debug.map((fixture) => decodeMessage(fixture.bytes))).to.deep.equal([
        { command: 'cancel_debug', jobId: '42', version: '2.1.0' },
        { command: 'start_debug', jobId: '42', version: '2.1.0' },
      ]);
    });

    it("writes what Python's unpickler loads as lando-messaging's classes and attributes", () => {
      const largestId: LandoMessage = { command: 'start_job', jobId: Number.MAX_SAFE_INTEGER, version: '2.0.1' };
      const messages = [...pickleFixtures().map(messageOf), ...SAMPLE_MESSAGES, largestId];
      const results = pythonLoad(messages.map((message) => encodeMessage(message, 'pickle').body));
      results.forEach((result, index) => {
        const message = messages[index] as LandoMessage;
        const payload = expectedPayload(message);
        expect(result, message.command).to.deep.equal({
          ok: true,
          value: {
            class: 'lando_messaging.workqueue.WorkRequest',
            attributes: [
              ['command', message.command],
              ['payload', { class: `${MESSAGING}.${payload.className}`, attributes: payload.attributes }],
              ['version', message.version],
            ],
          },
        });
      });
    });

    it('checks the encoder against an unpickler that refuses other globals', () => {
      const [hostile] = pythonLoad([Buffer.from("cos\nsystem\n(S'true'\ntR.", 'latin1')]);
      expect(hostile).to.deep.equal({ ok: false, error: 'UnpicklingError: forbidden global os.system' });
    });

    it('decodes what Python pickles at protocols 0 to 5 to the same message', () => {
      const requests = SAMPLE_MESSAGES.flatMap((message) =>
        [0, 1, 2, 3, 4, 5].map((protocol): PythonDumpRequest => {
          const payload = expectedPayload(message);
          return {
            protocol,
            command: message.command,
            payload_class: payload.className,
            payload: Object.fromEntries(payload.attributes) as PythonDumpRequest['payload'],
            version: message.version,
          };
        }),
      );
      const bodies = pythonDump(requests);
      bodies.forEach((body, index) => {
        const request = requests[index] as PythonDumpRequest;
        expect(decodeMessage(body), `${request.command} at protocol ${request.protocol}`).to.deep.equal(SAMPLE_MESSAGES[Math.floor(index / 6)]);
      });
      const protocol2 = bodies.filter((_, index) => requests[index]?.protocol === 2);
      const ours = SAMPLE_MESSAGES.map((message) => encodeMessage(message, 'pickle').body.toString('hex'));
      expect(protocol2.map((body) => body.toString('hex'))).to.deep.equal(ours);
    });

    it('refuses an envelope that is not a WorkRequest with exactly command, payload and version', () => {
      expect(reasonOf(dumpPickle(startPayload))).to.equal(
        `pickle must hold a lando_messaging.workqueue.WorkRequest, got an instance of ${MESSAGING}.StartJobPayload`,
      );
      expect(reasonOf(dumpPickle(new Map([['command', 'start_job']])))).to.equal('pickle must hold a lando_messaging.workqueue.WorkRequest, got a dict');
      expect(reasonOf(workRequest([['command', 'start_job'], ['payload', startPayload]]))).to.equal('WorkRequest attribute version is missing');
      expect(reasonOf(workRequest([['command', 'start_job'], ['payload', startPayload], ['version', '2.0.1'], ['extra', null]]))).to.equal(
        'unexpected WorkRequest attribute extra',
      );
      expect(reasonOf(workRequest([['command', 'start_job'], ['payload', new Map([['job_id', '42']])], ['version', '2.0.1']]))).to.equal(
        'WorkRequest payload must be a payload class instance, got a dict',
      );
    });

    it('refuses a payload class that does not match the command', () => {
      const cancelPayload = instance(`${MESSAGING}.CancelJobPayload`, [['job_id', '42']]);
      expect(reasonOf(workRequest([['command', 'start_job'], ['payload', cancelPayload], ['version', '2.0.1']]))).to.equal(
        `payload of start_job must be a ${MESSAGING}.StartJobPayload, got ${MESSAGING}.CancelJobPayload`,
      );
    });

    it('passes the pickle reader’s reason through for hostile bodies', () => {
      const osSystem = Buffer.from("cos\nsystem\n(S'echo pwned'\ntR.", 'latin1');
      expect(reasonOf(osSystem)).to.equal('pickle refers to forbidden global os.system at offset 0');
      expect(reasonOf(Buffer.from('not a pickle'))).to.match(/^unknown pickle opcode 0x6e at offset 0$/);
      expect(reasonOf(Buffer.alloc(0))).to.match(/^truncated pickle/);
    });
  });

  describe('JSON envelope', () => {
    for (const message of SAMPLE_MESSAGES) {
      it(`round-trips ${message.command} with job id ${JSON.stringify(message.jobId)}`, () => {
        const encoded = encodeMessage(message, 'json');
        expect(encoded.contentType).to.equal(JSON_CONTENT_TYPE);
        expect(decodeMessage(encoded.body, JSON_CONTENT_TYPE)).to.deep.equal(message);
      });
    }

    it('writes the documented shape', () => {
      const encoded = encodeMessage({ command: 'run_job_error', jobId: '42', message: 'pod log', version: '2.0.1' }, 'json');
      expect(encoded.body.toString('utf8')).to.equal('{"command":"run_job_error","payload":{"job_id":"42","message":"pod log"},"version":"2.0.1"}');
      expect(encodeMessage({ command: 'start_job', jobId: 7, version: '2.0.1' }, 'json').body.toString('utf8')).to.equal(
        '{"command":"start_job","payload":{"job_id":7},"version":"2.0.1"}',
      );
    });

    it('detects JSON by content type, ignoring case and parameters', () => {
      const body = json({ command: 'cancel_job', payload: { job_id: '9' }, version: '2.0.1' });
      for (const contentType of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', ' application/json ;q=1']) {
        expect(decodeMessage(body, contentType), contentType).to.deep.equal({ command: 'cancel_job', jobId: '9', version: '2.0.1' });
      }
      for (const contentType of [undefined, '', 'text/plain', 'application/jsonx', 'application/x-python-pickle']) {
        expect(reasonOf(body, contentType), String(contentType)).to.match(/pickle/);
      }
    });

    it('ignores payload members lando does not read', () => {
      const payload = '{"job_id":"5","vm_instance_name":null,"__proto__":{"polluted":true}}';
      const body = Buffer.from(`{"command":"stage_job_complete","payload":${payload},"version":"2.0.1"}`);
      expect(decodeMessage(body, JSON_CONTENT_TYPE)).to.deep.equal({ command: 'stage_job_complete', jobId: '5', version: '2.0.1' });
      expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    });

    const envelope = (command: unknown, payload: unknown, version: unknown = '2.0.1'): Buffer => json({ command, payload, version });
    const startJob = (payload: unknown): Buffer => envelope('start_job', payload);
    const invalid: [string, Buffer, string][] = [
      ['not JSON', Buffer.from('{"command":'), 'body is not UTF-8 JSON: '],
      ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'body is not UTF-8 JSON: '],
      ['an array', json([1, 2]), 'JSON envelope must be an object'],
      ['missing version', json({ command: 'start_job', payload: { job_id: '1' } }), 'JSON envelope member version is missing'],
      ['an extra member', json({ command: 'start_job', payload: { job_id: '1' }, version: '2.0.1', priority: 1 }), 'unexpected JSON envelope member priority'],
      ['a string payload', startJob('1'), 'JSON envelope payload must be an object, got the str 1'],
      ['a numeric command', envelope(1, { job_id: '1' }), 'command must be a string, got the int 1'],
      ['an unknown command', envelope('worker_started', { job_id: '1' }), 'unknown command: worker_started'],
      ['a missing job id', startJob({}), `payload of start_job: ${JOB_ID_RULE}, got nothing`],
      ['an empty job id', startJob({ job_id: '' }), `${JOB_ID_RULE}, got the str ""`],
      ['a job id with letters', startJob({ job_id: '4a' }), 'got the str 4a'],
      ['a job id with a newline', startJob({ job_id: '4\n' }), 'got the str "4\\n"'],
      ['a negative job id', startJob({ job_id: -1 }), 'got the int -1'],
      ['a fractional job id', startJob({ job_id: 1.5 }), 'got the number 1.5'],
      ['an unsafe job id', Buffer.from('{"command":"start_job","payload":{"job_id":9007199254740993},"version":"2.0.1"}'), 'got the number 9007199254740992'],
      ['a null job id', startJob({ job_id: null }), 'got null'],
      ['a boolean job id', startJob({ job_id: true }), 'got True'],
      ['an error without message', envelope('run_job_error', { job_id: '1' }), 'payload of run_job_error: message must be a string, got nothing'],
      ['an error with a non-string message', envelope('run_job_error', { job_id: '1', message: ['x'] }), 'message must be a string, got a list'],
      ['a numeric version', envelope('start_job', { job_id: '1' }, 2), 'version must be a string, got the int 2'],
    ];
    for (const [what, body, reason] of invalid) {
      it(`refuses ${what}`, () => {
        expect(reasonOf(body, JSON_CONTENT_TYPE)).to.contain(reason);
      });
    }

    it('refuses an oversized body', () => {
      expect(reasonOf(Buffer.alloc(1024 * 1024 + 1, 0x20), JSON_CONTENT_TYPE)).to.match(/exceeds the limit of 1048576 bytes/);
    });
  });

  describe('version rule (messages.md §7)', () => {
    const formats: MessageFormat[] = ['pickle', 'json'];
    for (const format of formats) {
      const contentType = format === 'json' ? JSON_CONTENT_TYPE : undefined;
      const bodyWithVersion = (version: string): Buffer =>
        format === 'json'
          ? json({ command: 'start_job', payload: { job_id: '1' }, version })
          : workRequest([['command', 'start_job'], ['payload', startPayload], ['version', version]]);

      it(`accepts any version with major 2 (${format})`, () => {
        for (const version of ['2.0.1', '2.0.0', '2.1.0', '2', '2.99.0-beta', '2.']) {
          expect(decodeMessage(bodyWithVersion(version), contentType).version, version).to.equal(version);
        }
      });

      it(`refuses another major version with a reason, never a crash (${format})`, () => {
        expect(reasonOf(bodyWithVersion('3.0.0'), contentType)).to.equal('major version mismatch: message 3.0.0, local 2.0.1');
        expect(reasonOf(bodyWithVersion('1.9.9'), contentType)).to.equal('major version mismatch: message 1.9.9, local 2.0.1');
        expect(reasonOf(bodyWithVersion('20.0.0'), contentType)).to.equal('major version mismatch: message 20.0.0, local 2.0.1');
        expect(reasonOf(bodyWithVersion(''), contentType)).to.equal('major version mismatch: message "", local 2.0.1');
        expect(reasonOf(bodyWithVersion(' 2.0'), contentType)).to.equal('major version mismatch: message " 2.0", local 2.0.1');
      });
    }

    it('checks the version before the command, as Python lando does', () => {
      expect(reasonOf(json({ command: 'future_command', payload: {}, version: '3.0.0' }), JSON_CONTENT_TYPE)).to.match(/^major version mismatch/);
    });
  });

  describe('encoding', () => {
    it('drops a message on commands whose payload has no such attribute', () => {
      const encoded = encodeMessage({ command: 'start_job', jobId: '1', message: 'ignored', version: '2.0.1' }, 'pickle');
      expect(decodeMessage(encoded.body)).to.deep.equal({ command: 'start_job', jobId: '1', version: '2.0.1' });
      expect(encoded.body.toString('latin1')).not.to.contain('ignored');
    });

    it('refuses content the receiver would reject', () => {
      const encode = (message: LandoMessage, format: MessageFormat) => (): unknown => encodeMessage(message, format);
      expect(encode({ command: 'run_job_error', jobId: '1', version: '2.0.1' }, 'pickle')).to.throw(
        PermanentError,
        'cannot encode run_job_error: message must be a string, got nothing',
      );
      expect(encode({ command: 'start_job', jobId: -3, version: '2.0.1' }, 'json')).to.throw(PermanentError, `${JOB_ID_RULE}, got the int -3`);
      expect(encode({ command: 'nope' as LandoCommandName, jobId: '1', version: '2.0.1' }, 'pickle')).to.throw(
        PermanentError,
        'cannot encode nope: unknown command',
      );
    });
  });

  describe('hostile input', () => {
    const fixtures = pickleFixtures().map((fixture) => fixture.bytes);

    /** One edit of a body: flip a byte, insert bytes, delete a range, or splice in part of another fixture. */
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
      fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), from: fc.nat(), source: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
    );
    type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

    function mutate(body: Buffer, edit: Mutation): Buffer {
      const at = body.length === 0 ? 0 : edit.at % (body.length + 1);
      switch (edit.kind) {
        case 'flip': {
          const copy = Buffer.from(body);
          if (copy.length > 0) copy[at % copy.length] = edit.value;
          return copy;
        }
        case 'insert':
          return Buffer.concat([body.subarray(0, at), edit.bytes, body.subarray(at)]);
        case 'delete':
          return Buffer.concat([body.subarray(0, at), body.subarray(at + edit.length)]);
        case 'splice': {
          const source = fixtures[edit.source % fixtures.length] ?? Buffer.alloc(0);
          const from = edit.from % source.length;
          return Buffer.concat([body.subarray(0, at), source.subarray(from, from + edit.length), body.subarray(at + edit.length)]);
        }
      }
    }

    function decodesOrRefuses(body: Buffer, contentType?: string): boolean {
      try {
        return isValidLandoMessage(decodeMessage(body, contentType));
      } catch (error) {
        return error instanceof MessageDecodeError && error.reason.length > 0;
      }
    }

    it('either decodes a valid message or refuses with a reason, for mutated fixtures', () => {
      const mutated = fc
        .tuple(fc.nat({ max: fixtures.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([index, edits]) => edits.reduce(mutate, fixtures[index] ?? Buffer.alloc(0)));
      fc.assert(fc.property(mutated, (body) => decodesOrRefuses(body)), { numRuns: 4000 });
    });

    it('either decodes a valid message or refuses with a reason, for mutated JSON envelopes', () => {
      const envelopes = SAMPLE_MESSAGES.map((message) => encodeMessage(message, 'json').body);
      const mutated = fc
        .tuple(fc.nat({ max: envelopes.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([index, edits]) => edits.reduce(mutate, envelopes[index] ?? Buffer.alloc(0)));
      fc.assert(fc.property(mutated, (body) => decodesOrRefuses(body, JSON_CONTENT_TYPE)), { numRuns: 1000 });
    });

    it('refuses random bytes with a reason', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => decodesOrRefuses(Buffer.from(bytes))), { numRuns: 2000 });
    });
  });
});
