import { AmqpProgressPublisher } from '../adapters/amqp/amqp-progress-publisher.js';
import { AmqpWorkQueueConsumer } from '../adapters/amqp/amqp-work-queue-consumer.js';
import { BespinHttpApi } from '../adapters/bespin/bespin-http-api.js';
import { K8sLeaseStore } from '../adapters/k8s/k8s-lease-store.js';
import { SystemClock } from '../adapters/system/system-clock.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import { clusterCredentials } from './cluster-credentials.js';
import { landoSettingsFrom, type AppConfig } from './config.js';
import { createLandoContainer } from './containers.js';
import { replicaIdentity } from './replica-identity.js';
import { brokerPart, connectToBroker, connectToCluster, type RunningRole } from './role-parts.js';
import { LandoService } from './services.js';

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
