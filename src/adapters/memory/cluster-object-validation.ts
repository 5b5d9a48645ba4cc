import type { ClusterObject, ConfigMapObject, Container, JobObject, Labels, PvcObject, Volume } from '../../domain/cluster-objects.js';
import { PermanentError } from '../../domain/errors.js';

/**
 * The subset of the API server's validation that lando's objects can violate, so the in-memory
 * cluster refuses what a real one would (e.g. W8's `stage-data-42-Jane.Doe_2`). Messages
 * follow the API's 422 text: `<Kind> "<name>" is invalid: <field>: <problem>`, with several
 * problems listed in brackets.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
/** Kubernetes resource quantities: a decimal number with an optional binary/decimal suffix or exponent. */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

const SUBDOMAIN_MAX = 253;
const LABEL_MAX = 63;
const CONFIG_MAP_MAX_BYTES = 1024 * 1024;
const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

const SUBDOMAIN_TEXT =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_TEXT =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_TEXT =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_TEXT =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const CONFIG_KEY_TEXT =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const ENV_VAR_TEXT =
  "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
const QUANTITY_TEXT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** Collects field errors in the API's wording. */
class FieldErrors {
  readonly messages: string[] = [];

  invalid(field: string, value: string | number, detail: string): void {
    this.messages.push(`${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`);
  }

  required(field: string, detail?: string): void {
    this.messages.push(`${field}: Required value${detail ? `: ${detail}` : ''}`);
  }

  duplicate(field: string, value: string): void {
    this.messages.push(`${field}: Duplicate value: ${JSON.stringify(value)}`);
  }

  notFound(field: string, value: string): void {
    this.messages.push(`${field}: Not found: ${JSON.stringify(value)}`);
  }

  unsupported(field: string, value: string, supported: readonly string[]): void {
    const choices = supported.map((choice) => JSON.stringify(choice)).join(', ');
    this.messages.push(`${field}: Unsupported value: ${JSON.stringify(value)}: supported values: ${choices}`);
  }

  tooLong(field: string, maxBytes: number): void {
    this.messages.push(`${field}: Too long: must have at most ${maxBytes} bytes`);
  }

  /** A name that must be a DNS-1123 label (`label`) or subdomain (`subdomain`) of at most `maxLength` characters. */
  dnsName(field: string, value: string, format: 'label' | 'subdomain', maxLength: number): void {
    if (value === '') {
      this.required(field);
      return;
    }
    if (value.length > maxLength) this.invalid(field, value, `must be no more than ${maxLength} characters`);
    const pattern = format === 'label' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
    if (!pattern.test(value)) this.invalid(field, value, format === 'label' ? LABEL_TEXT : SUBDOMAIN_TEXT);
  }

  labels(field: string, labels: Labels): void {
    for (const [key, value] of Object.entries(labels)) {
      this.labelKey(field, key);
      if (value.length > LABEL_MAX) this.invalid(field, value, `must be no more than ${LABEL_MAX} characters`);
      if (!LABEL_VALUE.test(value)) this.invalid(field, value, LABEL_VALUE_TEXT);
    }
  }

  quantity(field: string, value: string, mustBePositive: boolean): void {
    if (!QUANTITY.test(value)) {
      this.invalid(field, value, QUANTITY_TEXT);
      return;
    }
    const magnitude = Number.parseFloat(value);
    if (magnitude < 0) this.invalid(field, value, 'must be greater than or equal to 0');
    else if (mustBePositive && magnitude === 0) this.invalid(field, value, 'must be greater than zero');
  }

  private labelKey(field: string, key: string): void {
    const slash = key.indexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== undefined) {
      if (prefix.length > SUBDOMAIN_MAX) this.invalid(field, key, `prefix part must be no more than ${SUBDOMAIN_MAX} characters`);
      if (!DNS1123_SUBDOMAIN.test(prefix)) this.invalid(field, key, `prefix part ${SUBDOMAIN_TEXT}`);
    }
    if (name.length > LABEL_MAX) this.invalid(field, key, `name part must be no more than ${LABEL_MAX} characters`);
    if (!QUALIFIED_NAME_PART.test(name)) this.invalid(field, key, QUALIFIED_NAME_TEXT);
  }
}

const RESOURCE_TITLE: Record<ClusterObject['kind'], string> = {
  PersistentVolumeClaim: 'PersistentVolumeClaim',
  ConfigMap: 'ConfigMap',
  Job: 'Job.batch',
};

/** Throws PermanentError listing every field the API server would reject. */
export function validateClusterObject(object: ClusterObject): void {
  const errors = new FieldErrors();
  errors.dnsName('metadata.name', object.metadata.name, 'subdomain', SUBDOMAIN_MAX);
  errors.labels('metadata.labels', object.metadata.labels);
  switch (object.kind) {
    case 'PersistentVolumeClaim':
      validatePvc(object, errors);
      break;
    case 'ConfigMap':
      validateConfigMap(object, errors);
      break;
    case 'Job':
      validateJob(object, errors);
      break;
  }
  if (errors.messages.length === 0) return;
  const listed = errors.messages.length === 1 ? errors.messages[0] : `[${errors.messages.join(', ')}]`;
  throw new PermanentError(`${RESOURCE_TITLE[object.kind]} ${JSON.stringify(object.metadata.name)} is invalid: ${listed}`);
}

