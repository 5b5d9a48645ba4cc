import { kubeTime, objectKey, type KubeObject, type OwnerReference } from './kube-object.js';
import type { ObjectStore, StoreChange } from './object-store.js';
import { isTerminal } from './pod-status.js';
import { PODS, RESOURCE_TYPES } from './resource-registry.js';
import type { PropagationPolicy, ResourceType } from './resource-type.js';
import { asPod } from './typed-views.js';
import { WorkScheduler } from './work-scheduler.js';

/**
 * Deletion as a cluster performs it: finalizers hold an object in `Terminating` (deletionTimestamp
 * set, still readable), the garbage collector deletes dependents (`ownerReferences`) of a
 * deleted owner in the background, before it (Foreground) or orphans them, and a running pod
 * goes through graceful termination before the kubelet lets it disappear.
 */
const ORPHAN_FINALIZER = 'orphan';
const FOREGROUND_FINALIZER = 'foregroundDeletion';

export interface DeleteOutcome {
  /** The deleted object, or its Terminating state when finalizers or a grace period hold it. */
  readonly object: KubeObject;
  readonly deletedNow: boolean;
}

export interface GarbageCollectorOptions {
  /** Delay before dependents of a deleted owner are collected (a real GC takes a moment). */
  readonly collectionDelayMs: number;
  /** How long a running pod takes to stop after its deletion was requested. */
  readonly podTerminationMs: number;
  readonly onError: (error: unknown) => void;
}

interface DependentRef {
  readonly resource: ResourceType;
  readonly namespace: string;
  readonly name: string;
}

const dependentKey = (resource: ResourceType, namespace: string, name: string): string => `${resource.plural}.${resource.group}/${namespace}/${name}`;

function ownerResource(reference: OwnerReference): ResourceType | undefined {
  return RESOURCE_TYPES.find((type) => type.apiVersion === reference.apiVersion && type.kind === reference.kind);
}

export class GarbageCollector {
  /** Owner uid → its dependents. */
  private readonly dependents = new Map<string, Map<string, DependentRef>>();
  /** Pods whose containers have stopped but whose own finalizers still hold them. */
  private readonly stoppedPods = new Set<string>();
  private readonly collection: WorkScheduler;
  private readonly kubelet: WorkScheduler;
  private readonly unsubscribe: () => void;

  constructor(private readonly store: ObjectStore, private readonly options: GarbageCollectorOptions) {
    this.collection = new WorkScheduler(options.onError);
    this.kubelet = new WorkScheduler(options.onError);
    this.unsubscribe = store.onChange((change) => this.observe(change));
  }

  /** Holds background collection and finalizer processing, so Terminating objects stay (W14). */
  pause(): void {
    this.collection.pause();
  }

  resume(): void {
    this.collection.resume();
  }

  async settled(): Promise<void> {
    await Promise.all([this.collection.settled(), this.kubelet.settled()]);
  }

  get busy(): boolean {
    return this.collection.pending + this.kubelet.pending > 0;
  }

  dispose(): void {
    this.unsubscribe();
    this.collection.dispose();
    this.kubelet.dispose();
  }

  private dependentsOf(uid: string): DependentRef[] {
    return [...(this.dependents.get(uid)?.values() ?? [])];
  }

  /** A DELETE request: what the registry's graceful deletion and finalizer handling do. */
  delete(resource: ResourceType, object: KubeObject, policy: PropagationPolicy, gracePeriodSeconds?: number): DeleteOutcome {
    const { namespace = '', name } = object.metadata;
    if (object.metadata.deletionTimestamp) return { object, deletedNow: false };
    const finalizers = [...(object.metadata.finalizers ?? [])];
    if (policy === 'Orphan' && !finalizers.includes(ORPHAN_FINALIZER)) finalizers.push(ORPHAN_FINALIZER);
    if (policy === 'Foreground' && !finalizers.includes(FOREGROUND_FINALIZER)) finalizers.push(FOREGROUND_FINALIZER);
    const grace = resource === PODS ? this.podGracePeriod(object, gracePeriodSeconds) : 0;
    if (grace > 0 || finalizers.length > 0) {
      const terminating = this.store.modify(resource, namespace, name, (draft) => {
        draft.metadata.deletionTimestamp = kubeTime(new Date(Date.now() + grace * 1000));
        draft.metadata.deletionGracePeriodSeconds = grace;
        if (finalizers.length > 0) draft.metadata.finalizers = finalizers;
      });
      if (grace > 0) this.kubelet.schedule(() => this.podStopped(namespace, name), this.options.podTerminationMs);
      if (finalizers.includes(ORPHAN_FINALIZER) || finalizers.includes(FOREGROUND_FINALIZER)) {
        this.collection.schedule(() => this.processFinalizers(resource, namespace, name), this.options.collectionDelayMs);
      }
      // Listeners (e.g. PVC protection) may have finished the deletion already; the response still shows Terminating.
      return { object: terminating ?? object, deletedNow: false };
    }
    const removed = this.store.remove(resource, namespace, name);
    if (policy === 'Background' && object.metadata.uid) {
      const uid = object.metadata.uid;
      this.collection.schedule(() => this.collectDependents(uid), this.options.collectionDelayMs);
    }
    return { object: removed, deletedNow: true };
  }

