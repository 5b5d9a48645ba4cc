import {
  alreadyExistsError, badRequestError, conflictError, deletedStatus, expiredError, internalError, invalidError, notFoundError, STALE_OBJECT,
  unparsableResourceVersionError, unsupportedMediaTypeError, type ResourceIdentity,
} from './api-status.js';
import { errorText, GoLiteral, invalid, notSupported, type FieldError } from './field-errors.js';
import type { GarbageCollector } from './garbage-collector.js';
import { cloneObject, generateName, isJsonObject, keyOf, stampNew, type JsonObject, type KubeObject } from './kube-object.js';
import type { ObjectStore } from './object-store.js';
import { APPLY_PATCH, applyPatch, JSON_PATCH, MERGE_PATCH, PATCH_TYPES } from './patch.js';
import { PROPAGATION_POLICIES, type PropagationPolicy, type ResourceType } from './resource-type.js';
import { FieldSelector, LabelSelector } from './selectors.js';

/**
 * The REST verbs of the generic registry (create, get, list, update, patch, delete) against
 * the object store: request decoding, defaulting, validation, optimistic concurrency and the
 * exact status codes and bodies of a real API server. Watches and pod logs stream, so the
 * HTTP layer handles those.
 */
export interface Target {
  readonly resource: ResourceType;
  /** Absent for cluster-wide collection paths (`/api/v1/pods`). */
  readonly namespace?: string;
  readonly name?: string;
  /** `status` (writes) — `log` is served by the HTTP layer. */
  readonly subresource?: string;
}

export interface HandlerResult {
  readonly status: number;
  readonly body: unknown;
}

export interface ListOptions {
  readonly namespace?: string;
  readonly labelSelector: LabelSelector;
  readonly fieldSelector: FieldSelector;
}

interface ContinueToken {
  readonly rv: number;
  readonly start: string;
}

interface DeleteRequest {
  readonly propagationPolicy?: PropagationPolicy;
  readonly gracePeriodSeconds?: number;
  readonly orphanDependents?: boolean;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly dryRun: boolean;
}

