import type { AppConfig } from './config.js';

/**
 * The cluster settings as the Kubernetes adapters take them. A module of its own so the
 * operator commands get them without loading the roles' whole object graph.
 */
export function clusterCredentials(config: AppConfig) {
  const cluster = config.clusterApiSettings;
  return {
    ...(cluster.host === undefined ? {} : { host: cluster.host }),
    ...(cluster.token === undefined ? {} : { token: cluster.token }),
    namespace: cluster.namespace,
    verifySsl: cluster.verifySsl,
    ...(cluster.sslCaCert === undefined ? {} : { sslCaCert: cluster.sslCaCert }),
  };
}
