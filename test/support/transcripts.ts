import type { RecordedCall } from './recording-proxy.js';
import { toApiBody } from '../../src/adapters/k8s/object-bodies.js';
import type { ClusterObject, ObjectKind } from '../../src/domain/cluster-objects.js';
import { pythonJsonDumps } from '../../src/domain/python-json.js';
import { readFixture } from './bespin-fixtures.js';

export interface TranscriptEvent {
  readonly kind: string;
  readonly [field: string]: unknown;
}

export interface TranscriptMessage {
  readonly command: string;
  readonly payload_job_id: string | number;
  readonly bespin_after: { state: string; step: string };
  readonly events: readonly TranscriptEvent[];
}

export interface Transcript {
  readonly scenario: string;
  readonly bespin_job_fixture: string;
  readonly initial_bespin_state: string;
  readonly initial_bespin_step: string;
  readonly initial_k8s_objects: readonly Record<string, unknown>[];
  readonly messages: readonly TranscriptMessage[];
}

export function loadTranscript(name: string): Transcript {
  return readFixture(`transcripts/${name}.json`) as Transcript;
}

/** The transcripts name resources by their URL plural. */
export const RESOURCE_KINDS: Readonly<Record<string, ObjectKind>> = {
  persistentvolumeclaims: 'PersistentVolumeClaim',
  configmaps: 'ConfigMap',
  jobs: 'Job',
};

/**
 * One observable effect, written the same way for a transcript event and for a port call,
 * so a scenario's effects compare as two string lists. Reads of the job itself are left out:
 * the original re-reads it around every write (W23), this service reads it once per message.
 * Lists are left out too: they are how cleanup finds objects, not an effect.
 */
export function effectsOfTranscript(events: readonly TranscriptEvent[]): string[] {
  const effects: string[] = [];
  for (const event of events) {
    if (event.kind === 'bespin') {
      const effect = bespinEffect(String(event.method), String(event.path), event.body_bytes as string | undefined);
      if (effect) effects.push(effect);
    } else if (event.kind === 'amqp_publish') {
      effects.push(`progress ${String(event.body)}`);
    } else if (event.kind === 'k8s' && (event.verb === 'create' || event.verb === 'delete')) {
      const kind = RESOURCE_KINDS[String(event.resource)];
      const name = event.verb === 'create' ? (event.body as { metadata: { name: string } }).metadata.name : String(event.name);
      effects.push(`${String(event.verb)} ${kind} ${name}`);
    }
  }
  return effects;
}

function bespinEffect(method: string, path: string, body: string | undefined): string | undefined {
  const route = path.replace(/^\/admin\//, '').replace(/\/$/, '');
  if (method === 'GET') return route.startsWith('jobs/') ? undefined : `bespin GET ${route}`;
  return `bespin ${method} ${route} ${body ?? ''}`.trim();
}

/** The same effects, from what the domain asked of its ports. */
export function effectsOfCalls(calls: readonly RecordedCall[]): string[] {
  const effects: string[] = [];
  for (const { port, method, args } of calls) {
    const effect = port === 'bespin' ? bespinCallEffect(method, args) : port === 'cluster' ? clusterCallEffect(method, args) : progressEffect(method, args);
    if (effect) effects.push(effect);
  }
  return effects;
}

function bespinCallEffect(method: string, args: readonly unknown[]): string | undefined {
  switch (method) {
    case 'setJobState':
      return `bespin PUT jobs/${String(args[0])} ${pythonJsonDumps({ state: args[1] })}`;
    case 'setJobStep':
      return `bespin PUT jobs/${String(args[0])} ${pythonJsonDumps({ step: args[1] })}`;
    case 'getStageGroup':
      return `bespin GET job-file-stage-groups/${String(args[0])}`;
    case 'getShareGroup':
      return `bespin GET share-groups/${String(args[0])}`;
    case 'getMethodsDocument':
      return `bespin GET workflow-methods-documents/${String(args[0])}`;
    case 'recordJobError': {
      const error = args[0] as { job: unknown; jobStep: string; content: string };
      return `bespin POST job-errors ${pythonJsonDumps({ job: error.job, job_step: error.jobStep, content: error.content })}`;
    }
    case 'saveOutputProject': {
      const project = args[0] as { id: number; job: unknown; projectId: string; readmeFileId: string };
      return `bespin PUT job-dds-output-projects/${project.id} ${pythonJsonDumps({ id: project.id, job: project.job, project_id: project.projectId, readme_file_id: project.readmeFileId })}`;
    }
    default:
      return undefined;
  }
}

function clusterCallEffect(method: string, args: readonly unknown[]): string | undefined {
  if (method === 'create') {
    const object = args[0] as ClusterObject;
    return `create ${object.kind} ${object.metadata.name}`;
  }
  if (method === 'delete') return `delete ${String(args[0])} ${String(args[1])}`;
  return undefined;
}

function progressEffect(method: string, args: readonly unknown[]): string | undefined {
  if (method !== 'publish') return undefined;
  return `progress ${pythonJsonDumps(args[0])}`;
}

/** The request bodies of the transcript's creates, by object name and kind. */
export function createdBodies(events: readonly TranscriptEvent[]): Map<string, unknown> {
  const bodies = new Map<string, unknown>();
  for (const event of events) {
    if (event.kind !== 'k8s' || event.verb !== 'create') continue;
    const body = event.body as { metadata: { name: string } };
    bodies.set(`${RESOURCE_KINDS[String(event.resource)]} ${body.metadata.name}`, body);
  }
  return bodies;
}

export function bodiesOfCalls(calls: readonly RecordedCall[]): Map<string, unknown> {
  const bodies = new Map<string, unknown>();
  for (const { port, method, args } of calls) {
    if (port !== 'cluster' || method !== 'create') continue;
    const object = args[0] as ClusterObject;
    bodies.set(`${object.kind} ${object.metadata.name}`, toApiBody(object));
  }
  return bodies;
}