const NAMESPACES: ResourceIdentity = { group: '', plural: 'namespaces', kind: 'Namespace' };
const DELETE_OPTIONS: ResourceIdentity = { group: 'meta.k8s.io', plural: 'deleteoptions', kind: 'DeleteOptions' };
const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool, which the API server uses for boolean query parameters. */
export function boolParam(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  throw badRequestError(`strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
}

export function intParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (!/^-?[0-9]+$/.test(value)) throw badRequestError(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
  return Number(value);
}

/** `resourceVersion` of a list or watch request: absent, or a number; anything else is the server's 500. */
export function resourceVersionParam(query: URLSearchParams): string | undefined {
  const value = query.get('resourceVersion') ?? undefined;
  if (value !== undefined && value !== '' && !/^[0-9]+$/.test(value)) throw unparsableResourceVersionError(value);
  return value;
}

export function listOptions(target: Target, query: URLSearchParams): ListOptions {
  return {
    namespace: target.namespace,
    labelSelector: LabelSelector.parse(query.get('labelSelector') ?? undefined),
    fieldSelector: FieldSelector.parse(query.get('fieldSelector') ?? undefined, target.resource.selectableFields),
  };
}

function dryRunParam(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const value of values) if (value !== 'All') throw badRequestError(errorText(notSupported('dryRun', value, ['All'])));
  return values.length > 0;
}

function parseJson(raw: Buffer, what: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw badRequestError(`${what}; json parse error: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function uniqueErrors(errors: readonly FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const text = errorText(error);
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(text: string): ContinueToken {
  try {
    const token: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (isJsonObject(token) && typeof token.rv === 'number' && typeof token.start === 'string') return { rv: token.rv, start: token.start };
  } catch {
    // Reported below like any other malformed token.
  }
  throw badRequestError(`continue key is not valid: ${JSON.stringify(text)}`);
}

/** A list item as the API server writes it: items of a typed list carry no apiVersion/kind. */
function listItem(object: KubeObject): JsonObject {
  const { apiVersion: _apiVersion, kind: _kind, ...item } = object;
  return item;
}

export class ResourceHandlers {
  constructor(
    private readonly store: ObjectStore,
    private readonly collector: GarbageCollector,
    private readonly namespaces: ReadonlySet<string>,
  ) {}

  /** An object of this kind as a client would POST it (used for seeding too). */
  create(target: Target, body: unknown, query: URLSearchParams): HandlerResult {
    const namespace = this.requireNamespacePath(target);
    const { object, schemaErrors } = this.decode(target.resource, body, namespace);
    return this.createDecoded(target.resource, namespace, object, schemaErrors, dryRunParam(query));
  }

  get(target: Target): HandlerResult {
    return { status: 200, body: this.read(target) };
  }

  /** The addressed object, or the 404 a real server answers. */
  read(target: Target): KubeObject {
    const namespace = this.requireNamespacePath(target);
    const name = this.requireName(target);
    const object = this.store.get(target.resource, namespace, name);
    if (!object) throw notFoundError(target.resource, name);
    return object;
  }

  list(target: Target, query: URLSearchParams): HandlerResult {
    const { resource } = target;
    const options = listOptions(target, query);
    const resourceVersion = resourceVersionParam(query);
    const limit = intParam(query, 'limit') ?? 0;
    if (limit < 0) throw badRequestError(`limit: Invalid value: ${limit}: must be greater than or equal to 0`);
    if (query.get('resourceVersionMatch') === 'Exact' && resourceVersion && this.isExpired(resource, Number(resourceVersion))) {
      throw expiredError(`too old resource version: ${resourceVersion} (${this.store.compactedRevision(resource)})`);
    }
    let items = this.store.list(resource, options);
    let listRevision = this.store.currentRevision;
    const continueText = query.get('continue');
    if (continueText) {
      const token = decodeContinue(continueText);
      if (this.isExpired(resource, token.rv)) {
        throw expiredError('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      }
      items = items.filter((object) => keyOf(object) > token.start);
      listRevision = token.rv;
    }
    const metadata: JsonObject = { resourceVersion: String(listRevision) };
    if (limit > 0 && items.length > limit) {
      const remaining = items.length - limit;
      items = items.slice(0, limit);
      metadata.continue = encodeContinue({ rv: listRevision, start: keyOf(items[items.length - 1]) });
      // The API server only knows the remaining count when no selector filters the list.
      if (options.labelSelector.isEmpty && options.fieldSelector.isEmpty) metadata.remainingItemCount = remaining;
    }
    return { status: 200, body: { kind: `${resource.kind}List`, apiVersion: resource.apiVersion, metadata, items: items.map(listItem) } };
  }

  replace(target: Target, body: unknown, query: URLSearchParams): HandlerResult {
    const namespace = this.requireNamespacePath(target);
    const name = this.requireName(target);
    const { object, schemaErrors } = this.decode(target.resource, body, namespace);
    if (object.metadata.name && object.metadata.name !== name) {
      throw badRequestError(`the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`);
    }
    object.metadata.name = name;
    const existing = this.store.get(target.resource, namespace, name);
    const dryRun = dryRunParam(query);
    if (!existing) {
      if (!target.resource.allowCreateOnUpdate || target.subresource || object.metadata.resourceVersion) throw notFoundError(target.resource, name);
      return this.createDecoded(target.resource, namespace, object, schemaErrors, dryRun);
    }
    return this.update(target, existing, object, schemaErrors, { requireVersion: !target.resource.allowUnconditionalUpdate, dryRun });
  }

  patch(target: Target, raw: Buffer, contentType: string, query: URLSearchParams): HandlerResult {
    const namespace = this.requireNamespacePath(target);
    const existing = this.read(target);
    if (!PATCH_TYPES.includes(contentType)) {
      throw unsupportedMediaTypeError(contentType, [JSON_PATCH, MERGE_PATCH, APPLY_PATCH, 'application/apply-patch+cbor']);
    }
    const patched = applyPatch(contentType, existing, parseJson(raw, 'error decoding patch'));
    const { object, schemaErrors } = this.decode(target.resource, patched, namespace);
    if (object.metadata.name !== existing.metadata.name) {
      throw badRequestError(`the name of the object (${object.metadata.name}) does not match the name on the URL (${existing.metadata.name})`);
    }
    return this.update(target, existing, object, schemaErrors, { requireVersion: false, dryRun: dryRunParam(query) });
  }

  delete(target: Target, raw: Buffer, query: URLSearchParams): HandlerResult {
    this.requireNamespacePath(target);
    const existing = this.read(target);
    const options = this.deleteRequest(raw, query);
    const { uid, resourceVersion } = options.preconditions ?? {};
    if (uid && uid !== existing.metadata.uid) {
      throw conflictError(target.resource, existing.metadata.name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid ?? ''}`);
    }
    if (resourceVersion && resourceVersion !== existing.metadata.resourceVersion) {
      throw conflictError(target.resource, existing.metadata.name,
        `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion ?? ''}`);
    }
    if (options.dryRun) return { status: 200, body: existing };
    let policy = options.propagationPolicy ?? target.resource.defaultPropagation;
    if (options.orphanDependents !== undefined) policy = options.orphanDependents ? 'Orphan' : 'Background';
    const outcome = this.collector.delete(target.resource, existing, policy, options.gracePeriodSeconds);
    if (!outcome.deletedNow) return { status: options.orphanDependents === false ? 202 : 200, body: outcome.object };
    const body = target.resource.deleteReturnsObject
      ? outcome.object
      : deletedStatus(target.resource, existing.metadata.name, existing.metadata.uid);
    return { status: 200, body };
  }

  private createDecoded(resource: ResourceType, namespace: string, object: KubeObject, schemaErrors: readonly FieldError[], dryRun: boolean): HandlerResult {
    const meta = object.metadata;
    if (meta.resourceVersion) throw internalError('resourceVersion should not be set on objects to be created');
    if (!meta.name && meta.generateName) meta.name = generateName(meta.generateName);
    for (const field of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink'] as const) delete meta[field];
    stampNew(object);
    resource.applyDefaults(object);
    resource.prepareForCreate(object);
    const errors = uniqueErrors([...schemaErrors, ...resource.validate(object)]);
    if (errors.length > 0) throw invalidError(resource, meta.name, errors);
    if (!resource.clusterScoped && !this.namespaces.has(namespace)) throw notFoundError(NAMESPACES, namespace);
    if (dryRun) {
      if (this.store.get(resource, namespace, meta.name)) throw alreadyExistsError(resource, meta.name);
      return { status: 201, body: object };
    }
    return { status: 201, body: this.store.create(resource, object) };
  }

  private update(
    target: Target,
    existing: KubeObject,
    candidate: KubeObject,
    schemaErrors: readonly FieldError[],
    options: { requireVersion: boolean; dryRun: boolean },
  ): HandlerResult {
    const { resource } = target;
    const name = existing.metadata.name;
    const sentVersion = candidate.metadata.resourceVersion;
    if (!sentVersion && options.requireVersion) {
      throw invalidError(resource, name, [invalid('metadata.resourceVersion', new GoLiteral('0x0'), 'must be specified for an update')]);
    }
    if (sentVersion && sentVersion !== existing.metadata.resourceVersion) throw conflictError(resource, name, STALE_OBJECT);
    if (candidate.metadata.uid && candidate.metadata.uid !== existing.metadata.uid) {
      throw conflictError(resource, name, `Precondition failed: UID in precondition: ${candidate.metadata.uid}, UID in object meta: ${existing.metadata.uid ?? ''}`);
    }
    const next = this.mergeForUpdate(target, existing, candidate);
    resource.applyDefaults(next);
    const errors = uniqueErrors([...schemaErrors, ...resource.validateUpdate(next, existing)]);
    if (errors.length > 0) throw invalidError(resource, name, errors);
    if (options.dryRun) return { status: 200, body: next };
    return { status: 200, body: this.store.replace(resource, next) };
  }

  /** What the client may change: the main resource keeps the stored status, `/status` only changes status. */
  private mergeForUpdate(target: Target, existing: KubeObject, candidate: KubeObject): KubeObject {
    if (target.subresource === 'status') {
      const next = cloneObject(existing);
      next.status = candidate.status;
      return next;
    }
    const next = candidate;
    const { uid, creationTimestamp, generation, deletionTimestamp, deletionGracePeriodSeconds, generateName: prefix } = existing.metadata;
    next.metadata = { ...next.metadata, uid, creationTimestamp, generation, deletionTimestamp, deletionGracePeriodSeconds, generateName: prefix };
    if (target.resource.hasStatus) {
      if (existing.status === undefined) delete next.status;
      else next.status = existing.status;
    }
    return next;
  }

  /** Body → typed object: apiVersion/kind from the URL when absent (the Python client omits them), namespace check, schema. */
  private decode(resource: ResourceType, body: unknown, namespace: string): { object: KubeObject; schemaErrors: FieldError[] } {
    const parsed = Buffer.isBuffer(body) ? parseJson(body, "couldn't get version/kind") : body;
    if (!isJsonObject(parsed)) {
      throw badRequestError(`${resource.kind} in version ${JSON.stringify(resource.version)} cannot be handled as a ${resource.kind}: json: cannot unmarshal ${Array.isArray(parsed) ? 'array' : typeof parsed} into Go value of type struct`);
    }
    if (parsed.apiVersion !== undefined && parsed.apiVersion !== resource.apiVersion) {
      throw badRequestError(`the API version in the data (${String(parsed.apiVersion)}) does not match the expected API version (${resource.apiVersion})`);
    }
    if (parsed.kind !== undefined && parsed.kind !== resource.kind) {
      throw badRequestError(`the kind in the data (${String(parsed.kind)}) does not match the expected kind (${resource.kind})`);
    }
    // A body parsed from the request is ours to change; an object handed in (seed, patch result) is copied.
    const source = Buffer.isBuffer(body) ? parsed : cloneObject(parsed);
    const object = { ...source, apiVersion: resource.apiVersion, kind: resource.kind, metadata: source.metadata ?? {} } as KubeObject;
    const schemaErrors = resource.checkSchema(object);
    if (resource.clusterScoped) {
      delete object.metadata.namespace;
      return { object, schemaErrors };
    }
    if (object.metadata.namespace !== undefined && object.metadata.namespace !== '' && object.metadata.namespace !== namespace) {
      throw badRequestError('the namespace of the provided object does not match the namespace sent on the request');
    }
    object.metadata.namespace = namespace;
    return { object, schemaErrors };
  }

  private deleteRequest(raw: Buffer, query: URLSearchParams): DeleteRequest {
    let source: JsonObject;
    if (raw.length > 0) {
      const parsed = parseJson(raw, "couldn't get version/kind");
      if (!isJsonObject(parsed)) throw badRequestError('DeleteOptions must be a JSON object');
      source = parsed;
    } else {
      source = {
        propagationPolicy: query.get('propagationPolicy') ?? undefined,
        gracePeriodSeconds: intParam(query, 'gracePeriodSeconds'),
        orphanDependents: boolParam(query, 'orphanDependents'),
      };
    }
    const errors: FieldError[] = [];
    const policy = source.propagationPolicy;
    if (policy !== undefined && policy !== null && !PROPAGATION_POLICIES.includes(policy as PropagationPolicy)) {
      errors.push(notSupported('propagationPolicy', policy, PROPAGATION_POLICIES));
    }
    if (source.orphanDependents !== undefined && source.orphanDependents !== null && policy !== undefined && policy !== null) {
      errors.push(invalid('propagationPolicy', policy, 'orphanDependents and deletionPropagation cannot be both set'));
    }
    const grace = source.gracePeriodSeconds;
    if (grace !== undefined && grace !== null && (typeof grace !== 'number' || grace < 0)) errors.push(invalid('gracePeriodSeconds', grace, 'must be greater than or equal to 0'));
    if (errors.length > 0) throw invalidError(DELETE_OPTIONS, '', errors);
    const preconditions = isJsonObject(source.preconditions) ? source.preconditions : undefined;
    const dryRun = Array.isArray(source.dryRun) ? source.dryRun.includes('All') : dryRunParam(query);
    return {
      propagationPolicy: typeof policy === 'string' ? (policy as PropagationPolicy) : undefined,
      gracePeriodSeconds: typeof grace === 'number' ? grace : undefined,
      orphanDependents: typeof source.orphanDependents === 'boolean' ? source.orphanDependents : undefined,
      preconditions: preconditions && {
        uid: typeof preconditions.uid === 'string' ? preconditions.uid : undefined,
        resourceVersion: typeof preconditions.resourceVersion === 'string' ? preconditions.resourceVersion : undefined,
      },
      dryRun,
    };
  }

  private isExpired(resource: ResourceType, revision: number): boolean {
    return revision < this.store.compactedRevision(resource);
  }

  /** The store keeps cluster-scoped objects under the empty namespace. */
  private requireNamespacePath(target: Target): string {
    if (target.resource.clusterScoped) return '';
    if (target.namespace === undefined) throw badRequestError('the server does not allow this method on a collection across namespaces');
    return target.namespace;
  }

  private requireName(target: Target): string {
    if (!target.name) throw badRequestError('resource name may not be empty');
    return target.name;
  }
}
