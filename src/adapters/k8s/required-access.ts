/**
 * What the Kubernetes adapters call, as RBAC names it: one row per (API group, resource, verb),
 * with the roles that make the call and why. `check` asks the API server about every row with a
 * SelfSubjectAccessReview; test/unit/required-access.test.ts keeps the rows equal to the Roles
 * in deploy/, whose own test (test/contract/rbac.test.ts) derives them from the calls the code
 * makes against the Kubernetes API test server.
 */

export type AccessRole = 'lando' | 'watcher';

export interface RequiredAccess {
  /** '' is the core group. */
  readonly group: string;
  readonly resource: string;
  /** `log` for `pods/log`. */
  readonly subresource?: string;
  readonly verb: string;
  readonly roles: readonly AccessRole[];
  /**
   * Needed only while the role's Lease feature is on: `lando.leases` for lando,
   * `watcher.leader_election` for the watcher.
   */
  readonly onlyWithLeases?: true;
  /** Which calls need it. */
  readonly why: string;
}

const LANDO = ['lando'] as const;
const WATCHER = ['watcher'] as const;
const BOTH = ['lando', 'watcher'] as const;

function rows(group: string, resource: string, verbs: Readonly<Record<string, Omit<RequiredAccess, 'group' | 'resource' | 'verb'>>>): RequiredAccess[] {
  return Object.entries(verbs).map(([verb, row]) => ({ group, resource, verb, ...row }));
}

const STEP_OBJECTS = {
  create: { roles: LANDO, why: 'each step creates its objects' },
  get: { roles: LANDO, why: 'a create that finds the name taken reads the object to adopt it' },
  list: { roles: LANDO, why: 'cleanup and restarts find the job\'s objects' },
  delete: { roles: LANDO, why: 'cleanup deletes the job\'s objects' },
} as const;

const LEASE_ACCESS = {
  create: { roles: BOTH, onlyWithLeases: true, why: 'taking a Lease' },
  get: { roles: BOTH, onlyWithLeases: true, why: 'reading the holder of a Lease taken elsewhere' },
  update: { roles: BOTH, onlyWithLeases: true, why: 'renewing or taking over a Lease' },
  delete: { roles: BOTH, onlyWithLeases: true, why: 'giving a Lease up' },
} as const;

export const REQUIRED_ACCESS: readonly RequiredAccess[] = [
  ...rows('', 'persistentvolumeclaims', STEP_OBJECTS),
  ...rows('', 'configmaps', STEP_OBJECTS),
  ...rows('batch', 'jobs', {
    create: STEP_OBJECTS.create,
    get: STEP_OBJECTS.get,
    list: { roles: BOTH, why: 'lando finds a job\'s Jobs to clean up; the watcher lists the labelled Jobs before watching' },
    watch: { roles: WATCHER, why: 'the watcher follows the labelled Jobs' },
    patch: { roles: LANDO, why: 'a failed step\'s Job is marked once its error is recorded, so a replayed watch skips it' },
    delete: { roles: BOTH, why: 'lando cleans up; the watcher deletes the Job of a pod that can never start' },
  }),
  ...rows('', 'pods', {
    list: { roles: BOTH, why: 'lando reads the record step\'s pod; the watcher finds failed and stuck pods' },
  }),
  { group: '', resource: 'pods', subresource: 'log', verb: 'get', roles: WATCHER, why: 'a failed step\'s pod log goes into the job error' },
  ...rows('', 'events', {
    list: { roles: WATCHER, why: 'the events of a pod that cannot start explain it' },
  }),
  ...rows('coordination.k8s.io', 'leases', LEASE_ACCESS),
];

/** `batch/jobs: list`, `core/pods/log: get`: how RBAC permissions are named in messages. */
export function accessName(access: Pick<RequiredAccess, 'group' | 'resource' | 'subresource' | 'verb'>): string {
  const resource = access.subresource === undefined ? access.resource : `${access.resource}/${access.subresource}`;
  return `${access.group === '' ? 'core' : access.group}/${resource}: ${access.verb}`;
}

/** The rows a role needs; `leases` says whether its Lease feature is on. */
export function requiredAccessOf(role: AccessRole, leases: boolean): RequiredAccess[] {
  return REQUIRED_ACCESS.filter((access) => access.roles.includes(role) && (leases || access.onlyWithLeases !== true));
}
