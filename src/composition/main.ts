import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { isStepType } from '../domain/job-codes.js';
import { ConfigError } from './config.js';
import { createLogger, type LogLevel } from './logger.js';
import { runSandbox, sandboxSucceeded } from './sandbox.js';

/** Exit status for a command line or configuration the service cannot use. */
const USAGE_ERROR = 2;

class UsageError extends Error {}

const USAGE = `usage:
  npm start                                   the sandbox: lando, the watcher, a simulated cluster and bespin-api
  npm start -- --role=sandbox [--jobs N] [--step-ms MS] [--fail-step STEP] [--timeout-s S] [--log-level LEVEL]
  npm start -- --role=lando --config FILE     the command processor
  npm start -- --role=watcher --config FILE   the cluster watcher
STEP is one of stage_data, run_workflow, organize_output, save_output, record_output_project.`;

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      role: { type: 'string', default: 'sandbox' },
      config: { type: 'string' },
      jobs: { type: 'string', default: '3' },
      'step-ms': { type: 'string', default: '150' },
      'fail-step': { type: 'string' },
      'timeout-s': { type: 'string', default: '60' },
      'log-level': { type: 'string', default: 'error' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  switch (values.role) {
    case 'sandbox': {
      const failStep = values['fail-step'];
      if (failStep !== undefined && !isStepType(failStep)) throw new UsageError(`--fail-step must name a step, got ${JSON.stringify(failStep)}`);
      const results = await runSandbox({
        jobs: positiveInteger('--jobs', values.jobs),
        stepMs: positiveInteger('--step-ms', values['step-ms'], 0),
        timeoutMs: positiveInteger('--timeout-s', values['timeout-s']) * 1000,
        ...(failStep === undefined ? {} : { failStep }),
        logger: createLogger({ name: 'lando-k8s-sandbox', level: logLevel(values['log-level']), secrets: [], stream: process.stderr }),
        out: process.stdout,
      });
      return sandboxSucceeded(results) ? 0 : 1;
    }
    case 'lando':
    case 'watcher':
      throw new UsageError(`--role=${values.role} needs the RabbitMQ, Kubernetes and bespin-api adapters, which are not wired in yet`);
    default:
      throw new UsageError(`unknown --role ${JSON.stringify(values.role)}`);
  }
}

function positiveInteger(flag: string, text: string, minimum = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) throw new UsageError(`${flag} must be a whole number of at least ${minimum}, got ${JSON.stringify(text)}`);
  return value;
}

function logLevel(text: string): LogLevel {
  const levels: readonly string[] = ['debug', 'info', 'warn', 'error', 'fatal'];
  if (!levels.includes(text)) throw new UsageError(`--log-level must be one of ${levels.join(', ')}, got ${JSON.stringify(text)}`);
  return text as LogLevel;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`lando-k8s: ${error.message}\n`);
      if (!(error instanceof ConfigError)) process.stderr.write(`${USAGE}\n`);
      process.exitCode = USAGE_ERROR;
      return;
    }
    process.stderr.write(`lando-k8s: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
