/**
 * Run by k8s-cluster.test.ts in its own process: watches Jobs, stops the watch and closes the
 * server, then simply returns. The process exits only if stop() left no timer, socket or
 * stream behind.
 */
import { K8sCluster } from '../../src/adapters/k8s/k8s-cluster.js';
import type { JobWatchEvent } from '../../src/ports/cluster.js';
import { startK8sApiTestServer } from '../../testservers/k8s/k8s-api-test-server.js';
import { MemoryLogger } from '../support/memory-logger.js';
import { objectsForJob } from './cluster.contract.js';

const server = await startK8sApiTestServer({ port: 0, namespace: 'lando-job-runner' });
const cluster = new K8sCluster({
  host: server.url,
  token: server.token,
  namespace: 'lando-job-runner',
  logger: new MemoryLogger(),
  watch: { resyncMs: 60_000, idleTimeoutMs: 60_000, minBackoffMs: 10, maxBackoffMs: 100 },
});
const { stageJob } = objectsForJob(1);
let announce: (event: JobWatchEvent) => void = () => undefined;
const added = new Promise<JobWatchEvent>((resolve) => (announce = resolve));
const handle = await cluster.watchJobs({ 'bespin-job': 'true' }, async (event) => announce(event));
await cluster.create(stageJob);
const event = await added;
await handle.stop();
await server.close();
console.log(`watch delivered ${event.type} ${event.job.name}, stopped`);
