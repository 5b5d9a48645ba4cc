import { Writable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { loadConfig } from '../../src/composition/config.js';
import { CONFIG_SCHEMA, forEachSetting } from '../../src/composition/config-schema.js';
import { createLogger, REDACTED, secretsOf, type LogLevel } from '../../src/composition/logger.js';
import type { Logger } from '../../src/ports/logger.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));

type LogRecord = Record<string, unknown>;

/** A logger writing into memory; `lines()` are the raw lines, `records()` parses them. */
function memoryLogger(secrets: readonly string[], level: LogLevel = 'debug') {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ name: 'lando-test', level, secrets, stream });
  const lines = (): string[] => chunks.join('').split('\n').filter((line) => line !== '');
  const records = (): LogRecord[] => lines().map((line) => JSON.parse(line) as LogRecord);
  return { logger, lines, records };
}

const TOKEN = 'tok-4f2a9c1e';

describe('createLogger', () => {
  it('writes one JSON record per call with the fields and message', () => {
    const { logger, records } = memoryLogger([]);
    logger.info({ jobId: 42, step: 'stage' }, 'staging data');
    expect(records()).to.have.length(1);
    expect(records()[0]).to.include({ name: 'lando-test', level: 30, jobId: 42, step: 'stage', msg: 'staging data' });
  });

  it('satisfies the Logger port, children included', () => {
    const { logger, records } = memoryLogger([]);
    const port: Logger = logger;
    port.child({ jobId: 7 }).warn({ attempt: 2 }, 'retrying');
    expect(records()[0]).to.include({ jobId: 7, attempt: 2, level: 40, msg: 'retrying' });
  });

  describe('levels', () => {
    function loggedLevels(level: LogLevel): unknown[] {
      const { logger, records } = memoryLogger([], level);
      logger.debug({}, 'd');
      logger.info({}, 'i');
      logger.warn({}, 'w');
      logger.error({}, 'e');
      return records().map((record) => record.msg);
    }

    it('drops what is below the configured level', () => {
      expect(loggedLevels('warn')).to.deep.equal(['w', 'e']);
      expect(loggedLevels('error')).to.deep.equal(['e']);
      expect(loggedLevels('fatal')).to.deep.equal([]);
    });

    it('writes everything at debug', () => {
      expect(loggedLevels('debug')).to.deep.equal(['d', 'i', 'w', 'e']);
    });
  });

  describe('redaction', () => {
    it('redacts a secret in the message', () => {
      const { logger, lines, records } = memoryLogger([TOKEN]);
      logger.info({}, `using token ${TOKEN} for bespin`);
      expect(lines()[0]).not.to.include(TOKEN);
      expect(records()[0]?.msg).to.equal(`using token ${REDACTED} for bespin`);
    });

    it('redacts a secret in fields at any depth, in lists and in key names', () => {
      const { logger, lines, records } = memoryLogger([TOKEN]);
      logger.info(
        { request: { headers: { authorization: `Token ${TOKEN}` }, tries: [`a${TOKEN}`, 'b'] }, [TOKEN]: 1 },
        'request',
      );
      expect(lines()[0]).not.to.include(TOKEN);
      expect(records()[0]).to.deep.include({
        request: { headers: { authorization: `Token ${REDACTED}` }, tries: [`a${REDACTED}`, 'b'] },
        [REDACTED]: 1,
      });
    });

    it("redacts a secret in a serialized error's message and stack", () => {
      const { logger, lines, records } = memoryLogger([TOKEN]);
      logger.error({ err: new Error(`401 for token ${TOKEN}`) }, 'bespin call failed');
      expect(lines()[0]).not.to.include(TOKEN);
      const err = records()[0]?.err as { message: string; stack: string };
      expect(err.message).to.equal(`401 for token ${REDACTED}`);
      expect(err.stack).to.match(/^Error: 401 for token \[REDACTED\]\n\s+at /);
    });

    it("redacts in a child logger's bound fields and messages", () => {
      const { logger, lines, records } = memoryLogger([TOKEN]);
      logger.child({ connection: `amqp://lando:${TOKEN}@rabbitmq` }).warn({}, `reconnecting with ${TOKEN}`);
      expect(lines()[0]).not.to.include(TOKEN);
      expect(records()[0]).to.include({
        connection: `amqp://lando:${REDACTED}@rabbitmq`,
        msg: `reconnecting with ${REDACTED}`,
      });
    });

    it('redacts the URL-encoded form of a secret', () => {
      const { logger, lines } = memoryLogger(['p@ss word']);
      logger.info({ url: 'amqp://lando:p%40ss%20word@rabbitmq' }, 'connecting');
      expect(lines()[0]).not.to.include('p%40ss%20word');
      expect(lines()[0]).to.include(`amqp://lando:${REDACTED}@rabbitmq`);
    });

    it('keeps the line valid JSON whatever the secret looks like', () => {
      const secrets = ['quo"te\\back', '31415926', 'true'];
      const { logger, lines, records } = memoryLogger(secrets);
      logger.info({ text: 'a quo"te\\back b', number: 314159265, flag: true }, 'odd secrets');
      expect(records()[0]).to.include({ text: `a ${REDACTED} b`, number: REDACTED, flag: REDACTED });
      for (const secret of secrets) expect(lines()[0]).not.to.include(JSON.stringify(secret).slice(1, -1));
    });

    it('replaces a secret that contains another one whole', () => {
      const { logger, records } = memoryLogger(['abc', 'xxabcxx']);
      logger.info({}, 'say xxabcxx and abc');
      expect(records()[0]?.msg).to.equal(`say ${REDACTED} and ${REDACTED}`);
    });

    it('leaves lines alone when there are no secrets, and ignores empty ones', () => {
      const { logger, records } = memoryLogger(['']);
      logger.info({ password: 'visible' }, 'nothing to hide');
      expect(records()[0]).to.include({ password: 'visible', msg: 'nothing to hide' });
    });
  });
});

describe('secretsOf', () => {
  it('lists the passwords and tokens of a configuration', () => {
    const config = loadConfig(join(FIXTURES, 'complete-0.11.3.yaml'), {});
    expect(secretsOf(config)).to.have.members([
      's3cret',
      's3cret2',
      'eyJhbGciOi...',
      '0123456789abcdef0123456789abcdef01234567',
    ]);
  });

  it('leaves out secrets that are not set', () => {
    const config = loadConfig(join(FIXTURES, 'minimal.yaml'), {});
    expect(secretsOf(config)).to.have.members(['minimal-amqp-password', 'minimal-bespin-token']);
  });

  it('covers every setting the schema marks sensitive', () => {
    const env: Record<string, string> = {};
    forEachSetting(CONFIG_SCHEMA, (path, spec) => {
      if (spec.sensitive && spec.env !== undefined) env[spec.env] = `secret-of-${path}`;
    });
    const config = loadConfig(join(FIXTURES, 'complete-0.11.3.yaml'), env);
    expect(secretsOf(config)).to.have.members(Object.values(env));
  });
});
