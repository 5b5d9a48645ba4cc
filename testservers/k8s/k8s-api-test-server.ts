import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { AccessPolicy, type AccessRule } from './access-policy.js';
import { isPublicRoute, resolveRoute, type Route, type Verb } from './api-router.js';
import { ApiError, internalError, notFoundError, unauthorizedError } from './api-status.js';
import { CallLog, type CallLogMode } from './call-log.js';
import { EventRecorder } from './event-recorder.js';
import { GarbageCollector } from './garbage-collector.js';
import { InjectedFaults, type FaultSpec } from './injected-faults.js';
import { SimulatedJobController, type AutoCompleteOptions, type EventRecording } from './job-controller.js';
import { JobTimeline } from './job-timeline.js';
import type { KubeObject } from './kube-object.js';
import { ObjectStore } from './object-store.js';
import { PodLogs } from './pod-logs.js';
import { PvcController, type PvcBinding } from './pvc-controller.js';
import { RESOURCE_TYPES } from './resource-registry.js';
import { boolParam, intParam, listOptions, ResourceHandlers, resourceVersionParam, type HandlerResult, type Target } from './resource-handlers.js';
import type { ResourceType } from './resource-type.js';
import { LabelSelector } from './selectors.js';
import { asPod } from './typed-views.js';
import { streamWatch } from './watch-stream.js';
import { WorkScheduler } from './work-scheduler.js';

export type { AccessRule } from './access-policy.js';
export type { CallLogMode, CallRecord } from './call-log.js';
export type { FaultSpec } from './injected-faults.js';
export type { AutoCompleteOptions, EventRecording } from './job-controller.js';
export type { JobTimes } from './job-timeline.js';
export type { KubeObject } from './kube-object.js';
export type { PvcBinding } from './pvc-controller.js';

/**
 * A Kubernetes API server for tests: plain HTTP on 127.0.0.1 with bearer-token auth, serving
 * batch/v1 Jobs, core/v1 Pods (with logs), PersistentVolumeClaims, ConfigMaps and Events, and
 * coordination.k8s.io/v1 Leases, with watches, real validation and Status errors, and a
 * simulated Job controller, garbage collector and volume controllers behind them.
 */
export interface K8sApiTestServerOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /**
   * Bearer token clients must send, or several accepted alike (give each client its own to
   * tell their calls apart: every call records the token it carried); a random one by
   * default, `null` turns authentication off.
   */
  readonly token?: string | readonly string[] | null;
  /** The namespace the test controls default to (`default`). */
  readonly namespace?: string;
  /** Further namespaces that exist; creating objects anywhere else is a 404 like on a cluster. */
  readonly extraNamespaces?: readonly string[];
  readonly autoComplete?: AutoCompleteOptions;
  /** Changes kept per resource for watch resumption (default 10,000); older resourceVersions get 410. */
  readonly historyLimit?: number;
  /** Period of BOOKMARK events on watches that allow them (default 1,000 ms; one is sent right away too). */
  readonly bookmarkIntervalMs?: number;
  /** Delay before the garbage collector deletes dependents of a deleted owner (default 0: next tick). */
  readonly gcDelayMs?: number;
  /** How long a running pod takes to terminate once deleted (default 0: next tick). */
  readonly podTerminationMs?: number;
  /** `bind` (default) provisions every claim; `pending` leaves claims Pending (no provisioner). */
  readonly pvcBinding?: PvcBinding;
  /** Keep pods whose claims or ConfigMaps are missing from starting (default true). */
  readonly checkPodVolumes?: boolean;
  readonly events?: EventRecording;
  readonly callLog?: CallLogMode;
  readonly deniedAccess?: readonly AccessRule[];
  /** The user name RBAC messages mention. */
  readonly user?: string;
  readonly nodeName?: string;
  /** Objects that exist from the start (e.g. a pre-provisioned claim), created like a POST would. */
  readonly objects?: readonly KubeObject[];
}

export interface K8sApiTestServer {
  readonly url: string;
  /** The (first) bearer token to send, undefined when authentication is off. */
  readonly token: string | undefined;
  readonly namespace: string;
  readonly store: ObjectStore;
  readonly controller: SimulatedJobController;
  readonly calls: CallLog;
  readonly jobTimeline: JobTimeline;
  readonly access: AccessPolicy;
  /** An object by resource plural (`jobs`, `pods`, ...) and name, in the default namespace. */
  getObject(plural: string, name: string, namespace?: string): KubeObject | undefined;
  listObjects(plural: string, options?: { labelSelector?: string; namespace?: string }): KubeObject[];
  /** Creates an object as a POST would, without recording a call. */
  seed(object: KubeObject, namespace?: string): KubeObject;
  /** Drops all watch history: every resourceVersion before now becomes too old (410). */
  compact(): void;
  /** Ends every open watch, abruptly (connection reset, like an API server restart) unless graceful. */
  dropWatches(options?: { graceful?: boolean }): number;
  /** Holds watch events back (a stalled watch) until `resumeWatches`. */
  pauseWatches(): void;
  resumeWatches(): void;
  /** Holds garbage collection: deleted owners' pods and Terminating claims stay until resumed. */
  pauseGarbageCollection(): void;
  resumeGarbageCollection(): void;
  /** Binds a claim left Pending by `pvcBinding: 'pending'`. */
  bindClaim(name: string, namespace?: string): void;
  /** Fails the next matching requests with a Status of that code. */
  failNext(operation: string | RegExp, fault: FaultSpec): void;
  /** Resolves once the simulated controllers have nothing left to do right now. */
  settle(): Promise<void>;
  readonly openWatches: number;
  close(): Promise<void>;
}

