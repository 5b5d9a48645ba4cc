import { Job } from 'kubernetes-models/batch/v1/Job';
import { Lease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Event } from 'kubernetes-models/v1/Event';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import {
  defaultJob, defaultPod, defaultPvc, prepareJobForCreate, preparePodForCreate, preparePvcForCreate,
} from './defaulting.js';
import type { FieldError } from './field-errors.js';
import { isJsonObject, type KubeObject } from './kube-object.js';
import type { PropagationPolicy, ResourceType } from './resource-type.js';
import { makeSchemaCheck, type ModelClass } from './schema-validation.js';
import { defaultSecret, validateSecret, validateStorageClass } from './secrets-and-storage-classes.js';
import {
  validateConfigMap, validateConfigMapUpdate, validateEvent, validateJob, validateJobUpdate, validateLease, validatePod, validatePodUpdate,
  validatePvc, validatePvcUpdate,
} from './validation.js';

/**
 * The resources this server registers, with the strategy flags of their real registries
 * (pkg/registry/<group>/<resource>/strategy.go and storage.go).
 */
interface ResourceDefinition {
  readonly plural: string;
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly model: ModelClass;
  readonly clusterScoped?: boolean;
  readonly hasStatus?: boolean;
  readonly deleteReturnsObject?: boolean;
  readonly allowCreateOnUpdate?: boolean;
  readonly allowUnconditionalUpdate?: boolean;
  readonly defaultPropagation?: PropagationPolicy;
  readonly selectableFields?: readonly string[];
  /** Field selector labels whose value is not simply the value at that path. */
  readonly computedFields?: Readonly<Record<string, (object: KubeObject) => string>>;
  readonly quantityPaths?: readonly string[];
  readonly microTimePaths?: readonly string[];
  readonly applyDefaults?: (object: KubeObject) => void;
  readonly prepareForCreate?: (object: KubeObject) => void;
  readonly validate: (object: KubeObject) => FieldError[];
  readonly validateUpdate?: (object: KubeObject, old: KubeObject) => FieldError[];
}

const CONTAINER_QUANTITIES = ['containers.*.resources.requests.*', 'containers.*.resources.limits.*', 'initContainers.*.resources.requests.*', 'initContainers.*.resources.limits.*'];

function readPath(object: KubeObject, path: string): string {
  let current: unknown = object;
  for (const segment of path.split('.')) current = isJsonObject(current) ? current[segment] : undefined;
  return current === undefined || current === null ? '' : String(current);
}

function define(definition: ResourceDefinition): ResourceType {
  const selectable = new Set(['metadata.name', 'metadata.namespace', ...(definition.selectableFields ?? []), ...Object.keys(definition.computedFields ?? {})]);
  const noChange = (): void => undefined;
  return {
    plural: definition.plural,
    kind: definition.kind,
    group: definition.group,
    version: definition.version,
    apiVersion: definition.group ? `${definition.group}/${definition.version}` : definition.version,
    clusterScoped: definition.clusterScoped ?? false,
    hasStatus: definition.hasStatus ?? false,
    deleteReturnsObject: definition.deleteReturnsObject ?? false,
    allowCreateOnUpdate: definition.allowCreateOnUpdate ?? false,
    allowUnconditionalUpdate: definition.allowUnconditionalUpdate ?? true,
    defaultPropagation: definition.defaultPropagation ?? 'Background',
    selectableFields: selectable,
    readField: (object, field) => {
      if (!selectable.has(field)) return undefined;
      const computed = definition.computedFields?.[field];
      return computed ? computed(object) : readPath(object, field);
    },
    checkSchema: makeSchemaCheck({
      model: definition.model,
      kind: definition.kind,
      version: definition.version,
      quantityPaths: definition.quantityPaths,
      microTimePaths: definition.microTimePaths,
    }),
    applyDefaults: definition.applyDefaults ?? noChange,
    prepareForCreate: definition.prepareForCreate ?? noChange,
    validate: definition.validate,
    validateUpdate: definition.validateUpdate ?? ((object) => definition.validate(object)),
  };
}

export const JOBS = define({
  plural: 'jobs',
  kind: 'Job',
  group: 'batch',
  version: 'v1',
  model: Job,
  hasStatus: true,
  // batch/v1 Jobs keep the orphaning default of the old extensions API (jobs strategy DefaultGarbageCollectionPolicy).
  defaultPropagation: 'Orphan',
  computedFields: { 'status.successful': (object) => readPath(object, 'status.succeeded') || '0' },
  quantityPaths: CONTAINER_QUANTITIES.map((path) => `spec.template.spec.${path}`),
  applyDefaults: defaultJob,
  prepareForCreate: prepareJobForCreate,
  validate: validateJob,
  validateUpdate: validateJobUpdate,
});

export const PODS = define({
  plural: 'pods',
  kind: 'Pod',
  group: '',
  version: 'v1',
  model: Pod,
  hasStatus: true,
  deleteReturnsObject: true,
  selectableFields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  quantityPaths: CONTAINER_QUANTITIES.map((path) => `spec.${path}`),
  applyDefaults: defaultPod,
  prepareForCreate: preparePodForCreate,
  validate: validatePod,
  validateUpdate: validatePodUpdate,
});

export const PVCS = define({
  plural: 'persistentvolumeclaims',
  kind: 'PersistentVolumeClaim',
  group: '',
  version: 'v1',
  model: PersistentVolumeClaim,
  hasStatus: true,
  deleteReturnsObject: true,
  quantityPaths: ['spec.resources.requests.*', 'spec.resources.limits.*'],
  applyDefaults: defaultPvc,
  prepareForCreate: preparePvcForCreate,
  validate: validatePvc,
  validateUpdate: validatePvcUpdate,
});

export const CONFIG_MAPS = define({
  plural: 'configmaps',
  kind: 'ConfigMap',
  group: '',
  version: 'v1',
  model: ConfigMap,
  validate: validateConfigMap,
  validateUpdate: validateConfigMapUpdate,
});

export const EVENTS = define({
  plural: 'events',
  kind: 'Event',
  group: '',
  version: 'v1',
  model: Event,
  allowCreateOnUpdate: true,
  selectableFields: [
    'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion',
    'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'type',
  ],
  computedFields: { source: (object) => readPath(object, 'source.component') },
  microTimePaths: ['eventTime', 'series.lastObservedTime'],
  validate: validateEvent,
});

export const LEASES = define({
  plural: 'leases',
  kind: 'Lease',
  group: 'coordination.k8s.io',
  version: 'v1',
  model: Lease,
  allowCreateOnUpdate: true,
  allowUnconditionalUpdate: false,
  microTimePaths: ['spec.acquireTime', 'spec.renewTime'],
  validate: validateLease,
});

export const SECRETS = define({
  plural: 'secrets',
  kind: 'Secret',
  group: '',
  version: 'v1',
  model: Secret,
  selectableFields: ['type'],
  applyDefaults: defaultSecret,
  validate: validateSecret,
});

export const STORAGE_CLASSES = define({
  plural: 'storageclasses',
  kind: 'StorageClass',
  group: 'storage.k8s.io',
  version: 'v1',
  model: StorageClass,
  clusterScoped: true,
  validate: validateStorageClass,
});

export const RESOURCE_TYPES: readonly ResourceType[] = [JOBS, PODS, PVCS, CONFIG_MAPS, EVENTS, LEASES, SECRETS, STORAGE_CLASSES];

/** The resource served at `/api/v1/...` or `/apis/<group>/<version>/...` with this plural name. */
export function findResourceType(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((type) => type.group === group && type.version === version && type.plural === plural);
}
