/**
 * The Dockerfile, without a Docker daemon: dockerfile-utils (the linter behind the Docker
 * language server) checks its syntax and instructions, and the checks below hold it to what
 * the image must be: a pinned base, production dependencies only, the compiled entry point,
 * a non-root user, and defaults that agree with deploy/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DockerfileParser, ModifiableInstruction, type Instruction } from 'dockerfile-ast';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { parse } from 'yaml';
import { startHealthServer } from '../../src/composition/health-server.js';
import { deployedObjects, exampleConfigText, findObject, listAt, isRecord } from '../support/deploy-manifests.js';
import { MemoryLogger } from '../support/memory-logger.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY_SOURCE = 'src/composition/main.ts';

/** Every rule the linter can be asked for, as an error. */
const STRICTEST: Required<ValidatorSettings> = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

interface Stage {
  readonly name: string;
  readonly image: string;
  readonly instructions: readonly Instruction[];
}

/** The build stages in order, each with the instructions after its FROM. */
function stagesOf(text: string): Stage[] {
  const stages: { name: string; image: string; instructions: Instruction[] }[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const [image = '', as, name = ''] = (instruction.getArgumentsContent() ?? '').split(/\s+/);
      assert.ok(as === undefined || as.toUpperCase() === 'AS', `line ${lineOf(instruction)}: FROM ${image} ${as}`);
      stages.push({ name, image, instructions: [] });
    } else {
      const stage = stages.at(-1);
      assert.ok(stage !== undefined, `line ${lineOf(instruction)}: ${instruction.getKeyword()} before any FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

function lineOf(instruction: Instruction): number {
  return instruction.getRange().start.line + 1;
}

function argumentsOf(instruction: Instruction): string {
  return instruction.getArgumentsContent() ?? '';
}

function withKeyword(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.getKeyword() === keyword);
}

/** The exec-form (JSON) arguments of an instruction; shell form is refused, since signals would go to a shell. */
function execForm(text: string, where: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    assert.fail(`${where} must use the exec form ["...", ...], got ${text}`);
  }
  assert.ok(Array.isArray(value) && value.every((item) => typeof item === 'string'), `${where} must be a JSON list of text`);
  return value as string[];
}

function onlyInstruction(stage: Stage, keyword: string): Instruction {
  const found = withKeyword(stage, keyword);
  assert.equal(found.length, 1, `the ${stage.name} stage must have exactly one ${keyword}`);
  return found[0] as Instruction;
}

/** The stage a COPY takes its files from, or undefined when it takes them from the build context. */
function copiedFrom(copy: Instruction): string | undefined {
  if (!(copy instanceof ModifiableInstruction)) return undefined;
  return copy.getFlags().find((flag) => flag.getName() === 'from')?.getValue() ?? undefined;
}

/** The sources the COPYs take from the build context. */
function contextSources(stages: readonly Stage[]): string[] {
  return stages.flatMap((stage) =>
    withKeyword(stage, 'COPY')
      .filter((copy) => copiedFrom(copy) === undefined)
      .flatMap((copy) => argumentsOf(copy).split(/\s+/).slice(0, -1)),
  );
}

/** The health port the example configuration sets (deploy/lando-config.example.yaml). */
function exampleHealthPort(): number {
  const config: unknown = parse(exampleConfigText());
  assert.ok(isRecord(config) && typeof config['health_port'] === 'number', 'the example configuration sets no health_port');
  return config['health_port'];
}

describe('Dockerfile', () => {
  let text: string;
  let stages: Stage[];
  let runtime: Stage;

  before(() => {
    text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    stages = stagesOf(text);
    const last = stages.at(-1);
    assert.ok(last !== undefined, 'the Dockerfile has no FROM');
    runtime = last;
  });

  it('passes the linter with every rule it offers set to error', () => {
    const problems = validate(text, STRICTEST).map((problem) => `line ${problem.range.start.line + 1}: ${problem.message}`);
    assert.deepEqual(problems, []);
  });

  it('has a linter that finds mistakes, so the check above can fail', () => {
    const broken = 'FROM node:20\nMAINTAINER someone\nworkdir relative\nHEALTHCHECK --interval=3x CMD node\n';
    const messages = validate(broken, STRICTEST).map((problem) => problem.message);
    assert.equal(messages.length, 4, `the linter found ${JSON.stringify(messages)}`);
  });

  it('builds every stage on one Node 20 slim image pinned to a patch release', () => {
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage are expected');
    const images = new Set(stages.map((stage) => stage.image));
    assert.equal(images.size, 1, `the stages use different images: ${[...images].join(', ')}`);
    assert.match([...images][0] as string, /^node:20\.\d+\.\d+-bookworm-slim$/);
  });

  it('builds with the lockfile, then installs production dependencies only in the runtime stage', () => {
    const [build] = stages;
    assert.ok(build !== undefined);
    const buildRuns = withKeyword(build, 'RUN').map(argumentsOf);
    assert.ok(buildRuns.some((run) => /\bnpm ci\b/.test(run)), 'the build stage must install with npm ci');
    assert.ok(buildRuns.some((run) => /\bnpm run build\b/.test(run)), 'the build stage must run npm run build');
    const runtimeRuns = withKeyword(runtime, 'RUN').map(argumentsOf);
    assert.ok(runtimeRuns.some((run) => /\bnpm ci\b.*--omit=dev\b/.test(run)), 'the runtime stage must install with npm ci --omit=dev');
    assert.ok(!runtimeRuns.some((run) => /\bnpm (install|i)\b/.test(run)), 'npm install ignores the lockfile');
    const copied = withKeyword(runtime, 'COPY').filter((copy) => copiedFrom(copy) === build.name);
    assert.ok(copied.some((copy) => /\/dist\b/.test(argumentsOf(copy))), 'the runtime stage must copy the compiled dist/ from the build stage');
  });

  it('runs the compiled entry point as the image\'s non-root node user', () => {
    const users = withKeyword(runtime, 'USER').map(argumentsOf);
    assert.equal(users.at(-1), 'node');
    const entrypoint = execForm(argumentsOf(onlyInstruction(runtime, 'ENTRYPOINT')), 'ENTRYPOINT');
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    const compiled = posix.join(tsconfig.compilerOptions.outDir, relative(join(ROOT, tsconfig.compilerOptions.rootDir), join(ROOT, ENTRY_SOURCE))).replace(/\.ts$/, '.js');
    assert.ok(existsSync(join(ROOT, ENTRY_SOURCE)));
    assert.deepEqual(entrypoint, ['node', compiled]);
  });

  it('starts the lando role with the configuration deploy/ mounts, as the lando Deployment does', () => {
    const command = execForm(argumentsOf(onlyInstruction(runtime, 'CMD')), 'CMD');
    const lando = findObject(deployedObjects(), 'Deployment', 'lando');
    const [container] = listAt(lando, 'spec.template.spec.containers');
    assert.ok(isRecord(container));
    assert.deepEqual(command, container['args']);
  });

  it('exposes and checks the health port of the example configuration, with node itself', async () => {
    const port = exampleHealthPort();
    assert.deepEqual(withKeyword(runtime, 'EXPOSE').map(argumentsOf), [String(port)]);
    const healthcheck = argumentsOf(onlyInstruction(runtime, 'HEALTHCHECK'));
    const commandText = healthcheck.replace(/^(--\S+\s+)*CMD\s+/, '');
    const command = execForm(commandText, 'HEALTHCHECK CMD');
    assert.equal(command[0], 'node', 'slim images have no curl or wget');
    const url = `http://127.0.0.1:${port}/healthz`;
    assert.ok(command.some((arg) => arg.includes(url)), `the health check must ask ${url}`);

    // The command itself works: exit 0 while /healthz answers, 1 once nothing listens.
    const server = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      metrics: { contentType: 'text/plain', metricsText: async () => '' },
      readiness: () => ({ checks: {} }),
      logger: new MemoryLogger(),
    });
    const [program = '', ...args] = command.map((arg) => arg.replace(url, `http://127.0.0.1:${server.port}/healthz`));
    const run = () => promisify(execFile)(program === 'node' ? process.execPath : program, args).then(() => 0, (error: { code?: number }) => error.code);
    try {
      assert.equal(await run(), 0);
    } finally {
      await server.close();
    }
    assert.equal(await run(), 1);
  });

  it('has a .dockerignore that lets into the build context only what the Dockerfile copies from it', () => {
    const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
    assert.equal(patterns[0], '*', '.dockerignore must start by leaving everything out');
    const allowed = patterns.slice(1).map((pattern) => {
      assert.ok(pattern.startsWith('!'), `.dockerignore: ${pattern} comes after "*", so only exceptions (!path) make sense`);
      return posix.normalize(pattern.slice(1)).replace(/\/$/, '');
    });
    const copied = contextSources(stages).map((source) => posix.normalize(source).replace(/\/$/, ''));
    assert.deepEqual([...new Set(allowed)].sort(), [...new Set(copied)].sort());
  });
});
