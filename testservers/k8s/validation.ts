import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import {
  child, duplicate, forbidden, GoLiteral, index, invalid, key, notFound, notSupported, required, type FieldError,
} from './field-errors.js';
import { jsonEqual, type KubeObject, type ObjectMeta } from './kube-object.js';
import {
  configMapKeyErrors, dns1123LabelErrors, dns1123SubdomainErrors, envVarNameErrors, labelValueErrors, parseQuantity, qualifiedNameErrors,
} from './name-rules.js';
import { asConfigMap, asEvent, asJob, asLease, asPod, asPvc } from './typed-views.js';

/**
 * The semantic validation of the API server (pkg/apis/*\/validation), for the kinds this
 * server stores and the rules their clients can trip over: names, labels, required fields,
 * cross references (volumeMounts → volumes) and immutability on update. Field paths and
 * wording follow the Go code so Status causes match a real cluster's.
 */

const POD_RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const JOB_RESTART_POLICIES = ['OnFailure', 'Never'];
const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const ENV_FIELD_PATHS = [
  'metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName',
  'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs',
];
const ENV_FIELD_PATH_SUBSCRIPT_RE = /^metadata\.(labels|annotations)\['[^']+'\]$/;
const TOTAL_ANNOTATION_BYTES = 256 * 1024;
const MAX_CONFIG_MAP_BYTES = 1024 * 1024;
const NON_NEGATIVE = 'must be greater than or equal to 0';
const IMMUTABLE = 'field is immutable';

const invalidEach = (field: string, value: unknown, details: readonly string[]): FieldError[] => details.map((detail) => invalid(field, value, detail));

export function validateLabels(labels: Readonly<Record<string, string>> | undefined, path: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [label, value] of Object.entries(labels ?? {})) {
    errors.push(...invalidEach(path, label, qualifiedNameErrors(label)));
    errors.push(...invalidEach(path, value, labelValueErrors(value)));
  }
  return errors;
}

function validateAnnotations(annotations: Readonly<Record<string, string>> | undefined, path: string): FieldError[] {
  const errors: FieldError[] = [];
  let bytes = 0;
  for (const [annotation, value] of Object.entries(annotations ?? {})) {
    errors.push(...invalidEach(path, annotation, qualifiedNameErrors(annotation.toLowerCase())));
    bytes += Buffer.byteLength(annotation) + Buffer.byteLength(value);
  }
  if (bytes > TOTAL_ANNOTATION_BYTES) errors.push({ type: 'FieldValueTooLong', field: path, detail: `must have at most ${TOTAL_ANNOTATION_BYTES} bytes` });
  return errors;
}

export function validateObjectMeta(meta: ObjectMeta): FieldError[] {
  const errors: FieldError[] = [];
  if (!meta.name) errors.push(required('metadata.name', 'name or generateName is required'));
  else errors.push(...invalidEach('metadata.name', meta.name, dns1123SubdomainErrors(meta.name)));
  errors.push(...validateLabels(meta.labels, 'metadata.labels'));
  errors.push(...validateAnnotations(meta.annotations, 'metadata.annotations'));
  (meta.finalizers ?? []).forEach((finalizer, position) => {
    errors.push(...invalidEach(index('metadata.finalizers', position), finalizer, qualifiedNameErrors(finalizer)));
  });
  return errors;
}

function nonNegative(value: number | undefined, field: string): FieldError[] {
  return value !== undefined && value < 0 ? [invalid(field, value, NON_NEGATIVE)] : [];
}

function validateLocalPath(value: string, field: string): FieldError[] {
  if (value.startsWith('/')) return [invalid(field, value, 'must be a relative path')];
  if (value.split('/').includes('..')) return [invalid(field, value, "must not contain '..'")];
  return [];
}

function validateVolumeSource(volume: IVolume, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const sources = Object.entries(volume).filter(([field, value]) => field !== 'name' && value != null).map(([field]) => field);
  if (sources.length === 0) errors.push(required(path, 'must specify a volume type'));
  else if (sources.length > 1) errors.push(forbidden(child(path, sources[1]), 'may not specify more than 1 volume type'));
  if (volume.persistentVolumeClaim && !volume.persistentVolumeClaim.claimName) {
    errors.push(required(child(child(path, 'persistentVolumeClaim'), 'claimName')));
  }
  if (volume.secret && !volume.secret.secretName) errors.push(required(child(child(path, 'secret'), 'secretName')));
  (volume.configMap?.items ?? []).forEach((item, position) => {
    const itemPath = index(child(child(path, 'configMap'), 'items'), position);
    if (!item.key) errors.push(required(child(itemPath, 'key')));
    else errors.push(...invalidEach(child(itemPath, 'key'), item.key, configMapKeyErrors(item.key)));
    if (!item.path) errors.push(required(child(itemPath, 'path')));
    else errors.push(...validateLocalPath(item.path, child(itemPath, 'path')));
  });
  return errors;
}

