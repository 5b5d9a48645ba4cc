import {
  AuthorizationV1Api, BatchV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, Watch, type V1Job, type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';
import { request } from 'node:http';
import { startK8sApiTestServer, type K8sApiTestServer, type K8sApiTestServerOptions } from '../../../testservers/k8s/k8s-api-test-server.js';

export const NAMESPACE = 'lando-job-runner';

export interface Clients {
  readonly config: KubeConfig;
  readonly batch: BatchV1Api;
  readonly core: CoreV1Api;
  readonly coordination: CoordinationV1Api;
  readonly authorization: AuthorizationV1Api;
}

/** Starts a server serving NAMESPACE; each suite closes it in its after/afterEach hook. */
export async function startServer(options: K8sApiTestServerOptions = {}): Promise<K8sApiTestServer> {
  return startK8sApiTestServer({ namespace: NAMESPACE, ...options });
}

export function clientsFor(server: K8sApiTestServer): Clients {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'test', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'test', token: server.token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test', namespace: NAMESPACE }],
    currentContext: 'test',
  });
  return {
    config,
    batch: config.makeApiClient(BatchV1Api),
    core: config.makeApiClient(CoreV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    authorization: config.makeApiClient(AuthorizationV1Api),
  };
}

export interface RawResponse {
  readonly status: number;
  readonly bytes: Buffer;
  readonly text: string;
  /** The body parsed as JSON; throws when it is not JSON. */
  json(): Record<string, unknown>;
}

/** A plain HTTP request, for what client-node would not send (no apiVersion/kind, bad bodies, watch lines). */
export function http(
  server: K8sApiTestServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const outgoing = request(`${server.url}${path}`, {
      method,
      headers: {
        ...(server.token ? { authorization: `Bearer ${server.token}` } : {}),
        // Node frames DELETE bodies only with an explicit length.
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
        ...headers,
      },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        resolve({ status: response.statusCode ?? 0, bytes, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

/** The Status body of a client-node ApiException. */
export async function apiFailure(call: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    const failure = error as { code?: number; body?: unknown };
    if (typeof failure.code !== 'number') throw error;
    const status = typeof failure.body === 'string' ? (JSON.parse(failure.body) as Record<string, unknown>) : {};
    return { code: failure.code, status };
  }
  throw new Error('the call succeeded but was expected to fail');
}

export interface WatchEventRecord {
  readonly type: string;
  readonly object: Record<string, unknown>;
}

/** A client-node watch that collects events; `done` resolves when the stream ends. */
export class CollectingWatch {
  readonly events: WatchEventRecord[] = [];
  readonly done: Promise<unknown>;
  private controller?: AbortController;
  private ended = false;
  private waiters: (() => void)[] = [];
  private resolveDone: (error: unknown) => void = () => undefined;

  private constructor() {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  static async start(config: KubeConfig, path: string, query: Record<string, string | number | boolean | undefined>): Promise<CollectingWatch> {
    const watch = new CollectingWatch();
    watch.controller = await new Watch(config).watch(
      path,
      query,
      (type, object: Record<string, unknown>) => {
        watch.events.push({ type, object });
        for (const waiter of watch.waiters.splice(0)) waiter();
      },
      (error: unknown) => {
        watch.ended = true;
        watch.resolveDone(error);
        for (const waiter of watch.waiters.splice(0)) waiter();
      },
    );
    return watch;
  }

  /** Waits until `predicate` holds for the collected events; fails if the stream ends first. */
  async until(predicate: (events: readonly WatchEventRecord[]) => boolean): Promise<void> {
    while (!predicate(this.events)) {
      if (this.ended) throw new Error(`watch ended before the expected events; got: ${this.summary().join(', ')}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  summary(): string[] {
    return this.events.map((event) => `${event.type} ${String((event.object.metadata as { name?: string } | undefined)?.name)}`);
  }

  stop(): void {
    this.controller?.abort();
  }
}

export function jobBody(name: string, overrides: { labels?: Record<string, string>; claim?: string; configMap?: string } = {}): V1Job {
  const labels = overrides.labels ?? { 'bespin-job': 'true', 'bespin-job-id': '42', 'bespin-job-step': 'stage_data' };
  const volumes = [
    ...(overrides.claim ? [{ name: 'data', persistentVolumeClaim: { claimName: overrides.claim, readOnly: false } }] : []),
    ...(overrides.configMap ? [{ name: 'config', configMap: { name: overrides.configMap } }] : []),
  ];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels },
    spec: {
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          containers: [{
            name,
            image: 'dukegcb/lando-util:0.5.4',
            args: [],
            env: [],
            volumeMounts: volumes.map((volume) => ({ name: volume.name, mountPath: `/bespin/${volume.name}` })),
          }],
          volumes,
        },
      },
    },
  };
}

export function pvcBody(name: string, labels: Record<string, string> = { 'bespin-job': 'true', 'bespin-job-id': '42' }): V1PersistentVolumeClaim {
  return {
    metadata: { name, labels },
    spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } },
  };
}