const VERSION_INFO = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-08-13T07:28:49Z',
  goVersion: 'go1.22.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function recordedBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function operationOf(route: Route | undefined, method: string, path: string): string {
  if (!route) return `${method} ${path}`;
  switch (route.kind) {
    case 'resource': {
      const { resource, subresource } = route.target;
      return `${route.verb} ${resource.plural}${subresource ? `/${subresource}` : ''}`;
    }
    case 'namespace':
      return 'get namespaces';
    case 'access-review':
      return 'create selfsubjectaccessreviews';
    case 'version':
      return 'get version';
    case 'health':
      return `get ${path.slice(1)}`;
  }
}

function resourceByPlural(plural: string): ResourceType {
  const resource = RESOURCE_TYPES.find((type) => type.plural === plural);
  if (!resource) throw new Error(`unknown resource ${plural}; known: ${RESOURCE_TYPES.map((type) => type.plural).join(', ')}`);
  return resource;
}

export async function startK8sApiTestServer(options: K8sApiTestServerOptions = {}): Promise<K8sApiTestServer> {
  const namespace = options.namespace ?? 'default';
  const tokens = options.token === null ? [] : typeof options.token === 'string' ? [options.token] : (options.token ?? [randomBytes(24).toString('base64url')]);
  if (options.token !== null && tokens.length === 0) throw new Error('token: give at least one token, or null to turn authentication off');
  const token = tokens[0];
  const namespaces = new Set([namespace, ...(options.extraNamespaces ?? [])]);
  const backgroundErrors: unknown[] = [];
  const onBackgroundError = (error: unknown): void => {
    backgroundErrors.push(error);
  };

  const store = new ObjectStore(options.historyLimit ?? 10_000);
  const logs = new PodLogs();
  const collector = new GarbageCollector(store, {
    collectionDelayMs: options.gcDelayMs ?? 0,
    podTerminationMs: options.podTerminationMs ?? 0,
    onError: onBackgroundError,
  });
  const volumeWork = new WorkScheduler(onBackgroundError);
  const pvcController = new PvcController(store, collector, volumeWork, options.pvcBinding ?? 'bind');
  const controllerWork = new WorkScheduler(onBackgroundError);
  const controller = new SimulatedJobController(store, logs, new EventRecorder(store), controllerWork, {
    namespace,
    nodeName: options.nodeName ?? 'node-1',
    autoComplete: options.autoComplete,
    checkPodVolumes: options.checkPodVolumes ?? true,
    events: options.events ?? 'all',
  });
  const jobTimeline = new JobTimeline(store);
  const calls = new CallLog(options.callLog ?? 'full');
  const access = new AccessPolicy(options.user ?? `system:serviceaccount:${namespace}:lando`, options.deniedAccess);
  const faults = new InjectedFaults();
  const handlers = new ResourceHandlers(store, collector, namespaces);
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;

  const serveResource = (route: Extract<Route, { kind: 'resource' }>, request: IncomingMessage, response: ServerResponse, raw: Buffer, query: URLSearchParams): number => {
    const { target, verb } = route;
    if (verb === 'watch') {
      const timeoutSeconds = intParam(query, 'timeoutSeconds');
      streamWatch(store, response, {
        resource: target.resource,
        query: listOptions(target, query),
        resourceVersion: resourceVersionParam(query),
        bookmarks: boolParam(query, 'allowWatchBookmarks') === true,
        bookmarkIntervalMs,
        timeoutSeconds: timeoutSeconds !== undefined && timeoutSeconds > 0 ? timeoutSeconds : undefined,
      });
      return 200;
    }
    if (target.subresource === 'log') {
      const log = logs.read(asPod(handlers.read(target)), {
        container: query.get('container') ?? undefined,
        tailLines: intParam(query, 'tailLines'),
        limitBytes: intParam(query, 'limitBytes'),
        previous: boolParam(query, 'previous'),
      });
      response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': log.length });
      response.end(log);
      return 200;
    }
    const result = dispatch(verb, target, request, raw, query);
    sendJson(response, result.status, result.body);
    return result.status;
  };

  const dispatch = (verb: Exclude<Verb, 'watch'>, target: Target, request: IncomingMessage, raw: Buffer, query: URLSearchParams): HandlerResult => {
    switch (verb) {
      case 'create':
        return handlers.create(target, raw, query);
      case 'get':
        return handlers.get(target);
      case 'list':
        return handlers.list(target, query);
      case 'update':
        return handlers.replace(target, raw, query);
      case 'patch':
        return handlers.patch(target, raw, (request.headers['content-type'] ?? '').split(';')[0].trim(), query);
      case 'delete':
        return handlers.delete(target, raw, query);
    }
  };

  const serve = (route: Route, request: IncomingMessage, response: ServerResponse, raw: Buffer, query: URLSearchParams): number => {
    switch (route.kind) {
      case 'version':
        sendJson(response, 200, VERSION_INFO);
        return 200;
      case 'health':
        response.writeHead(200, { 'Content-Type': 'text/plain' });
        response.end('ok');
        return 200;
      case 'namespace': {
        if (!namespaces.has(route.name)) throw notFoundError({ group: '', plural: 'namespaces', kind: 'Namespace' }, route.name);
        sendJson(response, 200, { kind: 'Namespace', apiVersion: 'v1', metadata: { name: route.name }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
        return 200;
      }
      case 'access-review':
        sendJson(response, 201, access.review(recordedBody(raw)));
        return 201;
      case 'resource':
        access.authorize({
          verb: route.verb,
          group: route.target.resource.group,
          resource: route.target.resource.plural,
          subresource: route.target.subresource,
          namespace: route.target.namespace,
          name: route.target.name,
        });
        return serveResource(route, request, response, raw, query);
    }
  };

  const server = createServer((request, response) => {
    const at = performance.now();
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    void readBody(request).then((raw) => {
      let route: Route | undefined;
      let status: number;
      const presented = request.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
      const acceptedToken = presented !== undefined && tokens.includes(presented) ? presented : undefined;
      try {
        route = resolveRoute(method, url);
        if (!isPublicRoute(route) && token !== undefined && acceptedToken === undefined) throw unauthorizedError();
        const fault = faults.take(operationOf(route, method, url.pathname));
        if (fault) throw fault;
        status = serve(route, request, response, raw, url.searchParams);
      } catch (error) {
        const apiError = error instanceof ApiError ? error : internalError(error instanceof Error ? error.message : String(error));
        status = apiError.code;
        if (!response.headersSent) sendJson(response, status, apiError.status);
        else response.destroy();
      }
      calls.add({
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body: calls.keepsBodies ? recordedBody(raw) : undefined,
        status,
        at,
        operation: operationOf(route, method, url.pathname),
        ...(acceptedToken === undefined ? {} : { token: acceptedToken }),
      });
    }, () => response.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const seed = (object: KubeObject, seedNamespace = object.metadata.namespace ?? namespace): KubeObject => {
    const resource = RESOURCE_TYPES.find((type) => type.apiVersion === object.apiVersion && type.kind === object.kind);
    if (!resource) throw new Error(`cannot seed ${object.apiVersion}/${object.kind}: not served by this server`);
    return handlers.create({ resource, namespace: seedNamespace }, structuredClone(object), new URLSearchParams()).body as KubeObject;
  };
  for (const object of options.objects ?? []) seed(object);

  const settle = async (): Promise<void> => {
    // Controllers trigger one another (a pod deletion frees a claim, a claim unblocks a pod), so wait until all are idle together.
    do {
      await Promise.all([controllerWork.settled(), volumeWork.settled(), collector.settled()]);
    } while (controllerWork.pending + volumeWork.pending > 0 || collector.busy);
    if (backgroundErrors.length > 0) throw backgroundErrors.shift();
  };

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    namespace,
    store,
    controller,
    calls,
    jobTimeline,
    access,
    getObject: (plural, name, objectNamespace = namespace) => store.get(resourceByPlural(plural), objectNamespace, name),
    listObjects: (plural, listing = {}) => store.list(resourceByPlural(plural), {
      namespace: listing.namespace ?? namespace,
      labelSelector: LabelSelector.parse(listing.labelSelector),
    }),
    seed,
    compact: () => store.compact(),
    dropWatches: (drop = {}) => store.dropWatches(drop.graceful ?? false),
    pauseWatches: () => store.pauseWatches(),
    resumeWatches: () => store.resumeWatches(),
    pauseGarbageCollection: () => collector.pause(),
    resumeGarbageCollection: () => collector.resume(),
    bindClaim: (name, claimNamespace = namespace) => pvcController.bind(claimNamespace, name),
    failNext: (operation, fault) => faults.add(operation, fault),
    settle,
    get openWatches() {
      return store.openWatches;
    },
    close: async () => {
      store.dropWatches(false);
      controller.dispose();
      controllerWork.dispose();
      volumeWork.dispose();
      pvcController.dispose();
      collector.dispose();
      jobTimeline.dispose();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
