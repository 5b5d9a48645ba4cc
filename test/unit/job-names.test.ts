import assert from 'node:assert/strict';

import fc from 'fast-check';

import { InvalidJobError } from '../../src/domain/errors.js';
import {
  isDnsLabel,
  isValidLabelValue,
  jobNames,
  labelValue,
  podTemplateName,
  type JobNames,
} from '../../src/domain/job-names.js';

function kubernetesNames(names: JobNames): string[] {
  return [
    names.stagePvc,
    names.outputPvc,
    names.stageData,
    names.runWorkflow,
    names.organizeOutput,
    names.saveOutput,
    names.recordOutputProject,
    names.dataStoreVolume,
    names.systemDataVolume,
  ];
}

const NAME_PREFIXES = [
  'job-data-',
  'output-data-',
  'stage-data-',
  'run-workflow-',
  'organize-output-',
  'save-output-',
  'record-output-project-',
  'data-store-',
  'system-data-',
];

/** Written independently of the module under test, from the Kubernetes validation rules. */
function isRfc1123Label(name: string): boolean {
  return name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name);
}

function isInvalidJob(message: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof InvalidJobError && message.test(error.message);
}

/** The original's suffix (kubernetes.md §2). */
function originalSuffix(jobId: number, username: string): string {
  return `${jobId}-${username.split('@')[0]}`;
}

function cleanedUserPart(username: string): string {
  return (username.split('@')[0] ?? '')
    .toLowerCase()
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

const jobId = fc.integer({ min: 0, max: 2 ** 31 });

const usernameUnit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789') },
  { weight: 1, arbitrary: fc.constantFrom('@', '.', '_', '-', 'A', 'Z', 'É', 'ß', 'İ', 'ﬁ', '😀', ' ', '+') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);
const username = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), minLength: 1, maxLength: 45 }),
  fc.string({ unit: usernameUnit, maxLength: 30 }),
  fc.string({ unit: usernameUnit, minLength: 30, maxLength: 120 }),
  fc.string({ unit: usernameUnit, maxLength: 20 }).map((rest) => `@${rest}`),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

