import { AmqpConnection } from '../adapters/amqp/amqp-connection.js';
import { AmqpLandoClient } from '../adapters/amqp/amqp-lando-client.js';
import { AmqpProgressPublisher } from '../adapters/amqp/amqp-progress-publisher.js';
import { AmqpWorkQueueConsumer } from '../adapters/amqp/amqp-work-queue-consumer.js';
import { BespinHttpApi } from '../adapters/bespin/bespin-http-api.js';
import { K8sCluster } from '../adapters/k8s/k8s-cluster.js';
import { K8sLeaseStore } from '../adapters/k8s/k8s-lease-store.js';
import { SystemClock } from '../adapters/system/system-clock.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import { clusterCredentials } from './cluster-credentials.js';
import { landoSettingsFrom, watcherSettingsFrom, type AppConfig } from './config.js';
import { createLandoContainer, createWatcherContainer } from './containers.js';
import type { ReadinessReport } from './health-server.js';
import { replicaIdentity } from './replica-identity.js';
import { LandoService, WatcherService, watcherLeaseName } from './services.js';
import type { NamedService } from './shutdown.js';

/** A role's process-wide parts, started in order and stopped in reverse on shutdown. */
export interface RunningRole {
  readonly services: readonly NamedService[];
  /** What /readyz reports. */
  readiness(): ReadinessReport;
}

function connectToBroker(config: AppConfig, role: string, logger: Logger, metrics: Metrics): AmqpConnection {
  const queue = config.workQueue;
  return new AmqpConnection({
    host: queue.host,
    port: queue.port,
    vhost: queue.vhost,
    username: queue.username,
    password: queue.password,
    ...(queue.tls ? { tls: queue.tlsCaCert === undefined ? {} : { caFile: queue.tlsCaCert } } : {}),
    heartbeatSeconds: queue.heartbeatSeconds,
    connectionName: `lando-k8s ${role}`,
    logger,
    metrics,
  });
}

function connectToCluster(config: AppConfig, logger: Logger, metrics: Metrics): K8sCluster {
  return new K8sCluster({
    ...clusterCredentials(config),
    logger,
    metrics,
    watch: {
      resyncMs: config.watcher.resyncSeconds * 1000,
      idleTimeoutMs: config.watcher.watchIdleTimeoutSeconds * 1000,
    },
  });
}

/** A part that only needs closing when it stops, after the services that use it. */
export function closing(name: string, close: () => Promise<void>): NamedService {
  return { name, start: async () => undefined, stop: close };
}

/**
 * The broker connection as a part of the role: connecting starts at once (readiness shows
 * when it is up) but is not awaited, since it retries until the broker answers.
 */
function brokerPart(broker: AmqpConnection): NamedService {
  return {
    name: 'RabbitMQ connection',
    start: async () => {
      broker.session().catch(() => undefined);
    },
    stop: () => broker.close(),
  };
}

/** The lando role: RabbitMQ in, bespin-api and the cluster out. */
export function createLandoRole(config: AppConfig, logger: Logger, metrics: Metrics): RunningRole {
  const broker = connectToBroker(config, 'lando', logger, metrics);
  const queue = config.workQueue;
  const container = createLandoContainer(
    {
      lando: landoSettingsFrom(config),
      dispatch: { handlerTimeoutMs: config.lando.handlerTimeoutSeconds * 1000, concurrency: config.lando.concurrency },
      ...(config.lando.leases ? { leases: { durationMs: config.lando.leaseDurationSeconds * 1000, holder: replicaIdentity() } } : {}),
    },
    {
      ...(config.lando.leases ? { leases: new K8sLeaseStore({ ...clusterCredentials(config), logger }) } : {}),
      cluster: connectToCluster(config, logger, metrics),
      bespin: new BespinHttpApi({ baseUrl: config.bespinApi.url, token: config.bespinApi.token, logger }),
      consumer: new AmqpWorkQueueConsumer(broker, {
        queue: queue.listenQueue,
        deadLetterQueue: queue.deadLetterQueue,
        prefetch: Math.max(queue.prefetch, config.lando.concurrency),
        maxAttempts: queue.maxAttempts,
        retryDelayMs: queue.retryDelayMs,
        maxRetryDelayMs: queue.maxRetryDelayMs,
        logger,
        metrics,
      }),
      progress: new AmqpProgressPublisher(broker),
      metrics,
      clock: new SystemClock(),
      logger,
    },
  );
  return {
    services: [brokerPart(broker), new LandoService(container)],
    readiness: () => ({ checks: { broker: broker.connected } }),
  };
}

/** The watcher role: the cluster in, RabbitMQ out. */
export function createWatcherRole(config: AppConfig, logger: Logger, metrics: Metrics): RunningRole {
  const broker = connectToBroker(config, 'watcher', logger, metrics);
  const settings = watcherSettingsFrom(config);
  const cluster = connectToCluster(config, logger, metrics);
  const election = config.watcher.leaderElection
    ? {
        leaseName: watcherLeaseName(settings),
        identity: replicaIdentity(),
        leaseDurationMs: config.watcher.leaseDurationSeconds * 1000,
        renewDeadlineMs: config.watcher.renewDeadlineSeconds * 1000,
        retryPeriodMs: config.watcher.retryPeriodSeconds * 1000,
      }
    : undefined;
  const container = createWatcherContainer(settings, {
    ...(election ? { leases: new K8sLeaseStore({ ...clusterCredentials(config), logger }) } : {}),
    cluster,
    lando: new AmqpLandoClient(broker, { queue: config.workQueue.listenQueue, format: config.workQueue.messageFormat }),
    metrics,
    clock: new SystemClock(),
    logger,
  }, election);
  const watcher = new WatcherService(container, settings);
  return {
    services: [brokerPart(broker), watcher],
    readiness: () => ({ checks: { broker: broker.connected, watch: watcher.watching } }),
  };
}
