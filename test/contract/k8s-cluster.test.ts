import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { K8sCluster, type K8sClusterOptions } from '../../src/adapters/k8s/k8s-cluster.js';
import { LISTENER_ERRORS_METRIC, MAX_CONCURRENT_DELIVERIES, MAX_QUEUED_DELIVERIES, RELISTS_METRIC, RESTARTS_METRIC } from '../../src/adapters/k8s/k8s-job-watch.js';
import { toApiBody } from '../../src/adapters/k8s/object-bodies.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import type { ClusterObject } from '../../src/domain/cluster-objects.js';
import { AlreadyExistsError, ConflictError, NotFoundError, PermanentError, TransientError } from '../../src/domain/errors.js';
import { StageSequencer } from '../../src/domain/stage-sequencer.js';
import type { JobWatchEvent, WatchHandle } from '../../src/ports/cluster.js';
import { startK8sApiTestServer, type K8sApiTestServer, type K8sApiTestServerOptions, type KubeObject } from '../../testservers/k8s/k8s-api-test-server.js';
import { k8sEvents, loadHappyPath, TRANSCRIPT_SETTINGS } from '../support/bespin-fixtures.js';
import { MemoryLogger } from '../support/memory-logger.js';
import { clusterContract, jobSelector, objectsForJob, relabelled, WatchRecorder } from './cluster.contract.js';

/** The namespace the transcripts were recorded in. */
const NAMESPACE = 'lando-job-runner';

/** Quick retries and no resync or watchdog interference unless a test asks for them. */
const TEST_WATCH: K8sClusterOptions['watch'] = { resyncMs: 600_000, idleTimeoutMs: 30_000, minBackoffMs: 10, maxBackoffMs: 100 };

/** How long `eventually` polls a condition the simulated cluster reaches asynchronously. */
const EVENTUALLY_LIMIT_MS = 5000;

async function startServer(options: K8sApiTestServerOptions = {}): Promise<K8sApiTestServer> {
  return startK8sApiTestServer({ port: 0, namespace: NAMESPACE, ...options });
}

function clusterFor(server: K8sApiTestServer, options: Partial<K8sClusterOptions> = {}): K8sCluster {
  return new K8sCluster({
    host: server.url,
    token: server.token,
    namespace: NAMESPACE,
    logger: new MemoryLogger(),
    watch: TEST_WATCH,
    ...options,
  });
}

