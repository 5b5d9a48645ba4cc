/**
 * The operator commands' view of the cluster, in a module of its own: the Kubernetes client
 * takes seconds to load, so `check` and `status` import this only once they need the cluster.
 */
import { K8sInspector } from '../adapters/k8s/k8s-inspector.js';
import type { Logger } from '../ports/logger.js';
import type { AppConfig } from './config.js';
import { clusterCredentials } from './cluster-credentials.js';

export function inspectCluster(config: AppConfig, logger: Logger): K8sInspector {
  return new K8sInspector({ ...clusterCredentials(config), logger });
}
