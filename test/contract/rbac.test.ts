/**
 * The Roles of deploy/ grant exactly what the code calls. Each Deployment's role runs the
 * real Kubernetes adapters (K8sCluster, K8sLeaseStore) through the port methods its domain
 * code uses, against the Kubernetes API test server; the (API group, resource, verb) of every
 * request in the server's call log must equal the rules bound to that Deployment's service
 * account. A call without a grant fails (the cluster would answer 403), and so does a grant
 * no call uses (least privilege).
 */
import assert from 'node:assert/strict';
import { K8sCluster } from '../../src/adapters/k8s/k8s-cluster.js';
import { K8sLeaseStore } from '../../src/adapters/k8s/k8s-lease-store.js';
import type { ObjectKind } from '../../src/domain/cluster-objects.js';
import type { Cluster, WatchHandle } from '../../src/ports/cluster.js';
import type { LeaseStore } from '../../src/ports/leases.js';
import { startK8sApiTestServer, type CallRecord, type K8sApiTestServer } from '../../testservers/k8s/k8s-api-test-server.js';
import {
  deployedObjects,
  findObject,
  kustomizationNamespace,
  permissionName,
  serviceAccountPermissions,
  textAt,
  type KubeJson,
  type Permission,
} from '../support/deploy-manifests.js';
import { MemoryLogger } from '../support/memory-logger.js';
import { objectsForJob } from './cluster.contract.js';

type RoleName = 'lando' | 'watcher';

/**
 * Who calls each port method, and from where. The types make a new port method a compile
 * error here until someone says which role calls it; the last test below then fails until a
 * workload exercises it, so no adapter call can escape the comparison.
 */
const CLUSTER_CALLERS: { readonly [Method in keyof Cluster]: string } = {
  create: 'lando: job-runner.ts creates each step\'s PVCs, ConfigMaps and Jobs (adopting its own on a name clash)',
  delete: 'lando: job-runner.ts cleans up; watcher: stuck-pod-detector.ts deletes the Job of a pod that cannot start',
  list: 'lando: job-runner.ts finds a job\'s objects to clean up or reuse',
  annotateJob: 'lando: job-runner.ts marks a failed step\'s Job once its error is recorded, so a watcher\'s replay skips it',
  listPods: 'lando: job-runner.ts reads the record step\'s pods; watcher: job-monitor.ts (failed Job) and stuck-pod-detector.ts',
  readPodLog: 'watcher: job-monitor.ts and stuck-pod-detector.ts put the pod\'s log into the error',
  listEvents: 'watcher: stuck-pod-detector.ts explains a pod that cannot start',
  watchJobs: 'watcher: services.ts (WatcherService) watches the labelled Jobs',
};
const LEASE_CALLERS: { readonly [Method in keyof LeaseStore]: string } = {
  tryAcquire: 'lando: job-leases.ts takes and renews per-job Leases; watcher: leader-elector.ts campaigns and renews',
  release: 'lando: job-leases.ts releases a job at rest; watcher: leader-elector.ts gives leadership up on shutdown',
};

/** Each role's Deployment in deploy/, whose service account must be granted the role's calls. */
const DEPLOYMENT_OF: Readonly<Record<RoleName, string>> = { lando: 'lando', watcher: 'lando-watcher' };

const ALL_KINDS: readonly ObjectKind[] = ['PersistentVolumeClaim', 'ConfigMap', 'Job'];
const JOB_ID = 42;
const WAIT_LIMIT_MS = 5000;

/** The adapters a workload drives (wrapped so the methods it calls are recorded) and the server behind them. */
interface Workload {
  readonly server: K8sApiTestServer;
  readonly cluster: Cluster;
  readonly leases: LeaseStore;
}

