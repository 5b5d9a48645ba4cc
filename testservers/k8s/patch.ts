import { unprocessablePatchError } from './api-status.js';
import { isJsonObject, jsonEqual, type JsonObject } from './kube-object.js';

/**
 * The three patch formats the API server accepts as JSON: RFC 6902 JSON Patch (client-node's
 * default), RFC 7386 JSON Merge Patch (`kubectl annotate`), and strategic merge patch, applied
 * here with merge-patch semantics, which is what it does for maps such as labels and annotations.
 */
export const JSON_PATCH = 'application/json-patch+json';
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const APPLY_PATCH = 'application/apply-patch+yaml';
export const PATCH_TYPES: readonly string[] = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH];

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return structuredClone(patch);
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete result[field];
    else result[field] = mergePatch(result[field], value);
  }
  return result;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw unprocessablePatchError(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer.slice(1).split('/').map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

interface Location {
  readonly parent: JsonObject | unknown[];
  readonly key: string;
}

function locate(document: unknown, pointer: string): Location {
  const segments = pointerSegments(pointer);
  if (segments.length === 0) throw unprocessablePatchError('the root of the object cannot be patched');
  let current = document;
  for (const segment of segments.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isJsonObject(current)) current = current[segment];
    else current = undefined;
    if (current === undefined) throw unprocessablePatchError(`doc is missing path: ${JSON.stringify(pointer)}`);
  }
  if (!Array.isArray(current) && !isJsonObject(current)) throw unprocessablePatchError(`doc is missing path: ${JSON.stringify(pointer)}`);
  return { parent: current, key: segments.at(-1) ?? '' };
}

function arrayIndex(list: unknown[], key: string, forInsert: boolean): number {
  if (forInsert && key === '-') return list.length;
  const position = Number(key);
  const limit = forInsert ? list.length : list.length - 1;
  if (!/^(0|[1-9][0-9]*)$/.test(key) || position > limit) throw unprocessablePatchError(`index out of range: ${key}`);
  return position;
}

function read(document: unknown, pointer: string): unknown {
  const { parent, key } = locate(document, pointer);
  const value = Array.isArray(parent) ? parent[arrayIndex(parent, key, false)] : parent[key];
  if (value === undefined) throw unprocessablePatchError(`doc is missing path: ${JSON.stringify(pointer)}`);
  return value;
}

function add(document: unknown, pointer: string, value: unknown): void {
  const { parent, key } = locate(document, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, structuredClone(value));
  else parent[key] = structuredClone(value);
}

function remove(document: unknown, pointer: string): void {
  const { parent, key } = locate(document, pointer);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(parent, key, false), 1);
  } else {
    if (!Object.hasOwn(parent, key)) throw unprocessablePatchError(`Unable to remove nonexistent key: ${key}: missing value`);
    delete parent[key];
  }
}

/** Applies RFC 6902 operations to a copy of `document`. */
export function jsonPatch(document: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw unprocessablePatchError('a JSON patch must be an array of operations');
  const result = structuredClone(document);
  for (const operation of operations) {
    if (!isJsonObject(operation) || typeof operation.op !== 'string' || typeof operation.path !== 'string') {
      throw unprocessablePatchError(`invalid JSON patch operation ${JSON.stringify(operation)}`);
    }
    const { op, path } = operation;
    const from = typeof operation.from === 'string' ? operation.from : undefined;
    switch (op) {
      case 'add':
        add(result, path, operation.value);
        break;
      case 'remove':
        remove(result, path);
        break;
      case 'replace':
        read(result, path);
        remove(result, path);
        add(result, path, operation.value);
        break;
      case 'move': {
        if (from === undefined) throw unprocessablePatchError('move operation needs "from"');
        const value = read(result, from);
        remove(result, from);
        add(result, path, value);
        break;
      }
      case 'copy':
        if (from === undefined) throw unprocessablePatchError('copy operation needs "from"');
        add(result, path, read(result, from));
        break;
      case 'test':
        if (!jsonEqual(read(result, path), operation.value)) throw unprocessablePatchError(`testing value ${path} failed: test failed`);
        break;
      default:
        throw unprocessablePatchError(`Unexpected kind: ${op}`);
    }
  }
  return result;
}

export function applyPatch(contentType: string, document: unknown, patch: unknown): unknown {
  return contentType === JSON_PATCH ? jsonPatch(document, patch) : mergePatch(document, patch);
}
