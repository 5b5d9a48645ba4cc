import type { CallRecord } from '../../testservers/k8s/k8s-api-test-server.js';

/** The objects lando creates and deletes for a bespin job; changing them is working on the job. */
const JOB_OBJECTS = ['jobs', 'configmaps', 'persistentvolumeclaims'] as const;
const MUTATIONS: ReadonlySet<string> = new Set(JOB_OBJECTS.flatMap((plural) => [`create ${plural}`, `delete ${plural}`]));
const JOB_ID_LABEL = 'bespin-job-id';

export interface LeaseAudit {
  /** Each change to a job's objects made by a replica that did not hold the job's Lease then. */
  readonly violations: readonly string[];
  /** Job id → the replicas that changed its objects. */
  readonly workedOnBy: ReadonlyMap<string, ReadonlySet<string>>;
  /** Changes to jobs' objects checked. */
  readonly checked: number;
}

interface ObjectMeta {
  readonly name?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

function metadataOf(body: unknown): ObjectMeta {
  if (typeof body !== 'object' || body === null || !('metadata' in body)) return {};
  const metadata = (body as { metadata: unknown }).metadata;
  return typeof metadata === 'object' && metadata !== null ? (metadata as ObjectMeta) : {};
}

function nameInPath(path: string): string {
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
}

function succeeded(call: CallRecord): boolean {
  return call.status >= 200 && call.status < 300;
}

/**
 * Checks, from the Kubernetes API server's own record of calls, that no two lando replicas
 * worked on one job at once: every create or delete of a job's objects by a replica (told
 * apart by their bearer tokens) must arrive while that replica holds the job's Lease
 * `lando-job-<id>`, as the server's successful Lease writes and deletes say. A replica that
 * went on changing a job after another one took its Lease over shows up as a violation.
 */
export function auditJobLeases(calls: readonly CallRecord[], replicaByToken: ReadonlyMap<string, string>): LeaseAudit {
  const ordered = [...calls].sort((left, right) => left.at - right.at);
  const jobOfObject = new Map<string, string>();
  for (const call of ordered) {
    const { name, labels } = metadataOf(call.body);
    const jobId = labels?.[JOB_ID_LABEL];
    if (call.operation.startsWith('create ') && name !== undefined && jobId !== undefined) jobOfObject.set(`${call.operation.slice('create '.length)}/${name}`, jobId);
  }

  const holders = new Map<string, string>();
  const violations: string[] = [];
  const workedOnBy = new Map<string, Set<string>>();
  let checked = 0;
  for (const call of ordered) {
    if (call.operation === 'create leases' && succeeded(call)) {
      holders.set(metadataOf(call.body).name ?? '', call.token ?? '');
    } else if (call.operation === 'update leases' && succeeded(call)) {
      holders.set(nameInPath(call.path), call.token ?? '');
    } else if (call.operation === 'delete leases' && succeeded(call)) {
      holders.delete(nameInPath(call.path));
    } else if (MUTATIONS.has(call.operation) && call.token !== undefined && replicaByToken.has(call.token)) {
      checked += 1;
      const replica = replicaByToken.get(call.token)!;
      const plural = call.operation.slice(call.operation.indexOf(' ') + 1);
      const name = call.method === 'POST' ? (metadataOf(call.body).name ?? '') : nameInPath(call.path);
      const jobId = jobOfObject.get(`${plural}/${name}`);
      if (jobId === undefined) {
        violations.push(`${replica}: ${call.operation} ${name} changes an object no replica created for a job`);
        continue;
      }
      workedOnBy.set(jobId, (workedOnBy.get(jobId) ?? new Set()).add(replica));
      const holder = holders.get(`lando-job-${jobId}`);
      if (holder !== call.token) {
        const held = holder === undefined ? 'nobody held it' : `${replicaByToken.get(holder) ?? 'another client'} held it`;
        violations.push(`job ${jobId}: ${replica} sent ${call.operation} ${name} at ${call.at.toFixed(1)} ms while ${held}`);
      }
    }
  }
  return { violations, workedOnBy, checked };
}