/** Records the names of the methods called on `target`. */
function recordingCalls<T extends object>(target: T, called: Set<string>): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        called.add(property);
        return (value as (...params: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

async function waitFor(description: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${WAIT_LIMIT_MS} ms: ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** What both roles do with Leases: take one (create), renew it (update), lose a race for it (get), give it up (delete). */
async function leaseWorkload({ leases }: Workload, role: RoleName): Promise<void> {
  const name = `rbac-${role}`;
  assert.equal(await leases.tryAcquire(name, 'replica-a', 30_000), true);
  assert.equal(await leases.tryAcquire(name, 'replica-a', 30_000), true);
  assert.equal(await leases.tryAcquire(name, 'replica-b', 30_000), false);
  await leases.release(name, 'replica-a');
}

/** lando: everything a job's steps and cleanup do (job-runner.ts), then its per-job Lease. */
async function landoWorkload(workload: Workload): Promise<void> {
  const { cluster } = workload;
  const objects = objectsForJob(JOB_ID);
  for (const kind of ALL_KINDS) {
    assert.equal(await cluster.create(objects.byKind[kind]), 'created');
    // A redelivered command creates the same object again: the adapter reads it and adopts it.
    assert.equal(await cluster.create(objects.byKind[kind]), 'adopted');
    assert.equal((await cluster.list(kind, { 'bespin-job-id': String(JOB_ID) })).length, 1);
  }
  await cluster.listPods({ 'bespin-job-id': String(JOB_ID), 'bespin-job-step': 'record_output_project' });
  assert.equal(await cluster.annotateJob(objects.byKind.Job.metadata.name, { 'bespin-job/error-recorded': 'true' }), 'annotated');
  for (const kind of ALL_KINDS) assert.equal(await cluster.delete(kind, objects.byKind[kind].metadata.name), 'deleted');
  await leaseWorkload(workload, 'lando');
}

/** The watcher: the Job watch, a failed step's pod and log, a stuck pod's events and Job, then leader election. */
async function watcherWorkload(workload: Workload): Promise<void> {
  const { server, cluster } = workload;
  const { stageJob } = objectsForJob(JOB_ID);
  const jobName = stageJob.metadata.name;
  server.seed({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName, labels: { ...stageJob.metadata.labels } },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { ...stageJob.metadata.labels } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'step', image: stageJob.template.container.image }] },
      },
    },
  });
  await server.settle();

  let watch: WatchHandle | undefined;
  try {
    watch = await cluster.watchJobs({ 'bespin-job': 'true' }, async () => undefined);
    await waitFor('the watcher to list the Jobs and open a watch', () => server.openWatches > 0);
  } finally {
    await watch?.stop();
  }

  server.controller.failJob(jobName, 'step failed\n');
  await server.settle();
  const [pod] = await cluster.listPods({ 'job-name': jobName });
  assert.ok(pod !== undefined, `the failed Job ${jobName} has no pod`);
  assert.equal(await cluster.readPodLog(pod.name, 1024), 'step failed\n');
  await cluster.listEvents(pod.name);
  assert.equal(await cluster.delete('Job', jobName), 'deleted');
  await leaseWorkload(workload, 'watcher');
}

const WORKLOADS: Readonly<Record<RoleName, (workload: Workload) => Promise<void>>> = {
  lando: landoWorkload,
  watcher: watcherWorkload,
};

