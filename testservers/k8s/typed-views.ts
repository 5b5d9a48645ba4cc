import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IEvent } from 'kubernetes-models/v1/Event';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { KubeObject } from './kube-object.js';

/**
 * Typed views of stored objects, using the official model interfaces. Every stored object of a
 * kind passed that kind's schema check (or was built by the simulated controllers), which is
 * what makes these narrowing casts sound.
 */
export type JobObject = KubeObject & IJob;
export type PodObject = KubeObject & IPod;
export type PvcObject = KubeObject & IPersistentVolumeClaim;
export type ConfigMapObject = KubeObject & IConfigMap;
export type LeaseObject = KubeObject & ILease;
export type EventObject = KubeObject & IEvent;

export const asJob = (object: KubeObject): JobObject => object as JobObject;
export const asPod = (object: KubeObject): PodObject => object as PodObject;
export const asPvc = (object: KubeObject): PvcObject => object as PvcObject;
export const asConfigMap = (object: KubeObject): ConfigMapObject => object as ConfigMapObject;
export const asLease = (object: KubeObject): LeaseObject => object as LeaseObject;
export const asEvent = (object: KubeObject): EventObject => object as EventObject;