function validateVolumes(volumes: readonly IVolume[], path: string, names: Set<string>): FieldError[] {
  const errors: FieldError[] = [];
  volumes.forEach((volume, position) => {
    const volumePath = index(path, position);
    const namePath = child(volumePath, 'name');
    if (!volume.name) {
      errors.push(required(namePath));
    } else {
      errors.push(...invalidEach(namePath, volume.name, dns1123LabelErrors(volume.name)));
      if (names.has(volume.name)) errors.push(duplicate(namePath, volume.name));
      names.add(volume.name);
    }
    errors.push(...validateVolumeSource(volume, volumePath));
  });
  return errors;
}

function validateEnv(env: readonly IEnvVar[], path: string): FieldError[] {
  const errors: FieldError[] = [];
  env.forEach((variable, position) => {
    const variablePath = index(path, position);
    if (!variable.name) errors.push(required(child(variablePath, 'name')));
    else errors.push(...invalidEach(child(variablePath, 'name'), variable.name, envVarNameErrors(variable.name)));
    const from = variable.valueFrom;
    if (!from) return;
    const fromPath = child(variablePath, 'valueFrom');
    if (variable.value) errors.push(invalid(fromPath, '', 'may not be specified when `value` is not empty'));
    const references = Object.entries(from).filter(([, value]) => value != null);
    if (references.length === 0) errors.push(invalid(fromPath, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (references.length > 1) errors.push(invalid(fromPath, '', 'may not have more than one field specified at a time'));
    if (from.fieldRef) {
      const fieldPath = child(child(fromPath, 'fieldRef'), 'fieldPath');
      const wanted = from.fieldRef.fieldPath;
      if (!wanted) errors.push(required(fieldPath));
      else if (!ENV_FIELD_PATHS.includes(wanted) && !ENV_FIELD_PATH_SUBSCRIPT_RE.test(wanted)) errors.push(notSupported(fieldPath, wanted, ENV_FIELD_PATHS));
    }
  });
  return errors;
}

function validateResources(container: IContainer, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const requests = container.resources?.requests ?? {};
  const limits = container.resources?.limits ?? {};
  for (const [group, values] of [['requests', requests], ['limits', limits]] as const) {
    for (const [resource, value] of Object.entries(values)) {
      const amount = parseQuantity(value);
      if (amount !== undefined && amount < 0) errors.push(invalid(key(child(child(path, 'resources'), group), resource), String(value), NON_NEGATIVE));
    }
  }
  for (const [resource, value] of Object.entries(requests)) {
    const limit = limits[resource];
    if (limit === undefined) continue;
    const requested = parseQuantity(value);
    const allowed = parseQuantity(limit);
    if (requested !== undefined && allowed !== undefined && requested > allowed) {
      errors.push(invalid(key(child(child(path, 'resources'), 'requests'), resource), String(value), `must be less than or equal to ${resource} limit of ${String(limit)}`));
    }
  }
  return errors;
}

function validateContainers(containers: readonly IContainer[], path: string, volumeNames: ReadonlySet<string>, containerNames: Set<string>): FieldError[] {
  const errors: FieldError[] = [];
  containers.forEach((container, position) => {
    const containerPath = index(path, position);
    const namePath = child(containerPath, 'name');
    if (!container.name) {
      errors.push(required(namePath));
    } else {
      errors.push(...invalidEach(namePath, container.name, dns1123LabelErrors(container.name)));
      if (containerNames.has(container.name)) errors.push(duplicate(namePath, container.name));
      containerNames.add(container.name);
    }
    if (!container.image) errors.push(required(child(containerPath, 'image')));
    else if (container.image.trim() !== container.image) errors.push(invalid(child(containerPath, 'image'), container.image, 'must not have leading or trailing whitespace'));
    errors.push(...validateEnv(container.env ?? [], child(containerPath, 'env')));
    const mountPaths = new Set<string>();
    (container.volumeMounts ?? []).forEach((mount, mountPosition) => {
      const mountPath = index(child(containerPath, 'volumeMounts'), mountPosition);
      if (!mount.name) errors.push(required(child(mountPath, 'name')));
      else if (!volumeNames.has(mount.name)) errors.push(notFound(child(mountPath, 'name'), mount.name));
      if (!mount.mountPath) errors.push(required(child(mountPath, 'mountPath')));
      else if (mountPaths.has(mount.mountPath)) errors.push(invalid(child(mountPath, 'mountPath'), mount.mountPath, 'must be unique'));
      else mountPaths.add(mount.mountPath);
    });
    errors.push(...validateResources(container, containerPath));
  });
  return errors;
}

export function validatePodSpec(spec: IPodSpec | undefined, path: string): FieldError[] {
  const containersPath = child(path, 'containers');
  if (!spec) return [required(containersPath)];
  const errors: FieldError[] = [];
  const volumeNames = new Set<string>();
  errors.push(...validateVolumes(spec.volumes ?? [], child(path, 'volumes'), volumeNames));
  if (!spec.containers || spec.containers.length === 0) errors.push(required(containersPath));
  const containerNames = new Set<string>();
  errors.push(...validateContainers(spec.containers ?? [], containersPath, volumeNames, containerNames));
  errors.push(...validateContainers(spec.initContainers ?? [], child(path, 'initContainers'), volumeNames, containerNames));
  if (spec.restartPolicy !== undefined && !POD_RESTART_POLICIES.includes(spec.restartPolicy)) {
    errors.push(notSupported(child(path, 'restartPolicy'), spec.restartPolicy, POD_RESTART_POLICIES));
  }
  if (spec.serviceAccountName) {
    errors.push(...invalidEach(child(path, 'serviceAccountName'), spec.serviceAccountName, dns1123SubdomainErrors(spec.serviceAccountName)));
  }
  errors.push(...nonNegative(spec.terminationGracePeriodSeconds, child(path, 'terminationGracePeriodSeconds')));
  return errors;
}

export function validateJob(object: KubeObject): FieldError[] {
  const job = asJob(object);
  const errors = validateObjectMeta(job.metadata);
  const spec = job.spec;
  if (!spec) return [...errors, required('spec.template.spec.containers')];
  errors.push(...nonNegative(spec.parallelism, 'spec.parallelism'));
  errors.push(...nonNegative(spec.completions, 'spec.completions'));
  errors.push(...nonNegative(spec.backoffLimit, 'spec.backoffLimit'));
  errors.push(...nonNegative(spec.activeDeadlineSeconds, 'spec.activeDeadlineSeconds'));
  errors.push(...nonNegative(spec.ttlSecondsAfterFinished, 'spec.ttlSecondsAfterFinished'));
  const templateLabels = spec.template.metadata?.labels ?? {};
  if (spec.manualSelector !== true) {
    const generated = { matchLabels: { 'batch.kubernetes.io/controller-uid': job.metadata.uid ?? '' } };
    if (!jsonEqual(spec.selector, generated)) errors.push(invalid('spec.selector', spec.selector, '`selector` not auto-generated'));
  } else if (!spec.selector) {
    errors.push(required('spec.selector'));
  } else if (!Object.entries(spec.selector.matchLabels ?? {}).every(([label, value]) => templateLabels[label] === value)) {
    errors.push(invalid('spec.template.metadata.labels', templateLabels, '`selector` does not match template `labels`'));
  }
  errors.push(...validateLabels(templateLabels, 'spec.template.labels'));
  errors.push(...validateAnnotations(spec.template.metadata?.annotations, 'spec.template.annotations'));
  errors.push(...validatePodSpec(spec.template.spec, 'spec.template.spec'));
  const restartPolicy = spec.template.spec?.restartPolicy;
  if (restartPolicy !== undefined && !JOB_RESTART_POLICIES.includes(restartPolicy)) {
    errors.push(notSupported('spec.template.spec.restartPolicy', restartPolicy, JOB_RESTART_POLICIES));
  }
  return errors;
}

export function validateJobUpdate(object: KubeObject, old: KubeObject): FieldError[] {
  const errors = validateJob(object);
  const spec = asJob(object).spec;
  const oldSpec = asJob(old).spec;
  if (!jsonEqual(spec?.template, oldSpec?.template)) errors.push(invalid('spec.template', new GoLiteral('core.PodTemplateSpec{...}'), IMMUTABLE));
  if (!jsonEqual(spec?.selector, oldSpec?.selector)) errors.push(invalid('spec.selector', spec?.selector, IMMUTABLE));
  if (spec?.completions !== oldSpec?.completions) errors.push(invalid('spec.completions', spec?.completions, IMMUTABLE));
  if (spec?.completionMode !== oldSpec?.completionMode) errors.push(invalid('spec.completionMode', spec?.completionMode, IMMUTABLE));
  return errors;
}

export function validatePod(object: KubeObject): FieldError[] {
  const pod = asPod(object);
  return [...validateObjectMeta(pod.metadata), ...validatePodSpec(pod.spec, 'spec')];
}

/** Pods: only images, activeDeadlineSeconds and tolerations may change after creation. */
export function validatePodUpdate(object: KubeObject, old: KubeObject): FieldError[] {
  const errors = validatePod(object);
  const spec = asPod(object).spec;
  const oldSpec = asPod(old).spec;
  if (spec && oldSpec) {
    const comparable = structuredClone(spec);
    comparable.activeDeadlineSeconds = oldSpec.activeDeadlineSeconds;
    comparable.tolerations = oldSpec.tolerations;
    comparable.containers.forEach((container, position) => {
      const before = oldSpec.containers[position];
      if (before) container.image = before.image;
    });
    if (!jsonEqual(comparable, oldSpec)) {
      errors.push(forbidden('spec', 'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'));
    }
  }
  return errors;
}

export function validatePvc(object: KubeObject): FieldError[] {
  const pvc = asPvc(object);
  const errors = validateObjectMeta(pvc.metadata);
  const spec = pvc.spec ?? {};
  const modes = spec.accessModes ?? [];
  if (modes.length === 0) errors.push(required('spec.accessModes', 'at least 1 access mode is required'));
  for (const mode of modes) if (!ACCESS_MODES.includes(mode)) errors.push(notSupported('spec.accessModes', mode, ACCESS_MODES));
  const storage = spec.resources?.requests?.storage;
  if (storage === undefined) errors.push(required('spec.resources[storage]'));
  else if ((parseQuantity(storage) ?? 0) <= 0) errors.push(invalid('spec.resources[storage]', String(storage), 'must be greater than zero'));
  if (spec.storageClassName) errors.push(...invalidEach('spec.storageClassName', spec.storageClassName, dns1123SubdomainErrors(spec.storageClassName)));
  return errors;
}

export function validatePvcUpdate(object: KubeObject, old: KubeObject): FieldError[] {
  const errors = validatePvc(object);
  const spec = structuredClone(asPvc(object).spec ?? {});
  const oldSpec = asPvc(old).spec ?? {};
  spec.resources = { ...spec.resources, requests: oldSpec.resources?.requests };
  spec.volumeAttributesClassName = oldSpec.volumeAttributesClassName;
  if (!oldSpec.volumeName) spec.volumeName = oldSpec.volumeName;
  if (!jsonEqual(spec, oldSpec)) errors.push(forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  return errors;
}

export function validateConfigMap(object: KubeObject): FieldError[] {
  const configMap = asConfigMap(object);
  const errors = validateObjectMeta(configMap.metadata);
  let bytes = 0;
  for (const [dataKey, value] of Object.entries(configMap.data ?? {})) {
    errors.push(...invalidEach(key('data', dataKey), dataKey, configMapKeyErrors(dataKey)));
    bytes += Buffer.byteLength(value);
  }
  for (const [dataKey, value] of Object.entries(configMap.binaryData ?? {})) {
    errors.push(...invalidEach(key('binaryData', dataKey), dataKey, configMapKeyErrors(dataKey)));
    if (configMap.data && Object.hasOwn(configMap.data, dataKey)) errors.push(duplicate(key('data', dataKey), dataKey));
    bytes += Buffer.byteLength(value, 'base64');
  }
  if (bytes > MAX_CONFIG_MAP_BYTES) errors.push({ type: 'FieldValueTooLong', field: 'data', detail: `must have at most ${MAX_CONFIG_MAP_BYTES} bytes` });
  return errors;
}

export function validateConfigMapUpdate(object: KubeObject, old: KubeObject): FieldError[] {
  const errors = validateConfigMap(object);
  const configMap = asConfigMap(object);
  const previous = asConfigMap(old);
  if (previous.immutable === true) {
    if (configMap.immutable !== true) errors.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
    if (!jsonEqual(configMap.data, previous.data) || !jsonEqual(configMap.binaryData, previous.binaryData)) {
      errors.push(forbidden('data', 'field is immutable when `immutable` is set'));
    }
  }
  return errors;
}

export function validateLease(object: KubeObject): FieldError[] {
  const lease = asLease(object);
  const errors = validateObjectMeta(lease.metadata);
  const duration = lease.spec?.leaseDurationSeconds;
  if (duration !== undefined && duration <= 0) errors.push(invalid('spec.leaseDurationSeconds', duration, 'must be greater than 0'));
  errors.push(...nonNegative(lease.spec?.leaseTransitions, 'spec.leaseTransitions'));
  return errors;
}

export function validateEvent(object: KubeObject): FieldError[] {
  const event = asEvent(object);
  const errors = validateObjectMeta(event.metadata);
  const involvedNamespace = event.involvedObject.namespace;
  if (involvedNamespace && involvedNamespace !== event.metadata.namespace) {
    errors.push(invalid('involvedObject.namespace', involvedNamespace, 'does not match event.namespace'));
  }
  return errors;
}
