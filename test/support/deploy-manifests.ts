/**
 * The Kubernetes manifests under deploy/, read as kubectl reads them, and what they grant:
 * shared by the manifest checks and the RBAC contract test, so both judge the same objects.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const KUSTOMIZATION_FILE = 'kustomization.yaml';
/** The example configuration Secret; deliberately not a kustomization resource (it holds tokens). */
export const EXAMPLE_CONFIG_FILE = 'lando-config.example.yaml';
/** The key of that Secret that holds the configuration file. */
export const CONFIG_KEY = 'config.yml';

/** A Kubernetes object as plain JSON; every field is read through the narrowing helpers below. */
export type KubeJson = Readonly<Record<string, unknown>>;

export interface Manifest {
  /** File name under deploy/. */
  readonly file: string;
  /** Position of the document in its file, from 0. */
  readonly index: number;
  readonly object: KubeJson;
}

export function isRecord(value: unknown): value is KubeJson {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a dotted path, failing with the path when a step along it is missing. */
export function at(object: unknown, path: string, where = 'object'): unknown {
  let current: unknown = object;
  for (const key of path.split('.')) {
    if (!isRecord(current) || !(key in current)) throw new Error(`${where} has no ${path}`);
    current = current[key];
  }
  return current;
}

export function recordAt(object: unknown, path: string, where?: string): KubeJson {
  const value = at(object, path, where);
  if (!isRecord(value)) throw new Error(`${where ?? 'object'}: ${path} is not a mapping`);
  return value;
}

export function listAt(object: unknown, path: string, where?: string): readonly unknown[] {
  const value = at(object, path, where);
  if (!Array.isArray(value)) throw new Error(`${where ?? 'object'}: ${path} is not a list`);
  return value;
}

export function textAt(object: unknown, path: string, where?: string): string {
  const value = at(object, path, where);
  if (typeof value !== 'string') throw new Error(`${where ?? 'object'}: ${path} is not text`);
  return value;
}

/**
 * Every document of a multi-document YAML text. YAML 1.1, as kubectl reads manifests, so a
 * value means here what it means to the cluster.
 */
export function parseManifests(text: string, file: string): Manifest[] {
  const manifests: Manifest[] = [];
  parseAllDocuments(text, { version: '1.1' }).forEach((document, index) => {
    const problems = [...document.errors, ...document.warnings];
    if (problems.length > 0) throw new Error(`${file} document ${index}: ${problems.map((problem) => problem.message).join('; ')}`);
    const object: unknown = document.toJS();
    // A trailing `---` or a comment-only document is no object; kubectl skips it too.
    if (object === null || object === undefined) return;
    if (!isRecord(object)) throw new Error(`${file} document ${index} is not a mapping`);
    manifests.push({ file, index, object });
  });
  return manifests;
}

/** The YAML files under deploy/ other than the kustomization. */
export function manifestFiles(): string[] {
  return readdirSync(DEPLOY_DIR)
    .filter((file) => /\.ya?ml$/.test(file) && file !== KUSTOMIZATION_FILE)
    .sort();
}

export function readManifests(file: string): Manifest[] {
  return parseManifests(readFileSync(join(DEPLOY_DIR, file), 'utf8'), file);
}

export function readAllManifests(): Manifest[] {
  return manifestFiles().flatMap(readManifests);
}

export function readKustomization(): KubeJson {
  const [kustomization, ...rest] = parseManifests(readFileSync(join(DEPLOY_DIR, KUSTOMIZATION_FILE), 'utf8'), KUSTOMIZATION_FILE);
  if (kustomization === undefined || rest.length > 0) throw new Error(`${KUSTOMIZATION_FILE} must hold exactly one document`);
  return kustomization.object;
}

export function kustomizationNamespace(): string {
  return textAt(readKustomization(), 'namespace', KUSTOMIZATION_FILE);
}

/** The objects kubectl applies with `kubectl apply -k deploy/`: those of the listed resource files. */
export function deployedObjects(): KubeJson[] {
  const resources = listAt(readKustomization(), 'resources', KUSTOMIZATION_FILE);
  return resources.flatMap((resource) => {
    if (typeof resource !== 'string') throw new Error(`${KUSTOMIZATION_FILE}: resources must be file names`);
    return readManifests(resource).map((manifest) => manifest.object);
  });
}

export function objectName(object: KubeJson): string {
  return textAt(object, 'metadata.name', `a ${String(object['kind'])}`);
}

export function objectsOfKind(objects: readonly KubeJson[], kind: string): KubeJson[] {
  return objects.filter((object) => object['kind'] === kind);
}

export function findObject(objects: readonly KubeJson[], kind: string, name: string): KubeJson {
  const found = objectsOfKind(objects, kind).find((object) => objectName(object) === name);
  if (found === undefined) throw new Error(`deploy/ has no ${kind} named ${name}`);
  return found;
}

/** The configuration file inside the example Secret, as text. */
export function exampleConfigText(): string {
  const [secret, ...rest] = readManifests(EXAMPLE_CONFIG_FILE);
  if (secret === undefined || rest.length > 0) throw new Error(`${EXAMPLE_CONFIG_FILE} must hold exactly one document`);
  // Not a dotted path: the key itself holds a dot.
  const text = recordAt(secret.object, 'stringData', EXAMPLE_CONFIG_FILE)[CONFIG_KEY];
  if (typeof text !== 'string') throw new Error(`${EXAMPLE_CONFIG_FILE} has no stringData ${CONFIG_KEY}`);
  return text;
}

/** One thing RBAC allows: a verb on a resource (`pods/log` for a subresource) of an API group ('' is core). */
export interface Permission {
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
}

/** `batch/jobs: list`, `core/pods/log: get`, as permissions are named in messages and sets. */
export function permissionName({ group, resource, verb }: Permission): string {
  return `${group === '' ? 'core' : group}/${resource}: ${verb}`;
}

function textList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) throw new Error(`${where} must be a list of text`);
  return value;
}

