import { PVC_PROTECTION_FINALIZER } from './defaulting.js';
import type { GarbageCollector } from './garbage-collector.js';
import { objectKey } from './kube-object.js';
import type { ObjectStore, StoreChange } from './object-store.js';
import { PODS, PVCS } from './resource-registry.js';
import { asPod, asPvc, type PodObject } from './typed-views.js';
import type { WorkScheduler } from './work-scheduler.js';

/**
 * The volume side of the cluster: dynamic provisioning binds new claims (unless disabled, to
 * simulate a storage class that never provisions), and the pvc-protection controller lets a
 * deleted claim go only once no scheduled pod object references it. Like the real controller it
 * counts every pod placed on a node, finished ones included, until the pod object is deleted.
 */
export type PvcBinding = 'bind' | 'pending';

export class PvcController {
  /** `namespace/claim` → names of scheduled pods that reference it. */
  private readonly claimUsers = new Map<string, Set<string>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly collector: GarbageCollector,
    private readonly work: WorkScheduler,
    private readonly binding: PvcBinding,
  ) {
    this.unsubscribe = store.onChange((change) => this.observe(change));
  }

  dispose(): void {
    this.unsubscribe();
  }

  private isInUse(namespace: string, claim: string): boolean {
    return (this.claimUsers.get(objectKey(namespace, claim))?.size ?? 0) > 0;
  }

  /** Provisions a volume for a Pending claim: status Bound with the requested capacity. */
  bind(namespace: string, name: string): void {
    const current = this.store.get(PVCS, namespace, name);
    if (!current || current.metadata.deletionTimestamp || asPvc(current).status?.phase === 'Bound') return;
    this.store.modify(PVCS, namespace, name, (draft) => {
      const pvc = asPvc(draft);
      pvc.spec ??= {};
      pvc.spec.volumeName = `pvc-${draft.metadata.uid ?? name}`;
      draft.metadata.annotations = {
        ...draft.metadata.annotations,
        'pv.kubernetes.io/bind-completed': 'yes',
        'pv.kubernetes.io/bound-by-controller': 'yes',
      };
      const storage = pvc.spec.resources?.requests?.storage;
      pvc.status = { phase: 'Bound', accessModes: pvc.spec.accessModes, capacity: storage === undefined ? {} : { storage } };
    });
  }

  private observe(change: StoreChange): void {
    if (change.resource === PODS) this.observePod(change);
    else if (change.resource === PVCS) this.observeClaim(change);
  }

  private observeClaim(change: StoreChange): void {
    const { namespace = '', name } = change.object.metadata;
    if (change.type === 'ADDED' && this.binding === 'bind') this.work.schedule(() => this.bind(namespace, name));
    if (change.type === 'MODIFIED') this.release(namespace, name);
  }

  private observePod(change: StoreChange): void {
    const before = change.previous ? claimsOf(asPod(change.previous)) : [];
    const after = change.type === 'DELETED' ? [] : claimsOf(asPod(change.object));
    const { namespace = '', name } = change.object.metadata;
    for (const claim of after) {
      const key = objectKey(namespace, claim);
      let users = this.claimUsers.get(key);
      if (!users) this.claimUsers.set(key, (users = new Set()));
      users.add(name);
    }
    for (const claim of before.filter((candidate) => !after.includes(candidate))) {
      const key = objectKey(namespace, claim);
      const users = this.claimUsers.get(key);
      users?.delete(name);
      if (users?.size === 0) this.claimUsers.delete(key);
      this.release(namespace, claim);
    }
  }

  /** Drops the protection finalizer of a Terminating claim nobody uses; the collector then deletes it. */
  private release(namespace: string, claim: string): void {
    const pvc = this.store.get(PVCS, namespace, claim);
    if (!pvc?.metadata.deletionTimestamp || !pvc.metadata.finalizers?.includes(PVC_PROTECTION_FINALIZER)) return;
    if (this.isInUse(namespace, claim)) return;
    this.collector.removeFinalizer(PVCS, namespace, claim, PVC_PROTECTION_FINALIZER);
  }
}

/** Claims a pod holds: only once scheduled, as the kubelet will not start a pod on a Terminating claim. */
function claimsOf(pod: PodObject): string[] {
  if (!pod.spec?.nodeName) return [];
  return (pod.spec.volumes ?? []).flatMap((volume) => (volume.persistentVolumeClaim ? [volume.persistentVolumeClaim.claimName] : []));
}
