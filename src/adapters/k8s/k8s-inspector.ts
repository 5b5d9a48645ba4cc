/**
 * The read-only questions an operator's `check` and `status` ask the Kubernetes API server:
 * is it there, does it take the credentials, may they do X (a SelfSubjectAccessReview), does a
 * named object exist, and what does the cluster hold for one bespin job. Answers a caller acts
 * on (absent, forbidden, unauthenticated) come back as values; every other failure leaves as a
 * domain error naming the request.
 */
import {
  AuthorizationV1Api,
  BatchV1Api,
  CoreV1Api,
  StorageV1Api,
  VersionApi,
  type ConfigurationOptions,
  type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';
import type { JobStatusView, Labels, PodView } from '../../domain/cluster-objects.js';
import { PermanentError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import { apiFailure, describeFailure } from './k8s-errors.js';
import { positiveInteger, sendWithTimeout } from './k8s-request.js';
import { jobView, labelSelectorText, podView } from './k8s-views.js';
import { buildKubeConfig, type ClusterCredentials } from './kube-config.js';
import type { RequiredAccess } from './required-access.js';

export interface K8sInspectorOptions extends ClusterCredentials {
  /** Where the job's objects, the data-store Secret and the system data claim live. */
  readonly namespace: string;
  readonly logger: Logger;
  /** Per request (default 10 s: an operator is waiting). */
  readonly requestTimeoutMs?: number;
}

/** Whether a named object exists; `forbidden` means the credentials may not tell. */
export type Presence =
  | { readonly state: 'present' }
  | { readonly state: 'absent' }
  | { readonly state: 'forbidden'; readonly detail: string };

export type CredentialCheck = { readonly accepted: true } | { readonly accepted: false; readonly detail: string };

export interface ClaimView {
  readonly name: string;
  /** Pending, Bound or Lost; Unknown before the controller has written a status. */
  readonly phase: string;
  readonly requested?: string;
  readonly storageClassName?: string;
  readonly terminating: boolean;
}

/** Everything labelled for one bespin job. */
export interface JobObjects {
  readonly claims: readonly ClaimView[];
  readonly configMaps: readonly string[];
  readonly jobs: readonly JobStatusView[];
  readonly pods: readonly PodView[];
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const UNAUTHORIZED = 401;
const FORBIDDEN = 403;
const NOT_FOUND = 404;

export class K8sInspector {
  private readonly namespace: string;
  private readonly requestTimeoutMs: number;
  private readonly core: CoreV1Api;
  private readonly batch: BatchV1Api;
  private readonly storage: StorageV1Api;
  private readonly authorization: AuthorizationV1Api;
  private readonly version: VersionApi;

  constructor(options: K8sInspectorOptions) {
    if (options.namespace.trim() === '') throw new PermanentError('K8sInspector: namespace must not be empty');
    this.namespace = options.namespace;
    this.requestTimeoutMs = positiveInteger('K8sInspector', 'requestTimeoutMs', options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    const kubeConfig = buildKubeConfig(options, options.logger.child({ component: 'k8s-inspector' }));
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.storage = kubeConfig.makeApiClient(StorageV1Api);
    this.authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
    this.version = kubeConfig.makeApiClient(VersionApi);
  }

  /** The API server's version (`v1.31.0`); clusters serve it without authentication. */
  async serverVersion(): Promise<string> {
    const info = await this.request('get the server version', (options) => this.version.getCode(undefined, options));
    return info.gitVersion;
  }

  /** A SelfSubjectAccessReview needs nothing but authentication, so its refusal says the credentials are wrong. */
  credentialsAccepted(): Promise<CredentialCheck> {
    return this.request('authenticate', (options) =>
      this.review({ verb: 'get', group: '', resource: 'namespaces', name: this.namespace }, options).then(
        (): CredentialCheck => ({ accepted: true }),
        (error: unknown): CredentialCheck => {
          const failure = apiFailure(error);
          if (failure.status === UNAUTHORIZED) return { accepted: false, detail: describeFailure(failure) };
          throw error;
        },
      ),
    );
  }

  /** Whether the credentials may make this call in the namespace. */
  async allows(access: Pick<RequiredAccess, 'group' | 'resource' | 'subresource' | 'verb'>): Promise<boolean> {
    const review = await this.request(`review access ${access.verb} ${access.resource}`, (options) =>
      this.review({ verb: access.verb, group: access.group, resource: access.resource, subresource: access.subresource, namespace: this.namespace }, options),
    );
    return review.status?.allowed === true;
  }

  secret(name: string): Promise<Presence> {
    return this.presence(`read Secret ${name}`, (options) => this.core.readNamespacedSecret({ name, namespace: this.namespace }, options));
  }

  storageClass(name: string): Promise<Presence> {
    return this.presence(`read StorageClass ${name}`, (options) => this.storage.readStorageClass({ name }, options));
  }

  claim(name: string): Promise<Presence> {
    return this.presence(`read PersistentVolumeClaim ${name}`, (options) =>
      this.core.readNamespacedPersistentVolumeClaim({ name, namespace: this.namespace }, options),
    );
  }

  /** A job has a handful of objects, so each kind comes in one unpaged list. */
  async jobObjects(selector: Labels): Promise<JobObjects> {
    const labelSelector = labelSelectorText(selector);
    const query = { namespace: this.namespace, labelSelector };
    const [claims, configMaps, jobs, pods] = await Promise.all([
      this.request(`list PersistentVolumeClaim ${labelSelector}`, (options) => this.core.listNamespacedPersistentVolumeClaim(query, options)),
      this.request(`list ConfigMap ${labelSelector}`, (options) => this.core.listNamespacedConfigMap(query, options)),
      this.request(`list Job ${labelSelector}`, (options) => this.batch.listNamespacedJob(query, options)),
      this.request(`list Pod ${labelSelector}`, (options) => this.core.listNamespacedPod(query, options)),
    ]);
    return {
      claims: claims.items.map(claimView),
      configMaps: configMaps.items.map((configMap) => configMap.metadata?.name ?? ''),
      jobs: jobs.items.map(jobView),
      pods: pods.items.map(podView),
    };
  }

  private review(
    resourceAttributes: { verb: string; group: string; resource: string; subresource?: string; namespace?: string; name?: string },
    options: ConfigurationOptions,
  ) {
    return this.authorization.createSelfSubjectAccessReview(
      { body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } } },
      options,
    );
  }

  private presence(operation: string, read: (options: ConfigurationOptions) => Promise<unknown>): Promise<Presence> {
    return this.request(operation, (options) =>
      read(options).then(
        (): Presence => ({ state: 'present' }),
        (error: unknown): Presence => {
          const failure = apiFailure(error);
          if (failure.status === NOT_FOUND) return { state: 'absent' };
          if (failure.status === FORBIDDEN) return { state: 'forbidden', detail: describeFailure(failure) };
          throw error;
        },
      ),
    );
  }

  private request<T>(operation: string, send: (options: ConfigurationOptions) => Promise<T>): Promise<T> {
    return sendWithTimeout(operation, this.requestTimeoutMs, send);
  }
}

function claimView(claim: V1PersistentVolumeClaim): ClaimView {
  const requested = claim.spec?.resources?.requests?.['storage'];
  const storageClassName = claim.spec?.storageClassName;
  return {
    name: claim.metadata?.name ?? '',
    phase: claim.status?.phase ?? 'Unknown',
    ...(requested === undefined ? {} : { requested: String(requested) }),
    ...(storageClassName === undefined ? {} : { storageClassName }),
    terminating: claim.metadata?.deletionTimestamp !== undefined,
  };
}