/** Throws PermanentError when a label selector could never be sent to the API server. */
export function validateLabelSelector(selector: Labels): void {
  const errors = new FieldErrors();
  errors.labels('labelSelector', selector);
  if (errors.messages.length > 0) throw new PermanentError(`invalid label selector: ${errors.messages.join(', ')}`);
}

function validatePvc(pvc: PvcObject, errors: FieldErrors): void {
  if (pvc.accessModes.length === 0) errors.required('spec.accessModes', 'at least 1 access mode is required');
  for (const mode of pvc.accessModes) {
    if (!ACCESS_MODES.includes(mode)) errors.unsupported('spec.accessModes', mode, ACCESS_MODES);
  }
  if (pvc.storage === '') errors.required('spec.resources[storage]');
  else errors.quantity('spec.resources[storage]', pvc.storage, true);
  if (pvc.storageClassName !== undefined) {
    errors.dnsName('spec.storageClassName', pvc.storageClassName, 'subdomain', SUBDOMAIN_MAX);
  }
}

function validateConfigMap(configMap: ConfigMapObject, errors: FieldErrors): void {
  let totalBytes = 0;
  for (const [key, value] of Object.entries(configMap.data)) {
    if (key.length > SUBDOMAIN_MAX) errors.invalid(`data[${key}]`, key, `must be no more than ${SUBDOMAIN_MAX} characters`);
    if (!CONFIG_KEY.test(key)) errors.invalid(`data[${key}]`, key, CONFIG_KEY_TEXT);
    totalBytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (totalBytes > CONFIG_MAP_MAX_BYTES) errors.tooLong('data', CONFIG_MAP_MAX_BYTES);
}

function validateJob(job: JobObject, errors: FieldErrors): void {
  const name = job.metadata.name;
  // The Job controller copies the name into its pods' `job-name` label, which caps it at 63.
  if (name.length > LABEL_MAX && name.length <= SUBDOMAIN_MAX) {
    errors.invalid('metadata.name', name, `must be no more than ${LABEL_MAX} characters (it becomes the pods' job-name label)`);
  }
  const spec = 'spec.template.spec';
  errors.labels('spec.template.metadata.labels', job.template.metadata.labels);
  if (job.template.serviceAccountName !== undefined) {
    errors.dnsName(`${spec}.serviceAccountName`, job.template.serviceAccountName, 'subdomain', SUBDOMAIN_MAX);
  }
  validateVolumes(job.template.volumes, `${spec}.volumes`, errors);
  validateContainer(job.template.container, new Set(job.template.volumes.map((volume) => volume.name)), `${spec}.containers[0]`, errors);
}

function validateVolumes(volumes: readonly Volume[], field: string, errors: FieldErrors): void {
  const seen = new Set<string>();
  volumes.forEach((volume, index) => {
    const at = `${field}[${index}]`;
    errors.dnsName(`${at}.name`, volume.name, 'label', LABEL_MAX);
    if (seen.has(volume.name)) errors.duplicate(`${at}.name`, volume.name);
    seen.add(volume.name);
    const source = volume.source;
    switch (source.type) {
      case 'pvc':
        if (source.claimName === '') errors.required(`${at}.persistentVolumeClaim.claimName`);
        break;
      case 'configMap':
        errors.dnsName(`${at}.configMap.name`, source.configMapName, 'subdomain', SUBDOMAIN_MAX);
        source.items.forEach((item, itemIndex) => {
          const itemField = `${at}.configMap.items[${itemIndex}]`;
          if (item.key === '') errors.required(`${itemField}.key`);
          if (item.path === '') errors.required(`${itemField}.path`);
          else if (item.path.startsWith('/')) errors.invalid(`${itemField}.path`, item.path, 'must be a relative path');
          else if (item.path.split('/').includes('..')) errors.invalid(`${itemField}.path`, item.path, "must not contain '..'");
        });
        break;
      case 'secret':
        errors.dnsName(`${at}.secret.secretName`, source.secretName, 'subdomain', SUBDOMAIN_MAX);
        break;
    }
  });
}

function validateContainer(container: Container, volumeNames: ReadonlySet<string>, field: string, errors: FieldErrors): void {
  errors.dnsName(`${field}.name`, container.name, 'label', LABEL_MAX);
  if (container.image.trim() === '') errors.required(`${field}.image`);
  container.env.forEach((variable, index) => {
    const at = `${field}.env[${index}].name`;
    if (variable.name === '') errors.required(at);
    else if (!ENV_VAR_NAME.test(variable.name)) errors.invalid(at, variable.name, ENV_VAR_TEXT);
  });
  const cpu = container.requests.cpu;
  if (!Number.isFinite(cpu) || cpu < 0) errors.invalid(`${field}.resources.requests[cpu]`, String(cpu), 'must be greater than or equal to 0');
  errors.quantity(`${field}.resources.requests[memory]`, container.requests.memory, false);
  const mountPaths = new Set<string>();
  container.volumeMounts.forEach((mount, index) => {
    const at = `${field}.volumeMounts[${index}]`;
    if (!volumeNames.has(mount.name)) errors.notFound(`${at}.name`, mount.name);
    if (mount.mountPath === '') errors.required(`${at}.mountPath`);
    else if (mountPaths.has(mount.mountPath)) errors.invalid(`${at}.mountPath`, mount.mountPath, 'must be unique');
    mountPaths.add(mount.mountPath);
  });
}