  /** Removes one finalizer; the object goes once the last one is gone and it is being deleted. */
  removeFinalizer(resource: ResourceType, namespace: string, name: string, finalizer: string): void {
    this.store.modify(resource, namespace, name, (draft) => {
      draft.metadata.finalizers = (draft.metadata.finalizers ?? []).filter((candidate) => candidate !== finalizer);
      if (draft.metadata.finalizers.length === 0) delete draft.metadata.finalizers;
    });
  }

  private podGracePeriod(object: KubeObject, requested: number | undefined): number {
    const pod = asPod(object);
    // Unscheduled and finished pods have no running containers to stop: the API server deletes them at once.
    if (!pod.spec?.nodeName || isTerminal(pod)) return 0;
    return requested ?? pod.spec.terminationGracePeriodSeconds ?? 30;
  }

  private podStopped(namespace: string, name: string): void {
    const pod = this.store.get(PODS, namespace, name);
    if (!pod) return;
    if ((pod.metadata.finalizers ?? []).length > 0) this.stoppedPods.add(objectKey(namespace, name));
    else this.store.remove(PODS, namespace, name);
  }

  private collectDependents(ownerUid: string): void {
    for (const dependent of this.dependentsOf(ownerUid)) {
      const object = this.store.get(dependent.resource, dependent.namespace, dependent.name);
      if (object && !object.metadata.deletionTimestamp) this.delete(dependent.resource, object, 'Background');
    }
  }

  private processFinalizers(resource: ResourceType, namespace: string, name: string): void {
    const object = this.store.get(resource, namespace, name);
    const uid = object?.metadata.uid;
    if (!object || !uid) return;
    const finalizers = object.metadata.finalizers ?? [];
    if (finalizers.includes(ORPHAN_FINALIZER)) {
      for (const dependent of this.dependentsOf(uid)) {
        this.store.modify(dependent.resource, dependent.namespace, dependent.name, (draft) => {
          draft.metadata.ownerReferences = (draft.metadata.ownerReferences ?? []).filter((reference) => reference.uid !== uid);
          if (draft.metadata.ownerReferences.length === 0) delete draft.metadata.ownerReferences;
        });
      }
      this.removeFinalizer(resource, namespace, name, ORPHAN_FINALIZER);
    }
    if (finalizers.includes(FOREGROUND_FINALIZER)) {
      const remaining = this.dependentsOf(uid);
      if (remaining.length === 0) this.removeFinalizer(resource, namespace, name, FOREGROUND_FINALIZER);
      else this.collectDependents(uid);
    }
  }

  private observe(change: StoreChange): void {
    const { resource, object, previous } = change;
    const { namespace = '', name } = object.metadata;
    const key = dependentKey(resource, namespace, name);
    for (const reference of previous?.metadata.ownerReferences ?? []) {
      const owned = this.dependents.get(reference.uid);
      owned?.delete(key);
      if (owned?.size === 0) this.dependents.delete(reference.uid);
    }
    if (change.type !== 'DELETED') {
      for (const reference of object.metadata.ownerReferences ?? []) {
        let owned = this.dependents.get(reference.uid);
        if (!owned) this.dependents.set(reference.uid, (owned = new Map()));
        owned.set(key, { resource, namespace, name });
      }
    }
    if (change.type === 'DELETED') {
      // A deleted owner keeps its dependents listed: background collection still has to find them.
      this.stoppedPods.delete(objectKey(namespace, name));
      this.finishForegroundOwners(previous ?? object);
      return;
    }
    if (object.metadata.deletionTimestamp && (object.metadata.finalizers ?? []).length === 0 && this.mayDisappear(resource, object)) {
      this.store.remove(resource, namespace, name);
    }
  }

  private mayDisappear(resource: ResourceType, object: KubeObject): boolean {
    if (resource !== PODS) return true;
    const pod = asPod(object);
    return !pod.spec?.nodeName || isTerminal(pod) || this.stoppedPods.has(objectKey(object.metadata.namespace ?? '', object.metadata.name));
  }

  /** A dependent went away: an owner waiting in foreground deletion may now be done. */
  private finishForegroundOwners(dependent: KubeObject): void {
    for (const reference of dependent.metadata.ownerReferences ?? []) {
      const resource = ownerResource(reference);
      if (!resource) continue;
      const owner = this.store.get(resource, dependent.metadata.namespace ?? '', reference.name);
      if (owner?.metadata.uid === reference.uid && owner.metadata.finalizers?.includes(FOREGROUND_FINALIZER)) {
        this.collection.schedule(() => this.processFinalizers(resource, owner.metadata.namespace ?? '', owner.metadata.name));
      }
    }
  }
}
