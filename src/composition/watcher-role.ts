import { AmqpLandoClient } from '../adapters/amqp/amqp-lando-client.js';
import { K8sLeaseStore } from '../adapters/k8s/k8s-lease-store.js';
import { SystemClock } from '../adapters/system/system-clock.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import { clusterCredentials } from './cluster-credentials.js';
import { watcherSettingsFrom, type AppConfig } from './config.js';
import { createWatcherContainer } from './containers.js';
import { replicaIdentity } from './replica-identity.js';
import { brokerPart, connectToBroker, connectToCluster, type RunningRole } from './role-parts.js';
import { WatcherService, watcherLeaseName } from './services.js';

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
