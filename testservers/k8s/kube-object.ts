import { randomBytes, randomUUID } from 'node:crypto';

/**
 * The object shapes the test server stores. Bodies are checked against the official schema
 * (kubernetes-models) at the API boundary, so everything past that point can rely on the
 * field types; the index signature keeps the kind-specific fields the store does not read.
 */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Store key: namespace and name, the order etcd lists objects in. */
export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function keyOf(object: KubeObject): string {
  return objectKey(object.metadata.namespace ?? '', object.metadata.name);
}

/**
 * Stored objects are never mutated in place (watch history and earlier responses share them),
 * so every change works on a copy. They are plain JSON, and a JSON round trip copies that
 * faster than structuredClone (it also drops undefined fields, as the wire format would).
 */
export function cloneObject<T>(object: T): T {
  return JSON.parse(JSON.stringify(object)) as T;
}

let cachedSecond = -1;
let cachedTime = '';

/** metav1.Time: RFC 3339 with whole seconds, as the API server writes it. */
export function kubeTime(date?: Date): string {
  if (date) return `${date.toISOString().slice(0, 19)}Z`;
  // Controllers stamp several times per write; formatting once per second keeps 10,000-Job runs cheap.
  const second = Math.floor(Date.now() / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedTime = `${new Date(second * 1000).toISOString().slice(0, 19)}Z`;
  }
  return cachedTime;
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function kubeMicroTime(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 23)}000Z`;
}

// The alphabet apimachinery's rand.String uses for generated names (no vowels, no look-alikes).
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const GENERATED_SUFFIX_LENGTH = 5;
const MAX_GENERATED_BASE_LENGTH = 63 - GENERATED_SUFFIX_LENGTH;

function randomNameSuffix(length = GENERATED_SUFFIX_LENGTH): string {
  const bytes = randomBytes(length);
  let suffix = '';
  for (const byte of bytes) suffix += NAME_ALPHABET[byte % NAME_ALPHABET.length];
  return suffix;
}

/** `metadata.generateName` handling of the API server (base truncated to 58 characters). */
export function generateName(base: string): string {
  return `${base.slice(0, MAX_GENERATED_BASE_LENGTH)}${randomNameSuffix()}`;
}

/** The identity the API server gives every new object. */
export function stampNew(object: KubeObject): void {
  object.metadata.uid = randomUUID();
  object.metadata.creationTimestamp = kubeTime();
}

export function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length);
}

/** Deep structural equality of JSON values (key order ignored), used to detect no-op writes. */
export function jsonEqual(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (Array.isArray(left)) {
    return Array.isArray(right) && left.length === right.length && left.every((item, index) => jsonEqual(item, right[index]));
  }
  if (isJsonObject(left) && isJsonObject(right)) {
    const leftKeys = Object.keys(left).filter((key) => left[key] !== undefined);
    const rightKeys = Object.keys(right).filter((key) => right[key] !== undefined);
    return leftKeys.length === rightKeys.length && leftKeys.every((key) => jsonEqual(left[key], right[key]));
  }
  return false;
}