/** What `kubectl annotate pod` sends: a JSON merge patch of the annotations. */
async function annotatePod(server: K8sApiTestServer, podName: string, annotations: Readonly<Record<string, string>>): Promise<void> {
  const response = await fetch(`${server.url}/api/v1/namespaces/${NAMESPACE}/pods/${podName}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify({ metadata: { annotations } }),
  });
  if (!response.ok) throw new Error(`annotating pod ${podName} failed: ${response.status} ${await response.text()}`);
}

/** Waits for a condition the cluster reaches on its own, failing with `description` if it does not. */
async function eventually(description: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + EVENTUALLY_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${EVENTUALLY_LIMIT_MS} ms: ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function isComplete(event: JobWatchEvent): boolean {
  return event.job.conditions.some((condition) => condition.type === 'Complete' && condition.status === 'True');
}

clusterContract('K8sCluster on the Kubernetes API test server', async () => {
  const server = await startServer();
  return {
    cluster: clusterFor(server),
    completeJob: async (name) => server.controller.completeJob(name),
    failJob: async (name, log) => server.controller.failJob(name, log),
    annotatePod: (podName, annotations) => annotatePod(server, podName, annotations),
    teardown: () => server.close(),
  };
});

describe('K8sCluster', () => {
  let server: K8sApiTestServer;
  let cluster: K8sCluster;
  let logger: MemoryLogger;
  let metrics: MemoryMetrics;
  let watches: WatchHandle[];

  async function setUp(serverOptions: K8sApiTestServerOptions = {}, clusterOptions: Partial<K8sClusterOptions> = {}): Promise<void> {
    server = await startServer(serverOptions);
    logger = new MemoryLogger();
    metrics = new MemoryMetrics();
    cluster = clusterFor(server, { logger, metrics, ...clusterOptions });
  }

  /** A watch of every bespin Job whose events are recorded, then handed to `listener` if given. */
  async function watch(options: { listener?: (event: JobWatchEvent) => Promise<void> } = {}): Promise<WatchRecorder> {
    const recorder = new WatchRecorder();
    const { listener } = options;
    const recordThenHandle = async (event: JobWatchEvent): Promise<void> => {
      await recorder.listener(event);
      await listener?.(event);
    };
    watches.push(await cluster.watchJobs({ 'bespin-job': 'true' }, recordThenHandle));
    return recorder;
  }

  beforeEach(async () => {
    watches = [];
    await setUp();
  });

  afterEach(async () => {
    try {
      await Promise.all(watches.map((handle) => handle.stop()));
    } finally {
      await server.close();
    }
  });

  describe('request bodies', () => {
    const path = loadHappyPath('zipped');
    const sequencer = new StageSequencer(TRANSCRIPT_SETTINGS);
    const { job, stageGroup, shareGroup, methodsContent } = path;
    const stage = sequencer.stageData(job, stageGroup);
    const organize = sequencer.organizeOutput(job, methodsContent);
    const save = sequencer.saveOutput(job, shareGroup);
    /** In the order lando creates them over the whole job (happy-path-zipped.json). */
    const objects: ClusterObject[] = [
      sequencer.jobDataPvc(job, stageGroup),
      stage.configMap,
      stage.job,
      sequencer.outputDataPvc(job),
      sequencer.runWorkflow(job).job,
      organize.configMap,
      organize.job,
      save.configMap,
      save.job,
      sequencer.recordOutputProject(job).job,
    ];
    const recorded = path.transcript.messages.flatMap((message) => k8sEvents(message).filter((event) => event.verb === 'create'));

    it('sends exactly the body of object-bodies.ts, which is what the original sent (happy-path-zipped)', async () => {
      for (const object of objects) assert.equal(await cluster.create(object), 'created');
      const creates = server.calls.records.filter((call) => call.method === 'POST');
      assert.deepEqual(creates.map((call) => `${call.method} ${call.path}`), recorded.map((event) => event.http));
      creates.forEach((call, index) => {
        const object = objects[index];
        const name = object.metadata.name;
        assert.equal(call.status, 201, `${name}: ${JSON.stringify(call.body)}`);
        assert.deepEqual(call.body, toApiBody(object), name);
        const original = recorded[index].body;
        if (object === stage.configMap) {
          // W15: the rewrite also stages the URL input the original forgot; everything before it is identical.
          const sent = (call.body as { data: Record<string, string> }).data['stagedata.json'];
          const before = (original?.['data'] as Record<string, string>)['stagedata.json'];
          assert.ok(sent.startsWith(before.slice(0, -']}'.length)), sent);
          assert.deepEqual({ ...(call.body as object), data: undefined }, { ...original, data: undefined });
        } else {
          assert.deepEqual(call.body, original, name);
        }
      });
    });

    it('deletes a Job with background propagation and ConfigMaps and claims with empty options', async () => {
      const { pvc, configMap, stageJob } = objectsForJob(51);
      for (const object of [pvc, configMap, stageJob]) await cluster.create(object);
      for (const object of [stageJob, configMap, pvc]) assert.equal(await cluster.delete(object.kind, object.metadata.name), 'deleted');
      const deletes = server.calls.records.filter((call) => call.method === 'DELETE');
      assert.deepEqual(
        deletes.map((call) => [call.path, call.body]),
        [
          [`/apis/batch/v1/namespaces/${NAMESPACE}/jobs/${stageJob.metadata.name}`, { propagationPolicy: 'Background' }],
          [`/api/v1/namespaces/${NAMESPACE}/configmaps/${configMap.metadata.name}`, {}],
          [`/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims/${pvc.metadata.name}`, {}],
        ],
      );
    });

    it('lists with the selector in its key order, page by page', async () => {
      await server.close();
      await setUp({}, { listPageSize: 2 });
      const names = [52, 53, 54, 55, 56].map((id) => objectsForJob(id).configMap);
      for (const configMap of names) await cluster.create(relabelled(configMap, { 'bespin-job': 'true', 'bespin-job-id': '52' }));
      const listed = await cluster.list('ConfigMap', { 'bespin-job-id': '52', 'bespin-job': 'true' });
      assert.deepEqual(listed.map((ref) => ref.name), names.map((configMap) => configMap.metadata.name).sort());
      const lists = server.calls.of('list configmaps');
      assert.equal(lists.length, 3);
      assert.ok(lists.every((call) => call.query['labelSelector'] === 'bespin-job-id=52,bespin-job=true' && call.query['limit'] === '2'));
      assert.equal(lists[0].query['continue'], undefined);
      assert.ok(lists[1].query['continue'] && lists[2].query['continue']);
    });
  });

  describe('idempotent creates (W14)', () => {
    it('adopts an object of the same job and refuses one of another job', async () => {
      const { pvc } = objectsForJob(61);
      assert.equal(await cluster.create(pvc), 'created');
      assert.equal(await cluster.create(pvc), 'adopted');
      await assert.rejects(cluster.create(relabelled(pvc, jobSelector(62))), (error: unknown) => {
        assert.ok(error instanceof AlreadyExistsError);
        assert.equal(error.message, `create PersistentVolumeClaim ${pvc.metadata.name}: the name is taken by bespin job 61`);
        return true;
      });
    });

    it('refuses with ConflictError while the old claim is still terminating, and creates once it is gone', async () => {
      // A full restart: the claim's pod is still being garbage-collected when the claim is made again.
      const { pvc, configMap, stageJob } = objectsForJob(63);
      for (const object of [pvc, configMap, stageJob]) await cluster.create(object);
      await server.settle();
      server.pauseGarbageCollection();
      await cluster.delete('Job', stageJob.metadata.name);
      assert.equal(await cluster.delete('PersistentVolumeClaim', pvc.metadata.name), 'deleted');
      await assert.rejects(cluster.create(pvc), (error: unknown) => {
        assert.ok(error instanceof ConflictError);
        assert.equal(error.message, `create PersistentVolumeClaim ${pvc.metadata.name}: PersistentVolumeClaim ${pvc.metadata.name} is still terminating`);
        return true;
      });
      server.resumeGarbageCollection();
      await server.settle();
      assert.equal(await cluster.create(pvc), 'created');
    });
  });

  describe('errors', () => {
    it('reports a refused object as PermanentError with the API message (422)', async () => {
      const { stageJob } = objectsForJob(71, 'Jane.Doe_2');
      await assert.rejects(cluster.create(stageJob), (error: unknown) => {
        assert.ok(error instanceof PermanentError, String(error));
        assert.match(error.message, /^create Job stage-data-71-Jane\.Doe_2: 422 Invalid: Job\.batch "stage-data-71-Jane\.Doe_2" is invalid: \[metadata\.name: Invalid value/);
        return true;
      });
    });

    it('reports a wrong token as PermanentError without showing any token (401)', async () => {
      const intruder = clusterFor(server, { token: 'not-the-token' });
      await assert.rejects(intruder.list('Job', jobSelector(72)), (error: unknown) => {
        assert.ok(error instanceof PermanentError, String(error));
        assert.equal(error.message, 'list Job bespin-job=true,bespin-job-id=72: 401 Unauthorized');
        return true;
      });
    });

    it('reports a missing pod as NotFoundError (404)', async () => {
      await assert.rejects(cluster.readPodLog('stage-data-73-jdoe12-zzzzz', 100), (error: unknown) => {
        assert.ok(error instanceof NotFoundError, String(error));
        assert.equal(error.message, 'read log of Pod stage-data-73-jdoe12-zzzzz: 404 NotFound: pods "stage-data-73-jdoe12-zzzzz" not found');
        return true;
      });
    });

    it('reports an unavailable API server as TransientError (503)', async () => {
      server.failNext('create jobs', { code: 503, message: 'etcd is restarting' });
      const { stageJob } = objectsForJob(74);
      await assert.rejects(cluster.create(stageJob), (error: unknown) => {
        assert.ok(error instanceof TransientError, String(error));
        assert.equal(error.message, 'create Job stage-data-74-jdoe12: 503 ServiceUnavailable: etcd is restarting');
        return true;
      });
      assert.equal(await cluster.create(stageJob), 'created');
    });

    it('reports an unreachable API server as TransientError', async () => {
      const url = server.url;
      await server.close();
      const unreachable = new K8sCluster({ host: url, token: 'x', namespace: NAMESPACE, logger, watch: TEST_WATCH });
      await assert.rejects(unreachable.listPods({ 'job-name': 'x' }), (error: unknown) => error instanceof TransientError && /^list Pod job-name=x: ECONNREFUSED/.test(error.message));
      // afterEach closes whatever `server` is.
      server = await startServer();
    });

    it('refuses a selector that would change the query', async () => {
      await assert.rejects(cluster.list('Job', { 'bespin-job': 'true,bespin-job-id=1' }), PermanentError);
    });
  });

  describe('pods, logs and events', () => {
    it('shows a pod waiting on its image and one the scheduler cannot place', async () => {
      const { stageJob, recordJob } = objectsForJob(81);
      server.controller.holdPodWaiting(stageJob.metadata.name, 'ImagePullBackOff', 'Back-off pulling image "dukegcb/lando-util:0.5.4"');
      server.controller.holdPodUnschedulable(recordJob.metadata.name, '0/3 nodes are available: 3 Insufficient cpu.');
      await cluster.create(stageJob);
      await cluster.create(recordJob);
      await server.settle();
      const [waiting] = await cluster.listPods({ 'job-name': stageJob.metadata.name });
      assert.equal(waiting.phase, 'Pending');
      assert.deepEqual(waiting.waiting, [{ container: stageJob.template.container.name, reason: 'ImagePullBackOff', message: 'Back-off pulling image "dukegcb/lando-util:0.5.4"' }]);
      assert.equal(waiting.scheduled?.status, 'True');
      assert.match(waiting.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const [unschedulable] = await cluster.listPods({ 'job-name': recordJob.metadata.name });
      assert.equal(unschedulable.phase, 'Pending');
      assert.deepEqual(
        { ...unschedulable.scheduled, since: undefined },
        { status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.', since: undefined },
      );
      assert.match(unschedulable.scheduled?.since ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.deepEqual(
        (await cluster.listEvents(unschedulable.name)).map((event) => [event.type, event.reason]),
        [['Warning', 'FailedScheduling']],
      );
    });

    it("lists a Job's events oldest first", async () => {
      const { stageJob } = objectsForJob(82);
      await cluster.create(stageJob);
      await server.settle();
      server.controller.completeJob(stageJob.metadata.name);
      const events = await cluster.listEvents(stageJob.metadata.name);
      assert.deepEqual(events.map((event) => event.reason), ['SuccessfulCreate', 'Completed']);
      assert.equal(events[1].message, 'Job completed');
      assert.match(events[1].lastTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });

    it('reads only the tail of a 1 MB log and returns its last 1000 bytes at most', async () => {
      const { stageJob } = objectsForJob(83);
      await cluster.create(stageJob);
      const lines = Array.from({ length: 20_000 }, (_, index) => `line ${String(index).padStart(5, '0')}: ${'é'.repeat(20)}\n`);
      const log = lines.join('');
      assert.ok(Buffer.byteLength(log) > 1024 * 1024);
      server.controller.failJob(stageJob.metadata.name, log);
      const [pod] = await cluster.listPods({ 'job-name': stageJob.metadata.name });
      const tail = await cluster.readPodLog(pod.name, 1000);
      assert.ok(Buffer.byteLength(tail) <= 1000 && Buffer.byteLength(tail) >= 998, `${Buffer.byteLength(tail)} bytes`);
      assert.ok(log.endsWith(tail));
      const [read] = server.calls.of('get pods/log');
      assert.equal(read.query['tailLines'], '1001');
      assert.equal(read.query['limitBytes'], undefined);
    });
  });

  describe('watch', () => {
    it('survives a dropped connection and delivers the next completion', async () => {
      const recorder = await watch();
      const { stageJob } = objectsForJob(91);
      await cluster.create(stageJob);
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED');
      assert.equal(server.dropWatches(), 1);
      await eventually('the watch is open again', () => server.openWatches === 1 && server.calls.count('watch jobs') === 2);
      server.controller.completeJob(stageJob.metadata.name);
      await recorder.waitFor('Complete', isComplete);
      assert.equal(metrics.value(RESTARTS_METRIC, { reason: 'error' }), 1);
    });

    it('re-opens a stream the server ended from the last resourceVersion, without re-listing', async () => {
      const recorder = await watch();
      const { stageJob } = objectsForJob(92);
      await cluster.create(stageJob);
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED');
      server.dropWatches({ graceful: true });
      server.controller.completeJob(stageJob.metadata.name);
      await recorder.waitFor('Complete', isComplete);
      assert.equal(server.calls.count('list jobs'), 1);
      assert.equal(metrics.value(RESTARTS_METRIC, { reason: 'closed' }), 1);
    });

    it('re-lists after 410 Gone and reports the completion it missed exactly once', async () => {
      const recorder = await watch();
      const first = objectsForJob(93);
      const second = objectsForJob(94);
      await cluster.create(first.stageJob);
      await cluster.create(second.stageJob);
      await recorder.waitFor('both ADDED', (event) => event.type === 'ADDED' && event.job.name === second.stageJob.metadata.name);
      await server.settle();
      // Changes the watch never sees: held back, then the history that could replay them is compacted away.
      server.pauseWatches();
      server.controller.completeJob(first.stageJob.metadata.name);
      await cluster.delete('Job', second.stageJob.metadata.name);
      server.compact();
      // Ended normally, the stream is re-opened from the last resourceVersion seen, which is gone now.
      server.dropWatches({ graceful: true });
      server.resumeWatches();
      await recorder.waitFor('Complete after the re-list', isComplete);
      await recorder.waitFor('DELETED of the Job that vanished', (event) => event.type === 'DELETED');
      assert.equal(recorder.events.filter(isComplete).length, 1);
      assert.equal(recorder.events.filter((event) => event.type === 'DELETED').length, 1);
      assert.equal(metrics.value(RESTARTS_METRIC, { reason: 'expired' }), 1);
      assert.equal(metrics.value(RELISTS_METRIC), 1);
    });

    it('re-lists every resyncMs and re-emits each Job as MODIFIED', async () => {
      await server.close();
      await setUp({}, { watch: { ...TEST_WATCH, resyncMs: 200 } });
      const { stageJob } = objectsForJob(95);
      await cluster.create(stageJob);
      await server.settle();
      server.controller.completeJob(stageJob.metadata.name);
      const recorder = await watch();
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED' && isComplete(event));
      await recorder.waitFor('the resync MODIFIED', (event) => event.type === 'MODIFIED' && isComplete(event));
      assert.ok(metrics.value(RELISTS_METRIC) >= 1);
      assert.ok(metrics.value(RESTARTS_METRIC, { reason: 'resync' }) >= 1);
    });

    it('re-opens a stream that went silent', async () => {
      await server.close();
      await setUp({ bookmarkIntervalMs: 600_000 }, { watch: { ...TEST_WATCH, idleTimeoutMs: 150 } });
      const recorder = await watch();
      const { stageJob } = objectsForJob(96);
      await cluster.create(stageJob);
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED');
      server.pauseWatches();
      server.controller.completeJob(stageJob.metadata.name);
      await eventually('the watchdog re-opened the stream', () => metrics.value(RESTARTS_METRIC, { reason: 'idle' }) >= 1);
      server.resumeWatches();
      await recorder.waitFor('Complete', isComplete);
    });

    it('keeps delivering after the listener throws, and counts the failure', async () => {
      const recorder = await watch({
        listener: async (event) => {
          if (event.type === 'ADDED') throw new Error('broker unreachable');
        },
      });
      const { stageJob } = objectsForJob(97);
      await cluster.create(stageJob);
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED');
      server.controller.completeJob(stageJob.metadata.name);
      await recorder.waitFor('Complete', isComplete);
      assert.equal(metrics.value(LISTENER_ERRORS_METRIC), 1);
      assert.ok(logger.lines.some((line) => line.level === 'error' && line.fields['err'] === 'Error: broker unreachable'));
    });

    it('delivers the events of one Job one at a time, in order', async () => {
      const log: string[] = [];
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const recorder = await watch({
        listener: async (event) => {
          log.push(`start ${event.type}`);
          if (event.type === 'ADDED') await gate;
          log.push(`end ${event.type}`);
        },
      });
      const { stageJob } = objectsForJob(98);
      await cluster.create(stageJob);
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED');
      server.controller.completeJob(stageJob.metadata.name);
      await server.settle();
      assert.deepEqual(log, ['start ADDED']);
      release();
      await recorder.waitFor('Complete', isComplete);
      await eventually('the listener finished', () => log.at(-1) === 'end MODIFIED');
      assert.deepEqual(log.slice(0, 3), ['start ADDED', 'end ADDED', 'start MODIFIED']);
      assert.ok(log.every((entry, index) => entry.startsWith(index % 2 === 0 ? 'start' : 'end')));
    });

    it('delivers the events of different Jobs side by side, so one slow Job does not hold the others up', async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const handled: string[] = [];
      const recorder = await watch({
        listener: async (event) => {
          if (event.job.name.startsWith('stage-data-96-')) await gate;
          handled.push(event.job.name);
        },
      });
      const slow = objectsForJob(96).stageJob;
      const other = objectsForJob(97).stageJob;
      await cluster.create(slow);
      await recorder.waitFor('the slow Job', (event) => event.job.name === slow.metadata.name);
      await cluster.create(other);
      await eventually('the other Job handled while the slow one waits', () => handled.includes(other.metadata.name));
      assert.equal(handled.includes(slow.metadata.name), false);
      release();
      await eventually('the slow Job handled too', () => handled.includes(slow.metadata.name));
    });

    it('hands the listener a long list page by page, and every Job once', async () => {
      const pageSize = 100;
      const pages = Math.ceil((MAX_QUEUED_DELIVERIES * 2) / pageSize) + 1;
      await server.close();
      await setUp({}, { listPageSize: pageSize });
      for (let index = 0; index < pages * pageSize; index += 1) {
        server.seed({ apiVersion: 'batch/v1', kind: 'Job', ...toApiBody(objectsForJob(1000 + index).stageJob) } as KubeObject);
      }
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let listsAtFirstEvent: number | undefined;
      let waiting = 0;
      const recorder = await watch({
        listener: async () => {
          listsAtFirstEvent ??= server.calls.count('list jobs');
          waiting += 1;
          await gate;
          waiting -= 1;
        },
      });
      await eventually('every delivery slot taken', () => waiting === MAX_CONCURRENT_DELIVERIES);
      // The first page, and perhaps the request for the second: the listener need not wait for the whole list.
      assert.ok(listsAtFirstEvent !== undefined && listsAtFirstEvent <= 2, `the listener heard of the first Job after ${listsAtFirstEvent} of ${pages} page requests`);
      release();
      await eventually('every Job delivered', () => recorder.events.length === pages * pageSize && waiting === 0);
      assert.equal(new Set(recorder.events.map((event) => event.job.name)).size, pages * pageSize);
      assert.ok(recorder.events.every((event) => event.type === 'ADDED'));
      assert.equal(server.calls.count('list jobs'), pages);
    });

    it('retries a failing list with back-off instead of giving up', async () => {
      server.failNext('list jobs', { code: 500, times: 3 });
      const recorder = await watch();
      await cluster.create(objectsForJob(99).stageJob);
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED');
      assert.equal(server.calls.of('list jobs').filter((call) => call.status === 500).length, 3);
    });

    it('lets a listener stop its own watch', async () => {
      const seen: string[] = [];
      let stopped: () => void = () => undefined;
      const stopReturned = new Promise<void>((resolve) => (stopped = resolve));
      let handle: WatchHandle | undefined;
      handle = await cluster.watchJobs({ 'bespin-job': 'true' }, async (event) => {
        seen.push(event.type);
        await handle?.stop();
        stopped();
      });
      watches.push(handle);
      const { stageJob } = objectsForJob(101);
      await cluster.create(stageJob);
      await stopReturned;
      server.controller.completeJob(stageJob.metadata.name);
      await eventually('the server saw the stream end', () => server.openWatches === 0);
      assert.deepEqual(seen, ['ADDED']);
    });

    it('closes its stream on stop()', async () => {
      const recorder = await watch();
      await cluster.create(objectsForJob(100).stageJob);
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED');
      await Promise.all(watches.splice(0).map((handle) => handle.stop()));
      await eventually('the server saw the stream end', () => server.openWatches === 0);
    });
  });
});

describe('K8sCluster against a stub API server', () => {
  let stub: Server;
  let cluster: K8sCluster;
  let compressedLists: number;

  beforeEach(async () => {
    compressedLists = 0;
    stub = createServer((request, response) => {
      if (request.url?.startsWith(`/api/v1/namespaces/${NAMESPACE}/pods/binary/log`)) {
        response.writeHead(200, { 'Content-Type': 'text/plain' });
        response.end(Buffer.from([0xef, 0xbb, 0xbf, 0x6f, 0x6b, 0xff, 0x21]));
      }
      if (request.url?.includes('job-name%3Dhalf')) {
        // Half a list, and then nothing.
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.write('{"kind": "PodList", "metadata": {}, "items": [{"metadata": {"name": "half-1"}}, ');
        return;
      }
      if (request.url?.startsWith(`/api/v1/namespaces/${NAMESPACE}/pods?`) && request.headers['accept-encoding']?.includes('gzip')) {
        // As an API server answers a large list when the client accepts gzip.
        const items = ['gz-1', 'gz-2'].map((name) => ({ metadata: { name, creationTimestamp: '2026-11-28T10:00:00Z' }, status: { phase: 'Running' } }));
        compressedLists += 1;
        response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
        response.end(gzipSync(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '5' }, items })));
      }
      // Anything else never gets an answer.
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    cluster = new K8sCluster({
      host: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`,
      token: 'stub-token',
      namespace: NAMESPACE,
      logger: new MemoryLogger(),
      requestTimeoutMs: 100,
      watch: TEST_WATCH,
    });
  });

  afterEach(async () => {
    stub.closeAllConnections();
    await new Promise((resolve) => stub.close(resolve));
  });

  it('replaces bytes of a log that are not UTF-8 instead of failing (W17)', async () => {
    assert.equal(await cluster.readPodLog('binary', 100), '\ufeffok\ufffd!');
  });

  it('asks for a compressed list and reads it', async () => {
    const pods = await cluster.listPods({ 'job-name': 'gz' });
    assert.deepEqual(
      pods.map((pod) => [pod.name, pod.phase, pod.creationTimestamp]),
      [
        ['gz-1', 'Running', '2026-11-28T10:00:00Z'],
        ['gz-2', 'Running', '2026-11-28T10:00:00Z'],
      ],
    );
    assert.equal(compressedLists, 1);
  });

  it('gives up on a list whose answer stops halfway as TransientError', async () => {
    await assert.rejects(cluster.listPods({ 'job-name': 'half' }), (error: unknown) => {
      assert.ok(error instanceof TransientError, String(error));
      assert.equal(error.message, 'list Pod job-name=half: no response within 100 ms');
      return true;
    });
  });

  it('gives up on a request without an answer as TransientError', async () => {
    await assert.rejects(cluster.list('Job', jobSelector(1)), (error: unknown) => {
      assert.ok(error instanceof TransientError, String(error));
      assert.equal(error.message, 'list Job bespin-job=true,bespin-job-id=1: no response within 100 ms');
      return true;
    });
  });
});

describe('K8sCluster watch shutdown', () => {
  it('leaves nothing running after stop(): the process exits by itself', async function () {
    this.timeout(20_000);
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./k8s-watch-stop-child.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('exit', (code) => {
        clearTimeout(killer);
        resolve(code);
      });
    });
    assert.equal(exitCode, 0, output);
    assert.match(output, /watch delivered ADDED stage-data-1-jdoe12, stopped/);
  });
});
