/**
 * The client-node KubeConfig for the Kubernetes API server lando talks to (kubernetes.md §1):
 * a static bearer token for a given URL, as the original; otherwise the pod's service account
 * when running in a cluster, else the local kubeconfig (W24: more than a static token).
 * The token is never logged and never part of an error message.
 */
import { accessSync, constants } from 'node:fs';
import { KubeConfig, type Cluster as KubeCluster } from '@kubernetes/client-node';
import { PermanentError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';

export interface ClusterCredentials {
  /** API server URL; give it together with `token`, or neither. */
  readonly host?: string;
  readonly token?: string;
  /** Verify the server's certificate (default true). */
  readonly verifySsl?: boolean;
  /** Path of a CA bundle to verify the server's certificate with. */
  readonly sslCaCert?: string;
}

const CONTEXT = 'lando';
/** What loadFromDefault settles for when it finds no configuration at all: an anonymous local server. */
const FALLBACK_CONTEXT = 'loaded-context';
const FALLBACK_SERVER = 'http://localhost:8080';

export function buildKubeConfig(credentials: ClusterCredentials, logger: Logger): KubeConfig {
  const { host, token } = credentials;
  if ((host === undefined) !== (token === undefined)) {
    throw new PermanentError(
      `cluster credentials: ${host === undefined ? 'token' : 'host'} is given but ${host === undefined ? 'host' : 'token'} is not; give both, or neither to use the in-cluster service account or kubeconfig`,
    );
  }
  if (credentials.sslCaCert !== undefined) checkReadable(credentials.sslCaCert);

  const config = new KubeConfig();
  if (host !== undefined && token !== undefined) {
    config.loadFromOptions({
      clusters: [tlsSettings({ name: CONTEXT, server: serverUrl(host), skipTLSVerify: false }, credentials, logger)],
      users: [{ name: CONTEXT, token }],
      contexts: [{ name: CONTEXT, cluster: CONTEXT, user: CONTEXT }],
      currentContext: CONTEXT,
    });
    logger.info({ server: serverUrl(host), auth: 'bearer token' }, 'Kubernetes API access configured');
    return config;
  }

  // client-node's own test for running in a pod.
  const source = process.env['KUBERNETES_SERVICE_HOST'] ? 'in-cluster service account' : 'kubeconfig';
  if (source === 'in-cluster service account') config.loadFromCluster();
  else config.loadFromDefault();
  const current = config.getCurrentCluster();
  if (current === null) throw new PermanentError(`cluster credentials: the ${source} names no current cluster`);
  if (config.getCurrentContext() === FALLBACK_CONTEXT && current.server === FALLBACK_SERVER) {
    throw new PermanentError(
      'cluster credentials: none found; give cluster_api_settings host and token, run in a pod with a service account, or provide a kubeconfig (KUBECONFIG or ~/.kube/config)',
    );
  }
  const adjusted = tlsSettings(current, credentials, logger);
  config.clusters = config.clusters.map((cluster) => (cluster === current ? adjusted : cluster));
  logger.info({ server: adjusted.server, auth: source }, 'Kubernetes API access configured');
  return config;
}

/** Without a trailing slash: client-node appends paths that start with one. */
function serverUrl(host: string): string {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new PermanentError(`cluster credentials: host ${JSON.stringify(host)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PermanentError(`cluster credentials: host ${JSON.stringify(host)} must be an http or https URL`);
  }
  return host.replace(/\/+$/, '');
}

function tlsSettings(cluster: KubeCluster, credentials: ClusterCredentials, logger: Logger): KubeCluster {
  const verify = credentials.verifySsl ?? true;
  const caFile = credentials.sslCaCert ?? cluster.caFile;
  if (cluster.server.startsWith('http:')) {
    logger.warn({ server: cluster.server }, 'The Kubernetes API server URL is plain HTTP: requests, bearer token included, are not encrypted');
    // client-node refuses plain HTTP unless TLS verification is off; there is no TLS to verify.
    return { ...cluster, skipTLSVerify: true, caFile };
  }
  const skipTLSVerify = cluster.skipTLSVerify || !verify;
  if (skipTLSVerify) {
    logger.warn({ server: cluster.server }, 'TLS certificate verification of the Kubernetes API server is off');
  }
  return { ...cluster, skipTLSVerify, caFile };
}

function checkReadable(path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new PermanentError(`cluster credentials: ssl_ca_cert ${JSON.stringify(path)} cannot be read: ${(error as Error).message}`);
  }
}