describe('jobNames', () => {
  it('uses the original names when they are valid', () => {
    const names = jobNames(42, 'jdoe12@duke.edu');
    assert.deepEqual(names, {
      suffix: '42-jdoe12',
      stagePvc: 'job-data-42-jdoe12',
      outputPvc: 'output-data-42-jdoe12',
      stageData: 'stage-data-42-jdoe12',
      runWorkflow: 'run-workflow-42-jdoe12',
      organizeOutput: 'organize-output-42-jdoe12',
      saveOutput: 'save-output-42-jdoe12',
      recordOutputProject: 'record-output-project-42-jdoe12',
      dataStoreVolume: 'data-store-42-jdoe12',
      systemDataVolume: 'system-data-42-jdoe12',
      usageReportPath: '/bespin/output-data/job-42-jdoe12-resource-usage.json',
    });
    assert.equal(jobNames(123, 'tom@tom.com').stagePvc, 'job-data-123-tom');
    assert.equal(jobNames(51, 'jpb').suffix, '51-jpb');
    assert.equal(podTemplateName(names.stageData), 'stage-data-42-jdoe12spec');
  });

  it('keeps the original suffix up to the 63-character limit of the longest name', () => {
    const longest = `a${'b'.repeat(37)}`;
    assert.equal(jobNames(42, `${longest}@x`).recordOutputProject, `record-output-project-42-${longest}`);
    assert.equal(`record-output-project-42-${longest}`.length, 63);
    const tooLong = `${longest}c`;
    const names = jobNames(42, `${tooLong}@x`);
    assert.notEqual(names.suffix, `42-${tooLong}`);
    assert.ok(names.recordOutputProject.length <= 63);
  });

  it('sanitizes names Kubernetes would refuse (W8, W9)', () => {
    const names = jobNames(42, 'Jane.Doe_2@x');
    assert.match(names.suffix, /^42-jane-doe-2-[0-9a-f]{8}$/);
    assert.match(jobNames(42, 'José@x').suffix, /^42-jose-[0-9a-f]{8}$/);
    assert.match(jobNames(42, '@duke.edu').suffix, /^42-[0-9a-f]{8}$/);
    assert.match(jobNames(42, '___').suffix, /^42-[0-9a-f]{8}$/);
    const long = jobNames(2147483648, `${'x'.repeat(200)}@duke.edu`);
    assert.match(long.suffix, /^2147483648-x+-[0-9a-f]{8}$/);
    assert.equal(long.recordOutputProject.length, 63);
  });

  it('refuses a job id that cannot name objects', () => {
    assert.throws(() => jobNames(-1, 'jdoe'), isInvalidJob(/got -1$/));
    assert.throws(() => jobNames(1.5, 'jdoe'), isInvalidJob(/got 1\.5$/));
  });

  it('always derives valid, deterministic DNS-1123 labels', () => {
    fc.assert(
      fc.property(jobId, username, (id, user) => {
        const names = jobNames(id, user);
        for (const name of kubernetesNames(names)) {
          assert.equal(isRfc1123Label(name), true, name);
          assert.equal(isDnsLabel(name), true, name);
        }
        assert.equal(names.suffix.startsWith(`${id}-`), true);
        assert.deepEqual(jobNames(id, user), names);
      }),
      { numRuns: 3000 },
    );
  });

  it('is identical to the original whenever the original is valid', () => {
    fc.assert(
      fc.property(jobId, username, (id, user) => {
        const original = originalSuffix(id, user);
        const originalValid = NAME_PREFIXES.every((prefix) => isRfc1123Label(`${prefix}${original}`));
        assert.equal(jobNames(id, user).suffix === original, originalValid);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives different jobs different names', () => {
    fc.assert(
      fc.property(jobId, jobId, username, username, (id1, id2, user1, user2) => {
        fc.pre(id1 !== id2);
        const first = kubernetesNames(jobNames(id1, user1));
        const second = new Set(kubernetesNames(jobNames(id2, user2)));
        for (const name of first) assert.equal(second.has(name), false, name);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives usernames that differ after cleaning different names for the same job', () => {
    fc.assert(
      fc.property(jobId, username, username, (id, user1, user2) => {
        fc.pre(cleanedUserPart(user1) !== cleanedUserPart(user2));
        assert.notEqual(jobNames(id, user1).suffix, jobNames(id, user2).suffix);
      }),
      { numRuns: 3000 },
    );
  });

  it('tells apart usernames that clean alike', () => {
    const variants = ['Jane.Doe', 'jane_doe', 'JANE-DOE', 'Jane Doe', 'jane..doe'];
    const suffixes = variants.map((user) => jobNames(42, user).suffix);
    assert.equal(new Set(suffixes).size, variants.length);
    for (const suffix of suffixes) assert.match(suffix, /^42-jane-doe(-[0-9a-f]{8})?$/);
  });
});

describe('labelValue', () => {
  it('keeps valid label values unchanged', () => {
    for (const value of ['', '42', 'lando-prod', 'My_Value.1', 'a'.repeat(63)]) {
      assert.equal(labelValue(value), value);
    }
  });

  it('turns anything else into a valid, deterministic value', () => {
    assert.match(labelValue('lando prod!'), /^lando-prod-[0-9a-f]{8}$/);
    assert.match(labelValue('-edge-'), /^edge-[0-9a-f]{8}$/);
    assert.match(labelValue('!!!'), /^[0-9a-f]{8}$/);
    assert.equal(labelValue('a'.repeat(64)).length, 63);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (text) => {
        const value = labelValue(text);
        assert.ok(value.length <= 63);
        assert.match(value, /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
        assert.equal(isValidLabelValue(value), true, value);
        assert.equal(labelValue(text), value);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps distinct texts distinct', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (first, second) => {
        fc.pre(first !== second);
        assert.notEqual(labelValue(first), labelValue(second));
      }),
      { numRuns: 2000 },
    );
  });
});
