/**
 * The LeaseStore port on coordination.k8s.io/v1 Leases through client-node's CoordinationV1Api.
 * The API server's resourceVersion check settles races: of two replicas writing the same
 * version, one gets 409 Conflict and loses.
 *
 * Cost: the store remembers the resourceVersion it last wrote per lease, so renewing a lease
 * nobody else touched is one PUT, taking a free one is one POST and releasing one is one
 * DELETE; a GET is added only when the server says the lease changed under us. It also
 * remembers a lease it found held elsewhere, and asks about that one with a GET first: a
 * standby (or a replica waiting for a job) pays one request per try.
 *
 * A lease lapses at its renewTime plus its duration on this process's clock, so replicas'
 * clocks must agree within a small part of the duration (NTP in a cluster). client-go times
 * the lapse from when it first saw the renewTime instead, which is skew-proof but makes a
 * replica wait a whole duration before taking a job a dead replica held long ago.
 */
import { CoordinationV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { AlreadyExistsError, ConflictError, NotFoundError, PermanentError } from '../../domain/errors.js';
import type { LeaseStore } from '../../ports/leases.js';
import type { Logger } from '../../ports/logger.js';
import { checkDuration, checkHolder, checkLeaseName, hasLapsed } from '../lease-rules.js';
import { positiveInteger, sendWithTimeout } from './k8s-request.js';
import { buildKubeConfig, type ClusterCredentials } from './kube-config.js';

export interface K8sLeaseStoreOptions extends ClusterCredentials {
  /** Where the Leases live. */
  readonly namespace: string;
  readonly logger: Logger;
  /** Milliseconds since the epoch, for renew times and lapse decisions (default Date.now). */
  readonly now?: () => number;
  /** Per request (default 30 s). */
  readonly requestTimeoutMs?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Bounds the memory of leases; a forgotten one costs a request more next time. */
const MAX_REMEMBERED_LEASES = 10_000;

/** What this process knows of a lease: what it last wrote, or that another holder had it at the last look. */
type Known =
  | { readonly kind: 'written'; readonly holder: string; readonly resourceVersion: string; readonly acquiredAt: number; readonly transitions: number }
  | { readonly kind: 'held-elsewhere' };

const HELD_ELSEWHERE: Known = { kind: 'held-elsewhere' };

/** A Lease as read from the server, in plain terms. */
interface Observed {
  readonly resourceVersion: string;
  readonly holder: string;
  /** Undefined (no renew time or duration) means nothing protects the holder. */
  readonly renewedAt: number | undefined;
  readonly durationMs: number | undefined;
  readonly acquiredAt: number | undefined;
  readonly transitions: number;
}

export class K8sLeaseStore implements LeaseStore {
  private readonly api: CoordinationV1Api;
  private readonly namespace: string;
  private readonly now: () => number;
  private readonly requestTimeoutMs: number;
  private readonly known = new Map<string, Known>();

  constructor(options: K8sLeaseStoreOptions) {
    if (options.namespace.trim() === '') throw new PermanentError('K8sLeaseStore: namespace must not be empty');
    this.namespace = options.namespace;
    this.now = options.now ?? (() => Date.now());
    this.requestTimeoutMs = positiveInteger('K8sLeaseStore', 'requestTimeoutMs', options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    const logger = options.logger.child({ component: 'k8s-lease-store', namespace: options.namespace });
    this.api = buildKubeConfig(options, logger).makeApiClient(CoordinationV1Api);
  }

  async tryAcquire(name: string, holder: string, durationMs: number): Promise<boolean> {
    checkLeaseName(name);
    checkHolder(holder);
    checkDuration(durationMs);
    const known = this.known.get(name);
    if (known?.kind === 'written' && known.holder === holder) {
      try {
        await this.replace(name, holder, durationMs, known.resourceVersion, known.acquiredAt, known.transitions);
        return true;
      } catch (error) {
        if (!(error instanceof ConflictError || error instanceof NotFoundError)) throw error;
      }
    } else if (known?.kind !== 'held-elsewhere') {
      try {
        await this.create(name, holder, durationMs);
        return true;
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
      }
    }
    return this.decideFromServer(name, holder, durationMs);
  }

  async release(name: string, holder: string): Promise<void> {
    checkLeaseName(name);
    checkHolder(holder);
    const known = this.known.get(name);
    this.known.delete(name);
    if (known?.kind === 'written' && known.holder === holder) {
      try {
        await this.delete(name, known.resourceVersion);
        return;
      } catch (error) {
        if (error instanceof NotFoundError) return;
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    const current = await this.read(name);
    if (current === undefined || current.holder !== holder) return;
    try {
      await this.delete(name, current.resourceVersion);
    } catch (error) {
      // Gone, or changed hands since the read: either way it is not ours to delete any more.
      if (!(error instanceof NotFoundError || error instanceof ConflictError)) throw error;
    }
  }

  /** The lease changed under us, or was held elsewhere: read it and take it only if it is ours or free. */
  private async decideFromServer(name: string, holder: string, durationMs: number): Promise<boolean> {
    const current = await this.read(name);
    if (current === undefined) {
      try {
        await this.create(name, holder, durationMs);
        return true;
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
        this.remember(name, HELD_ELSEWHERE);
        return false;
      }
    }
    const ours = current.holder === holder;
    const { renewedAt, durationMs: heldFor } = current;
    const free = current.holder === '' || renewedAt === undefined || heldFor === undefined || hasLapsed(renewedAt, heldFor, this.now());
    if (!ours && !free) {
      this.remember(name, HELD_ELSEWHERE);
      return false;
    }
    const acquiredAt = ours ? (current.acquiredAt ?? this.now()) : this.now();
    const transitions = ours || current.holder === '' ? current.transitions : current.transitions + 1;
    try {
      await this.replace(name, holder, durationMs, current.resourceVersion, acquiredAt, transitions);
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // Another taker wrote between our read and our write, and so holds it now.
      this.remember(name, HELD_ELSEWHERE);
      return false;
    }
  }

  private async create(name: string, holder: string, durationMs: number): Promise<void> {
    const now = this.now();
    const body = leaseBody(name, undefined, { holder, durationMs, acquiredAt: now, renewedAt: now, transitions: 0 });
    const created = await sendWithTimeout(`create Lease ${name}`, this.requestTimeoutMs, (options) =>
      this.api.createNamespacedLease({ namespace: this.namespace, body }, options),
    );
    this.remember(name, { kind: 'written', holder, resourceVersion: versionOf(created, name), acquiredAt: now, transitions: 0 });
  }

  private async replace(name: string, holder: string, durationMs: number, resourceVersion: string, acquiredAt: number, transitions: number): Promise<void> {
    const body = leaseBody(name, resourceVersion, { holder, durationMs, acquiredAt, renewedAt: this.now(), transitions });
    const replaced = await sendWithTimeout(`replace Lease ${name}`, this.requestTimeoutMs, (options) =>
      this.api.replaceNamespacedLease({ name, namespace: this.namespace, body }, options),
    );
    this.remember(name, { kind: 'written', holder, resourceVersion: versionOf(replaced, name), acquiredAt, transitions });
  }

  /** Deletes the lease only if it is still the version we know, so a new holder's lease survives. */
  private async delete(name: string, resourceVersion: string): Promise<void> {
    await sendWithTimeout(`delete Lease ${name}`, this.requestTimeoutMs, (options) =>
      this.api.deleteNamespacedLease({ name, namespace: this.namespace, body: { preconditions: { resourceVersion } } }, options),
    );
  }

  private async read(name: string): Promise<Observed | undefined> {
    try {
      const lease = await sendWithTimeout(`read Lease ${name}`, this.requestTimeoutMs, (options) =>
        this.api.readNamespacedLease({ name, namespace: this.namespace }, options),
      );
      return observed(lease, name);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  private remember(name: string, known: Known): void {
    // Re-inserting keeps the Map in least-recently-learnt order for the eviction below.
    this.known.delete(name);
    this.known.set(name, known);
    if (this.known.size > MAX_REMEMBERED_LEASES) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }
}

interface LeaseTerms {
  readonly holder: string;
  readonly durationMs: number;
  readonly acquiredAt: number;
  readonly renewedAt: number;
  readonly transitions: number;
}

function leaseBody(name: string, resourceVersion: string | undefined, terms: LeaseTerms): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: resourceVersion === undefined ? { name } : { name, resourceVersion },
    spec: {
      holderIdentity: terms.holder,
      // Kubernetes counts whole seconds; rounding up never shortens the hold.
      leaseDurationSeconds: Math.max(1, Math.ceil(terms.durationMs / 1000)),
      acquireTime: new V1MicroTime(terms.acquiredAt),
      renewTime: new V1MicroTime(terms.renewedAt),
      leaseTransitions: terms.transitions,
    },
  };
}

function versionOf(lease: V1Lease, name: string): string {
  const version = lease.metadata?.resourceVersion;
  if (version === undefined || version === '') throw new PermanentError(`Lease ${name}: the API server returned it without a resourceVersion`);
  return version;
}

function observed(lease: V1Lease, name: string): Observed {
  const spec = lease.spec ?? {};
  const durationSeconds = spec.leaseDurationSeconds;
  return {
    resourceVersion: versionOf(lease, name),
    holder: spec.holderIdentity ?? '',
    renewedAt: timeOf(spec.renewTime),
    durationMs: durationSeconds === undefined ? undefined : durationSeconds * 1000,
    acquiredAt: timeOf(spec.acquireTime),
    transitions: spec.leaseTransitions ?? 0,
  };
}

/**
 * client-node types MicroTime fields as a Date subclass but, not knowing the type when it
 * decodes, hands over the JSON string; `new Date` accepts either.
 */
function timeOf(value: V1MicroTime | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = new Date(value).getTime();
  return Number.isNaN(time) ? undefined : time;
}