/**
 * What a Role's rules allow, one name per permission. Wildcards and resourceNames are refused:
 * the point of these Roles is that each grant is a call the code makes.
 */
export function rolePermissions(role: KubeJson): Set<string> {
  const where = `Role ${objectName(role)}`;
  const granted = new Set<string>();
  listAt(role, 'rules', where).forEach((rule, index) => {
    const ruleWhere = `${where} rule ${index}`;
    if (!isRecord(rule)) throw new Error(`${ruleWhere} is not a mapping`);
    if ('resourceNames' in rule || 'nonResourceURLs' in rule) throw new Error(`${ruleWhere} uses resourceNames or nonResourceURLs, which this check does not model`);
    const groups = textList(rule['apiGroups'], `${ruleWhere} apiGroups`);
    const resources = textList(rule['resources'], `${ruleWhere} resources`);
    const verbs = textList(rule['verbs'], `${ruleWhere} verbs`);
    if ([...groups, ...resources, ...verbs].includes('*')) throw new Error(`${ruleWhere} uses a wildcard; grant each call by name`);
    for (const group of groups) for (const resource of resources) for (const verb of verbs) granted.add(permissionName({ group, resource, verb }));
  });
  return granted;
}

/**
 * Everything deploy/ grants the service account: the rules of every Role bound to it in its
 * namespace. A binding to a ClusterRole, or to a Role deploy/ does not hold, is an error.
 */
export function serviceAccountPermissions(objects: readonly KubeJson[], serviceAccount: string, namespace: string): Set<string> {
  // An account deploy/ does not create would leave its pods unschedulable, whatever is bound to it.
  findObject(objects, 'ServiceAccount', serviceAccount);
  const granted = new Set<string>();
  for (const binding of objectsOfKind(objects, 'RoleBinding')) {
    const where = `RoleBinding ${objectName(binding)}`;
    const bindsAccount = listAt(binding, 'subjects', where).some(
      (subject) =>
        isRecord(subject) &&
        subject['kind'] === 'ServiceAccount' &&
        subject['name'] === serviceAccount &&
        (subject['namespace'] === undefined || subject['namespace'] === namespace),
    );
    if (!bindsAccount) continue;
    const roleRef = recordAt(binding, 'roleRef', where);
    if (roleRef['kind'] !== 'Role') throw new Error(`${where} binds a ${String(roleRef['kind'])}; only namespaced Roles are expected`);
    for (const permission of rolePermissions(findObject(objects, 'Role', textAt(roleRef, 'name', where)))) granted.add(permission);
  }
  return granted;
}
