import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import { invalid, key, notSupported, required, type FieldError } from './field-errors.js';
import type { KubeObject } from './kube-object.js';
import { configMapKeyErrors, qualifiedNameErrors } from './name-rules.js';
import { validateObjectMeta } from './validation.js';

/**
 * The two kinds lando's preflight `check` reads but never writes: core/v1 Secrets (namespaced)
 * and storage.k8s.io/v1 StorageClasses (cluster-scoped). Only what a client can trip over is
 * modelled: stringData folded into data, the default type, key and provisioner rules
 * (pkg/apis/core/validation ValidateSecret, pkg/apis/storage/validation ValidateStorageClass).
 */

type SecretObject = KubeObject & ISecret;
type StorageClassObject = KubeObject & IStorageClass;

const MAX_SECRET_BYTES = 1024 * 1024;
/** The schema also allows Recycle, which validation refuses for storage classes. */
const RECLAIM_POLICIES = ['Delete', 'Retain'];

// Every stored object of a kind passed that kind's schema check, which makes these casts sound.
const asSecret = (object: KubeObject): SecretObject => object as SecretObject;
const asStorageClass = (object: KubeObject): StorageClassObject => object as StorageClassObject;

/** The decoder's conversion: write-only stringData lands in data (base64), overriding equal keys. */
export function defaultSecret(object: KubeObject): void {
  const secret = asSecret(object);
  secret.type ??= 'Opaque';
  if (secret.stringData === undefined) return;
  const data = { ...secret.data };
  for (const [name, text] of Object.entries(secret.stringData)) data[name] = Buffer.from(text, 'utf8').toString('base64');
  secret.data = data;
  delete secret.stringData;
}

export function validateSecret(object: KubeObject): FieldError[] {
  const secret = asSecret(object);
  const errors = validateObjectMeta(secret.metadata);
  let bytes = 0;
  for (const [name, value] of Object.entries(secret.data ?? {})) {
    errors.push(...configMapKeyErrors(name).map((detail) => invalid(key('data', name), name, detail)));
    bytes += Buffer.byteLength(value, 'base64');
  }
  if (bytes > MAX_SECRET_BYTES) errors.push({ type: 'FieldValueTooLong', field: 'data', detail: `must have at most ${MAX_SECRET_BYTES} bytes` });
  return errors;
}

export function validateStorageClass(object: KubeObject): FieldError[] {
  const storageClass = asStorageClass(object);
  const errors = validateObjectMeta(storageClass.metadata);
  const { provisioner, reclaimPolicy } = storageClass;
  if (!provisioner) errors.push(required('provisioner'));
  else errors.push(...qualifiedNameErrors(provisioner.toLowerCase()).map((detail) => invalid('provisioner', provisioner, detail)));
  if (reclaimPolicy !== undefined && !RECLAIM_POLICIES.includes(reclaimPolicy)) errors.push(notSupported('reclaimPolicy', reclaimPolicy, RECLAIM_POLICIES));
  return errors;
}
