/**
 * Kubernetes objects as the domain describes them: everything kubernetes.md fixes, and no
 * SDK types. The k8s adapter translates these field for field into API bodies.
 */
export type Labels = Readonly<Record<string, string>>;

export type ObjectKind = 'PersistentVolumeClaim' | 'ConfigMap' | 'Job';

export interface ObjectMeta {
  readonly name: string;
  readonly labels: Labels;
}

export interface PvcObject {
  readonly kind: 'PersistentVolumeClaim';
  readonly metadata: ObjectMeta;
  readonly accessModes: readonly string[];
  /** Kubernetes quantity, e.g. `7Gi`. */
  readonly storage: string;
  /** Absent means the cluster's default storage class. */
  readonly storageClassName?: string;
}

export interface ConfigMapObject {
  readonly kind: 'ConfigMap';
  readonly metadata: ObjectMeta;
  readonly data: Readonly<Record<string, string>>;
}

export type EnvVar =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly fieldPath: string };

export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
}

export type VolumeSource =
  | { readonly type: 'pvc'; readonly claimName: string; readonly readOnly: boolean }
  | { readonly type: 'configMap'; readonly configMapName: string; readonly items: readonly { key: string; path: string }[] }
  | { readonly type: 'secret'; readonly secretName: string };

export interface Volume {
  readonly name: string;
  readonly source: VolumeSource;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly workingDir?: string;
  readonly env: readonly EnvVar[];
  readonly requests: { readonly cpu: number; readonly memory: string };
  readonly volumeMounts: readonly VolumeMount[];
}

export interface JobObject {
  readonly kind: 'Job';
  readonly metadata: ObjectMeta;
  readonly template: {
    readonly metadata: ObjectMeta;
    readonly container: Container;
    readonly volumes: readonly Volume[];
    readonly serviceAccountName?: string;
  };
}

export type ClusterObject = PvcObject | ConfigMapObject | JobObject;

/** A listed object: enough to delete it and to tell whose it is. */
export interface ObjectRef {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly labels: Labels;
}

/** A Job condition as the API reports it (`status` is the string "True"/"False"/"Unknown"). */
export interface JobCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

/** What the watcher needs to know about a Job. */
export interface JobStatusView {
  readonly name: string;
  readonly uid: string;
  readonly labels: Labels;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly conditions: readonly JobCondition[];
  readonly creationTimestamp?: string;
}

export interface ContainerWaiting {
  readonly container: string;
  readonly reason: string;
  readonly message?: string;
}

/** What lando and the watcher need to know about a pod. */
export interface PodView {
  readonly name: string;
  readonly labels: Labels;
  readonly annotations: Readonly<Record<string, string>>;
  readonly creationTimestamp: string;
  readonly phase: string;
  readonly waiting: readonly ContainerWaiting[];
  /** The PodScheduled condition, when the scheduler has said something. */
  readonly scheduled?: { readonly status: string; readonly reason?: string; readonly message?: string; readonly since?: string };
}

export interface ClusterEvent {
  readonly reason: string;
  readonly message: string;
  readonly type: string;
  readonly lastTimestamp?: string;
}
