import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { isStepType } from '../domain/job-codes.js';
import { PrometheusMetrics } from '../adapters/prometheus/prometheus-metrics.js';
import { CLIENT_USAGE, ClientInputError, ClientUsageError, runClient } from './client-role.js';
import { ConfigError, loadConfig, type AppConfig } from './config.js';
import { createLogger, secretsOf, type LogLevel } from './logger.js';
import { startHealthServer } from './health-server.js';
import { installShutdown, type NamedService } from './shutdown.js';
import { runSandbox, sandboxSucceeded } from './sandbox.js';

/** Exit status for a command line or configuration the service cannot use. */
const USAGE_ERROR = 2;

class UsageError extends Error {}

const USAGE = `usage:
  npm start                                   the sandbox: lando, the watcher, a simulated cluster and bespin-api
  npm start -- --role=sandbox [--jobs N] [--step-ms MS] [--fail-step STEP] [--timeout-s S] [--log-level LEVEL] [--with-servers]
  npm start -- --role=lando --config FILE     the command processor
  npm start -- --role=watcher --config FILE   the cluster watcher
  npm start -- --role=client --config FILE COMMAND ...   see below
${CLIENT_USAGE}
STEP is one of stage_data, run_workflow, organize_output, save_output, record_output_project.`;

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
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
      'with-servers': { type: 'boolean', default: false },
      format: { type: 'string' },
      limit: { type: 'string' },
      job: { type: 'string' },
      'stage-group': { type: 'string' },
      'share-group': { type: 'string' },
      methods: { type: 'string' },
      for: { type: 'string' },
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
        withServers: values['with-servers'],
        ...(failStep === undefined ? {} : { failStep }),
        logger: createLogger({ name: 'lando-k8s-sandbox', level: logLevel(values['log-level']), secrets: [], stream: process.stderr }),
        out: process.stdout,
      });
      return sandboxSucceeded(results) ? 0 : 1;
    }
    case 'lando':
    case 'watcher': {
      await runService(values.role, configFrom(values.config));
      return 0;
    }
    case 'client': {
      const config = configFrom(values.config);
      const format = values.format;
      if (format !== undefined && format !== 'pickle' && format !== 'json') throw new UsageError(`--format must be pickle or json, got ${JSON.stringify(format)}`);
      const logger = createLogger({ name: 'lando-k8s-client', level: 'warn', secrets: secretsOf(config), stream: process.stderr });
      return await runClient(config, positionals, {
        ...(format === undefined ? {} : { format }),
        ...(values.limit === undefined ? {} : { limit: positiveInteger('--limit', values.limit) }),
        files: { job: values.job, stageGroup: values['stage-group'], shareGroup: values['share-group'], methods: values.methods },
        checkFor: values.for,
      }, logger, process.stdout);
    }
    default:
      throw new UsageError(`unknown --role ${JSON.stringify(values.role)}`);
  }
}

function configFrom(path: string | undefined): AppConfig {
  if (path === undefined) throw new UsageError('this role needs --config FILE');
  return loadConfig(path);
}

/**
 * Runs lando or the watcher until SIGTERM or SIGINT: the health endpoint first, then the
 * role's parts in order. Shutdown is installed before anything starts, so a signal during a
 * slow start (an unreachable broker) still ends the process; from the signal on, /readyz
 * reports not ready while in-flight work finishes.
 */
async function runService(role: 'lando' | 'watcher', config: AppConfig): Promise<void> {
  const logger = createLogger({ name: `lando-k8s-${role}`, level: config.logLevel, secrets: secretsOf(config) });
  if (config.unknownKeys.length > 0) logger.warn({ keys: config.unknownKeys }, 'Ignoring unknown configuration keys');
  const metrics = new PrometheusMetrics({ logger });
  // Loaded here, not at the top: the Kubernetes client takes seconds to load, the sandbox and the client role never need it, and each role needs only its own adapters.
  const { closing } = await import('./role-parts.js');
  const running = role === 'lando' ? (await import('./lando-role.js')).createLandoRole(config, logger, metrics) : (await import('./watcher-role.js')).createWatcherRole(config, logger, metrics);
  let stopping = false;
  const services: NamedService[] = [];
  if (config.healthPort > 0) {
    const health = await startHealthServer({
      port: config.healthPort,
      metrics,
      logger,
      readiness: () => (stopping ? { checks: { stopping: false } } : running.readiness()),
    });
    services.push(closing('health endpoint', () => health.close()));
  }
  services.push(...running.services);
  installShutdown({ services, graceMs: config.lando.shutdownGraceSeconds * 1000, logger, onSignal: () => (stopping = true) });
  for (const service of services) await service.start();
  logger.info({ role, queue: config.workQueue.listenQueue, namespace: config.clusterApiSettings.namespace }, `lando-k8s ${role} started`);
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
    if (error instanceof ConfigError || error instanceof UsageError || error instanceof ClientUsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`lando-k8s: ${error.message}\n`);
      if (!(error instanceof ConfigError || error instanceof ClientInputError)) process.stderr.write(`${USAGE}\n`);
      process.exitCode = USAGE_ERROR;
      return;
    }
    // Startup failures (a port in use, a broker that refuses the login) are for operators: the message names the problem.
    process.stderr.write(`lando-k8s: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
