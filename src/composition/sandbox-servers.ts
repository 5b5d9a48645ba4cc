import { BespinHttpApi } from '../adapters/bespin/bespin-http-api.js';
import { K8sCluster } from '../adapters/k8s/k8s-cluster.js';
import { BespinAdminRecords } from '../adapters/memory/bespin-admin-records.js';
import type { StepType } from '../domain/job-codes.js';
import type { BespinApi } from '../ports/bespin-api.js';
import type { Cluster } from '../ports/cluster.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import { startBespinApiTestServer } from '../../testservers/bespin-api-test-server.js';
import { startK8sApiTestServer } from '../../testservers/k8s/k8s-api-test-server.js';
import { recordStepAnnotations } from '../../testservers/k8s/lando-namespace.js';

const NAMESPACE = 'lando-job-runner';

export interface SandboxServers {
  /** The real Kubernetes and bespin-api adapters, talking HTTP to the test servers. */
  readonly adapters: { readonly cluster: Cluster; readonly bespin: BespinApi };
  /** bespin-api's records, for seeding the demo jobs. */
  readonly bespinRecords: BespinAdminRecords;
  readonly urls: { readonly kubernetes: string; readonly bespin: string };
  close(): Promise<void>;
}

/**
 * The sandbox's --with-servers mode: the project's Kubernetes API and bespin-api test
 * servers on loopback, and the real adapters pointed at them, so the demo jobs cross HTTP
 * exactly as they would against a cluster and bespin-api. Each step's Job ends `stepMs`
 * after its pod starts; `fail` picks the ones that fail.
 */
export async function startSandboxServers(options: {
  readonly stepMs: number;
  readonly fail: (jobId: string, step: StepType) => string | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
}): Promise<SandboxServers> {
  const bespinRecords = new BespinAdminRecords();
  const token = 'sandbox-token';
  const kubernetes = await startK8sApiTestServer({
    token,
    namespace: NAMESPACE,
    callLog: 'counts-only',
    events: 'warnings',
    autoComplete: {
      mode: 'immediate',
      delayMs: options.stepMs,
      annotations: recordStepAnnotations,
      fail: (jobName) => {
        const job = kubernetes.getObject('jobs', jobName);
        const labels = job?.metadata.labels ?? {};
        return options.fail(labels['bespin-job-id'] ?? '', labels['bespin-job-step'] as StepType);
      },
    },
  });
  const bespin = await startBespinApiTestServer({ token, seedFixtures: false, records: bespinRecords });
  const cluster = new K8sCluster({
    host: kubernetes.url,
    token,
    namespace: NAMESPACE,
    logger: options.logger,
    metrics: options.metrics,
    watch: { resyncMs: 300_000, idleTimeoutMs: 600_000 },
  });
  return {
    adapters: { cluster, bespin: new BespinHttpApi({ baseUrl: bespin.url, token, logger: options.logger }) },
    bespinRecords,
    urls: { kubernetes: kubernetes.url, bespin: bespin.url },
    close: async () => {
      await kubernetes.close();
      await bespin.close();
    },
  };
}
