/*
 * What the lando and watcher roles are assembled from: each role's own module (lando-role.ts,
 * watcher-role.ts) is loaded only in the process that runs it, so neither loads the other's
 * adapters (the watcher no longer loads axios and the work-queue consumer).
 */
import { AmqpConnection } from '../adapters/amqp/amqp-connection.js';
import { K8sCluster } from '../adapters/k8s/k8s-cluster.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import { clusterCredentials } from './cluster-credentials.js';
import type { AppConfig } from './config.js';
import type { ReadinessReport } from './health-server.js';
import type { NamedService } from './shutdown.js';

/** A role's process-wide parts, started in order and stopped in reverse on shutdown. */
export interface RunningRole {
  readonly services: readonly NamedService[];
  /** What /readyz reports. */
  readiness(): ReadinessReport;
}

export function connectToBroker(config: AppConfig, role: string, logger: Logger, metrics: Metrics): AmqpConnection {
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

export function connectToCluster(config: AppConfig, logger: Logger, metrics: Metrics): K8sCluster {
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
export function brokerPart(broker: AmqpConnection): NamedService {
  return {
    name: 'RabbitMQ connection',
    start: async () => {
      broker.session().catch(() => undefined);
    },
    stop: () => broker.close(),
  };
}