const WATCH_VALUES = new Set(['true', '1']);
const ITEM_VERBS: Readonly<Record<string, string>> = { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
const COLLECTION_VERBS: Readonly<Record<string, string>> = { POST: 'create', DELETE: 'deletecollection' };

/**
 * The permission an API request needs, as the API server's RBAC authorizer derives it from
 * the method, the path and the `watch` parameter.
 */
function permissionOf(call: Pick<CallRecord, 'method' | 'path' | 'query'>, namespace: string): Permission {
  const request = `${call.method} ${call.path}`;
  const segments = call.path.split('/').filter((segment) => segment !== '').map(decodeURIComponent);
  const [root, ...afterRoot] = segments;
  let group: string;
  let rest: string[];
  if (root === 'api' && afterRoot.length >= 1) [group, rest] = ['', afterRoot.slice(1)];
  else if (root === 'apis' && afterRoot.length >= 2) [group, rest] = [afterRoot[0] as string, afterRoot.slice(2)];
  else throw new Error(`${request} is not a resource request`);
  const [scope, requestNamespace, resource, name, subresource, ...extra] = rest;
  if (scope !== 'namespaces' || resource === undefined || extra.length > 0) throw new Error(`${request} is not a namespaced resource request`);
  if (requestNamespace !== namespace) throw new Error(`${request} leaves the namespace ${namespace}`);
  const verb =
    name === undefined
      ? call.method === 'GET'
        ? WATCH_VALUES.has(call.query['watch'] ?? '')
          ? 'watch'
          : 'list'
        : COLLECTION_VERBS[call.method]
      : ITEM_VERBS[call.method];
  if (verb === undefined) throw new Error(`${request}: no RBAC verb for this method`);
  return { group, resource: subresource === undefined ? resource : `${resource}/${subresource}`, verb };
}

function sorted(names: Iterable<string>): string[] {
  return [...names].sort();
}

/** Runs a role's workload on a fresh test server and returns the requests it made. */
async function runWorkload(role: RoleName, namespace: string, called: { cluster: Set<string>; leases: Set<string> }): Promise<readonly CallRecord[]> {
  // Pods start without their volumes: only the calls of lando and the watcher matter here.
  const server = await startK8sApiTestServer({ namespace, checkPodVolumes: false });
  try {
    const credentials = { host: server.url, token: server.token, namespace, logger: new MemoryLogger() };
    await WORKLOADS[role]({
      server,
      cluster: recordingCalls(new K8sCluster({ ...credentials, watch: { resyncMs: 600_000, idleTimeoutMs: 30_000 } }), called.cluster),
      leases: recordingCalls(new K8sLeaseStore(credentials), called.leases),
    });
    return [...server.calls.records];
  } finally {
    await server.close();
  }
}

describe('RBAC of deploy/ against the calls the code makes', () => {
  const called = { cluster: new Set<string>(), leases: new Set<string>() };
  const callsOf = new Map<RoleName, readonly CallRecord[]>();
  let namespace: string;
  let objects: KubeJson[];

  // The manifests are read here, not while mocha collects the tests: a broken file fails these tests only.
  before(async () => {
    namespace = kustomizationNamespace();
    objects = deployedObjects();
    for (const role of ['lando', 'watcher'] as const) callsOf.set(role, await runWorkload(role, namespace, called));
  });

  it('derives the RBAC verb of a request as the API server does', () => {
    const cases: Array<[Pick<CallRecord, 'method' | 'path' | 'query'>, string]> = [
      [{ method: 'GET', path: `/apis/batch/v1/namespaces/${namespace}/jobs`, query: { watch: 'true' } }, 'batch/jobs: watch'],
      [{ method: 'GET', path: `/apis/batch/v1/namespaces/${namespace}/jobs`, query: { labelSelector: 'a=b' } }, 'batch/jobs: list'],
      [{ method: 'GET', path: `/api/v1/namespaces/${namespace}/pods/p/log`, query: {} }, 'core/pods/log: get'],
      [{ method: 'POST', path: `/api/v1/namespaces/${namespace}/configmaps`, query: {} }, 'core/configmaps: create'],
      [{ method: 'PUT', path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/l`, query: {} }, 'coordination.k8s.io/leases: update'],
      [{ method: 'PATCH', path: `/api/v1/namespaces/${namespace}/pods/p`, query: {} }, 'core/pods: patch'],
      [{ method: 'DELETE', path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims/c`, query: {} }, 'core/persistentvolumeclaims: delete'],
    ];
    for (const [call, expected] of cases) assert.equal(permissionName(permissionOf(call, namespace)), expected, `${call.method} ${call.path}`);
    assert.throws(() => permissionOf({ method: 'GET', path: '/api/v1/namespaces/elsewhere/pods', query: {} }, namespace), /leaves the namespace/);
  });

  for (const role of ['lando', 'watcher'] as const) {
    it(`the ${role} role needs exactly what deploy/ grants the service account of Deployment ${DEPLOYMENT_OF[role]}`, () => {
      const calls = callsOf.get(role) ?? [];
      // 409 is part of the workload: adopting an existing object, losing a Lease race.
      const failed = calls.filter((call) => call.status >= 400 && call.status !== 409);
      assert.deepEqual(failed.map((call) => `${call.method} ${call.path} → ${call.status}`), [], 'the workload must run cleanly');

      const used = new Set(calls.map((call) => permissionName(permissionOf(call, namespace))));
      const deployment = findObject(objects, 'Deployment', DEPLOYMENT_OF[role]);
      const account = textAt(deployment, 'spec.template.spec.serviceAccountName', `Deployment ${DEPLOYMENT_OF[role]}`);
      const granted = serviceAccountPermissions(objects, account, namespace);
      const missing = sorted([...used].filter((permission) => !granted.has(permission)));
      const unused = sorted([...granted].filter((permission) => !used.has(permission)));
      assert.deepEqual(
        { missing, unused },
        { missing: [], unused: [] },
        `service account ${account}: ` +
          (missing.length > 0 ? `calls without a grant (the cluster would answer 403): ${missing.join(', ')}. ` : '') +
          (unused.length > 0 ? `grants no call uses: ${unused.join(', ')}.` : ''),
      );
    });
  }

  it('exercises every method of the Cluster and LeaseStore ports', () => {
    assert.deepEqual(sorted(called.cluster), sorted(Object.keys(CLUSTER_CALLERS)), 'add the missing Cluster methods to the workload of the roles named in CLUSTER_CALLERS');
    assert.deepEqual(sorted(called.leases), sorted(Object.keys(LEASE_CALLERS)), 'add the missing LeaseStore methods to the workloads of the roles named in LEASE_CALLERS');
  });
});
