/**
 * client-node objects translated into the domain's views, and the domain's selectors into the
 * API's query strings. Nothing of the SDK passes beyond the k8s adapter files.
 */
import type { CoreV1Event, V1Job, V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import type { ClusterEvent, ContainerWaiting, JobStatusView, Labels, ObjectKind, ObjectRef, PodView } from '../../domain/cluster-objects.js';
import { PermanentError } from '../../domain/errors.js';

/**
 * An API timestamp as the API writes it (`2019-06-07T12:00:00Z`). Objects read through
 * client-node's generated methods arrive deserialized (Date); watch events and the lists of
 * getList arrive as parsed JSON (the text itself).
 */
function apiTime(value: Date | string | null | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  const text = value.toISOString();
  return value.getUTCMilliseconds() === 0 ? text.replace(/\.000Z$/, 'Z') : text;
}

/** Distinct condition texts kept for sharing; past this many, the table starts over. */
const MAX_SHARED_TEXTS = 1000;
const sharedTexts = new Map<string, string>();

/**
 * One string for every equal condition text. JSON.parse makes a new string for each, and a
 * watch keeps a view of every Job it knows: of 10,000 finished Jobs, the same few reasons and
 * messages ("Reached expected number of succeeded pods") took a fifth of their memory.
 */
function shared(text: string): string {
  const known = sharedTexts.get(text);
  if (known !== undefined) return known;
  if (sharedTexts.size >= MAX_SHARED_TEXTS) sharedTexts.clear();
  sharedTexts.set(text, text);
  return text;
}

export function jobView(job: V1Job): JobStatusView {
  const metadata = job.metadata ?? {};
  const creationTimestamp = apiTime(metadata.creationTimestamp);
  return {
    name: metadata.name ?? '',
    uid: metadata.uid ?? '',
    labels: { ...metadata.labels },
    annotations: { ...metadata.annotations },
    conditions: (job.status?.conditions ?? []).map((condition) => ({
      type: shared(condition.type),
      status: shared(condition.status),
      ...(condition.reason === undefined ? {} : { reason: shared(condition.reason) }),
      ...(condition.message === undefined ? {} : { message: shared(condition.message) }),
    })),
    ...(creationTimestamp === undefined ? {} : { creationTimestamp }),
  };
}

export function podView(pod: V1Pod): PodView {
  const metadata = pod.metadata ?? {};
  const waiting: ContainerWaiting[] = [];
  for (const status of pod.status?.containerStatuses ?? []) {
    const state = status.state?.waiting;
    if (state === undefined) continue;
    // The kubelet always gives a reason; `Waiting` stands in should one ever be missing.
    const reason = state.reason ?? 'Waiting';
    waiting.push(state.message === undefined ? { container: status.name, reason } : { container: status.name, reason, message: state.message });
  }
  const scheduled = pod.status?.conditions?.find((condition) => condition.type === 'PodScheduled');
  const since = apiTime(scheduled?.lastTransitionTime);
  return {
    name: metadata.name ?? '',
    labels: { ...metadata.labels },
    annotations: { ...metadata.annotations },
    creationTimestamp: apiTime(metadata.creationTimestamp) ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    waiting,
    ...(scheduled === undefined
      ? {}
      : {
          scheduled: {
            status: scheduled.status,
            ...(scheduled.reason === undefined ? {} : { reason: scheduled.reason }),
            ...(scheduled.message === undefined ? {} : { message: scheduled.message }),
            ...(since === undefined ? {} : { since }),
          },
        }),
  };
}

export function eventView(event: CoreV1Event): ClusterEvent {
  const lastTimestamp = apiTime(eventMoment(event));
  return {
    reason: event.reason ?? '',
    message: event.message ?? '',
    type: event.type ?? 'Normal',
    ...(lastTimestamp === undefined ? {} : { lastTimestamp }),
  };
}

/**
 * Events in the order they last happened. Their timestamps have whole seconds, so events of
 * one second are ordered by resourceVersion: opaque by contract, but etcd's revisions grow
 * with every write, and ordering display data is all it is used for here.
 */
export function oldestFirst(events: readonly CoreV1Event[]): CoreV1Event[] {
  const millis = (event: CoreV1Event) => eventMoment(event)?.getTime() ?? Number.NEGATIVE_INFINITY;
  const revision = (event: CoreV1Event) => Number(event.metadata?.resourceVersion ?? Number.NaN);
  return [...events].sort((left, right) => millis(left) - millis(right) || tieBreak(revision(left), revision(right)));
}

/** Unparsable revisions keep the list order. */
function tieBreak(left: number, right: number): number {
  return Number.isFinite(left) && Number.isFinite(right) ? left - right : 0;
}

/** Core events written by newer components carry only `eventTime`. */
function eventMoment(event: CoreV1Event): Date | undefined {
  return event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata?.creationTimestamp;
}

export function objectRef(kind: ObjectKind, metadata: V1ObjectMeta | undefined): ObjectRef {
  return { kind, name: metadata?.name ?? '', labels: { ...metadata?.labels } };
}

/** Characters that would change a selector's meaning if a key or value carried them. */
const SELECTOR_SYNTAX = /[\s,=!()]/;

/** `k=v,k=v` in the selector's key order. */
export function labelSelectorText(selector: Labels): string {
  return Object.entries(selector)
    .map(([key, value]) => {
      if (key === '' || SELECTOR_SYNTAX.test(key) || SELECTOR_SYNTAX.test(value)) {
        throw new PermanentError(`invalid label selector: ${JSON.stringify(key)}=${JSON.stringify(value)} is not a label key and value`);
      }
      return `${key}=${value}`;
    })
    .join(',');
}

/** `involvedObject.name=<name>`, escaped as apimachinery's fields.EscapeValue does. */
export function involvedObjectSelector(objectName: string): string {
  return `involvedObject.name=${objectName.replace(/[\\,=]/g, (character) => `\\${character}`)}`;
}
