import type { ObjectStore } from './object-store.js';
import { CONFIG_MAPS, PVCS } from './resource-registry.js';
import { asConfigMap, asPvc, type PodObject } from './typed-views.js';

/**
 * Why a pod cannot start yet, as the scheduler and kubelet would report it: claims that are
 * missing, being deleted or unbound keep it unscheduled; a missing ConfigMap volume or key keeps
 * its container waiting. Secret volumes count as present: few tests seed the data-store Secret.
 */
export type StartBlocker =
  | { readonly kind: 'unschedulable'; readonly message: string }
  | { readonly kind: 'waiting'; readonly reason: string; readonly message: string; readonly eventReason: string };

const PREEMPTION = 'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';

export function startBlocker(store: ObjectStore, pod: PodObject): StartBlocker | undefined {
  const namespace = pod.metadata.namespace ?? '';
  const volumes = pod.spec?.volumes ?? [];
  for (const volume of volumes) {
    const claimName = volume.persistentVolumeClaim?.claimName;
    if (!claimName) continue;
    const claim = store.get(PVCS, namespace, claimName);
    let problem: string | undefined;
    if (!claim) problem = `persistentvolumeclaim ${JSON.stringify(claimName)} not found`;
    else if (claim.metadata.deletionTimestamp) problem = `persistentvolumeclaim ${JSON.stringify(claimName)} is being deleted`;
    else if (asPvc(claim).status?.phase !== 'Bound') problem = 'pod has unbound immediate PersistentVolumeClaims';
    if (problem) return { kind: 'unschedulable', message: `0/1 nodes are available: ${problem}. ${PREEMPTION}` };
  }
  for (const volume of volumes) {
    const source = volume.configMap;
    if (!source?.name || source.optional === true) continue;
    if (!store.get(CONFIG_MAPS, namespace, source.name)) {
      return {
        kind: 'waiting',
        reason: 'ContainerCreating',
        eventReason: 'FailedMount',
        message: `MountVolume.SetUp failed for volume ${JSON.stringify(volume.name)} : configmap ${JSON.stringify(source.name)} not found`,
      };
    }
  }
  for (const container of pod.spec?.containers ?? []) {
    for (const variable of container.env ?? []) {
      const reference = variable.valueFrom?.configMapKeyRef;
      if (!reference?.name || reference.optional === true) continue;
      const configMap = store.get(CONFIG_MAPS, namespace, reference.name);
      let message: string | undefined;
      if (!configMap) message = `configmap ${JSON.stringify(reference.name)} not found`;
      else if (!Object.hasOwn(asConfigMap(configMap).data ?? {}, reference.key)) message = `couldn't find key ${reference.key} in ConfigMap ${namespace}/${reference.name}`;
      if (message) return { kind: 'waiting', reason: 'CreateContainerConfigError', eventReason: 'Failed', message: `Error: ${message}` };
    }
  }
  return undefined;
}
