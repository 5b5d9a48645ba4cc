import { methodNotAllowedError, pathNotFoundError } from './api-status.js';
import { findResourceType } from './resource-registry.js';
import { boolParam, type Target } from './resource-handlers.js';

/**
 * URL and method → what is asked: the REST paths of the API server for the resources this
 * server registers, plus the few non-resource endpoints clients touch.
 */
export type Verb = 'create' | 'get' | 'list' | 'watch' | 'update' | 'patch' | 'delete';

export type Route =
  | { readonly kind: 'resource'; readonly verb: Verb; readonly target: Target }
  | { readonly kind: 'namespace'; readonly name: string }
  | { readonly kind: 'access-review' }
  | { readonly kind: 'version' }
  | { readonly kind: 'health' };

const ITEM_VERBS: Readonly<Record<string, Verb>> = { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
const STATUS_VERBS: Readonly<Record<string, Verb>> = { GET: 'get', PUT: 'update', PATCH: 'patch' };

/** Paths anyone may read, as `system:public-info-viewer` allows on a real cluster. */
export function isPublicRoute(route: Route): boolean {
  return route.kind === 'version' || route.kind === 'health';
}

function pick(table: Readonly<Record<string, Verb>>, method: string): Verb {
  const verb = table[method];
  if (!verb) throw methodNotAllowedError();
  return verb;
}

export function resolveRoute(method: string, url: URL): Route {
  const segments = url.pathname.split('/').filter((segment) => segment !== '').map(decodeURIComponent);
  if (segments.length === 1 && segments[0] === 'version') return { kind: 'version' };
  if (segments.length === 1 && ['healthz', 'readyz', 'livez'].includes(segments[0])) return { kind: 'health' };
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 2) {
    [group, version, rest] = ['', segments[1], segments.slice(2)];
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    [group, version, rest] = [segments[1], segments[2], segments.slice(3)];
  } else {
    throw pathNotFoundError();
  }
  if (group === 'authorization.k8s.io' && version === 'v1' && rest.length === 1 && rest[0] === 'selfsubjectaccessreviews') {
    if (method !== 'POST') throw methodNotAllowedError();
    return { kind: 'access-review' };
  }
  if (group === '' && rest.length === 2 && rest[0] === 'namespaces') {
    if (method !== 'GET') throw methodNotAllowedError();
    return { kind: 'namespace', name: rest[1] };
  }
  const namespaced = rest[0] === 'namespaces';
  const [namespace, plural, name, subresource, ...extra] = namespaced ? rest.slice(1) : [undefined, ...rest];
  const resource = plural === undefined ? undefined : findResourceType(group, version, plural);
  if (!resource || extra.length > 0 || (namespaced && (namespace === undefined || resource.clusterScoped))) throw pathNotFoundError();
  if (name === undefined) {
    if (method === 'GET') {
      return { kind: 'resource', verb: boolParam(url.searchParams, 'watch') ? 'watch' : 'list', target: { resource, namespace } };
    }
    if (method === 'POST' && (namespace !== undefined || resource.clusterScoped)) return { kind: 'resource', verb: 'create', target: { resource, namespace } };
    throw methodNotAllowedError();
  }
  if (!namespaced && !resource.clusterScoped) throw pathNotFoundError();
  if (subresource === undefined) return { kind: 'resource', verb: pick(ITEM_VERBS, method), target: { resource, namespace, name } };
  if (subresource === 'status' && resource.hasStatus) {
    return { kind: 'resource', verb: pick(STATUS_VERBS, method), target: { resource, namespace, name, subresource } };
  }
  if (subresource === 'log' && resource.plural === 'pods' && resource.group === '') {
    if (method !== 'GET') throw methodNotAllowedError();
    return { kind: 'resource', verb: 'get', target: { resource, namespace, name, subresource } };
  }
  throw pathNotFoundError();
}
