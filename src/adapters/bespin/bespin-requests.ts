import type { BespinJob, JobErrorRecord, OutputProjectRecord, ShareGroup, StageGroup } from '../../domain/bespin-job.js';
import { NotFoundError, PermanentError, TransientError, type DomainError } from '../../domain/errors.js';
import type { BespinApi } from '../../ports/bespin-api.js';
import {
  parseBespinJob,
  parseMethodsDocument,
  parseShareGroup,
  parseStageGroup,
  serializeJobErrorBody,
  serializeJobStateBody,
  serializeJobStepBody,
  serializeOutputProjectBody,
} from './bespin-json.js';

/**
 * The request behind each port call, and what bespin-api's replies mean, shared by the HTTP
 * adapter and the in-memory one so both send the same paths and bytes and fail the same way.
 */

export type BespinOperation = keyof BespinApi;

export interface BespinRequest {
  /** The port method that makes this request; fault plans and logs name requests by it. */
  readonly operation: BespinOperation;
  readonly method: 'GET' | 'PUT' | 'POST';
  /**
   * Relative to the configured v2 root, always in the trailing-slash form bespin-api's router
   * matches, so no call depends on a redirect (bespin-api.md §1).
   */
  readonly path: string;
  /** JSON text exactly as the original's Python serializer wrote it. */
  readonly body?: string;
}

function pathSegment(id: string | number): string {
  const text = String(id);
  if (text === '') throw new PermanentError('A bespin-api record id must not be empty');
  return encodeURIComponent(text);
}

export const bespinRequests = {
  getJob: (jobId: string | number): BespinRequest => ({
    operation: 'getJob',
    method: 'GET',
    path: `/admin/jobs/${pathSegment(jobId)}/`,
  }),
  setJobState: (jobId: string | number, state: string): BespinRequest => ({
    operation: 'setJobState',
    method: 'PUT',
    path: `/admin/jobs/${pathSegment(jobId)}/`,
    body: serializeJobStateBody(state),
  }),
  setJobStep: (jobId: string | number, step: string): BespinRequest => ({
    operation: 'setJobStep',
    method: 'PUT',
    path: `/admin/jobs/${pathSegment(jobId)}/`,
    body: serializeJobStepBody(step),
  }),
  getStageGroup: (stageGroupId: number): BespinRequest => ({
    operation: 'getStageGroup',
    method: 'GET',
    path: `/admin/job-file-stage-groups/${pathSegment(stageGroupId)}/`,
  }),
  getShareGroup: (shareGroupId: number): BespinRequest => ({
    operation: 'getShareGroup',
    method: 'GET',
    path: `/admin/share-groups/${pathSegment(shareGroupId)}/`,
  }),
  getMethodsDocument: (documentId: number): BespinRequest => ({
    operation: 'getMethodsDocument',
    method: 'GET',
    path: `/admin/workflow-methods-documents/${pathSegment(documentId)}/`,
  }),
  recordJobError: (error: JobErrorRecord): BespinRequest => ({
    operation: 'recordJobError',
    method: 'POST',
    path: '/admin/job-errors/',
    body: serializeJobErrorBody(error),
  }),
  saveOutputProject: (project: OutputProjectRecord): BespinRequest => ({
    operation: 'saveOutputProject',
    method: 'PUT',
    path: `/admin/job-dds-output-projects/${pathSegment(project.id)}/`,
    body: serializeOutputProjectBody(project),
  }),
} as const satisfies Record<BespinOperation, (...args: never[]) => BespinRequest>;

/** Statuses that say "not now" rather than "not this": the same request may succeed later. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 502 || status === 503 || status === 504;
}

export interface ReplyErrorOptions {
  /** Appended to the message, e.g. how many attempts were made. */
  readonly suffix?: string;
  /** Applied to the whole message before the error (and its stack) is built. */
  readonly redact?: (text: string) => string;
}

/**
 * The domain error for a non-2xx reply. `body` is the parsed JSON when the reply was JSON,
 * otherwise its text; DRF explains refusals as `{"detail": ...}` or as per-field lists.
 */
export function bespinReplyError(
  request: BespinRequest,
  status: number,
  body: unknown,
  { suffix = '', redact = (text: string) => text }: ReplyErrorOptions = {},
): DomainError {
  const explanation = explainReply(body);
  const message = redact(
    `bespin-api ${request.method} ${request.path} answered ${status}${explanation ? `: ${explanation}` : ''}${suffix}`,
  );
  if (status === 404) return new NotFoundError(message);
  // A plain 500 is Django failing on this request (a bug, or a missing trailing slash): repeating it does not help.
  if (isTransientStatus(status)) return new TransientError(message);
  return new PermanentError(message);
}

const MAX_EXPLANATION_LENGTH = 300;

function explainReply(body: unknown): string {
  const text = typeof body === 'string' ? explainText(body) : explainJson(body);
  return text.length > MAX_EXPLANATION_LENGTH ? `${text.slice(0, MAX_EXPLANATION_LENGTH - 3)}...` : text;
}

function explainJson(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body === null || typeof body !== 'object') return body === undefined ? '' : JSON.stringify(body);
  if (Array.isArray(body)) return body.map(explainJson).join(' ');
  const { detail } = body as { detail?: unknown };
  if (typeof detail === 'string') return detail;
  return Object.entries(body)
    .map(([field, problems]) => `${field}: ${explainJson(problems)}`)
    .join('; ');
}

/** Non-JSON replies are HTML error pages or proxy text; their words are enough. */
function explainText(text: string): string {
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The port in terms of requests: subclasses only carry a request to bespin-api (or its stand-in)
 * and return the JSON reply, throwing domain errors for refusals.
 */
export abstract class BespinRequestApi implements BespinApi {
  /** The parsed JSON body of a 2xx reply (undefined when a write's reply is not needed). */
  protected abstract send(request: BespinRequest): Promise<unknown>;

  async getJob(jobId: string | number): Promise<BespinJob> {
    return parseBespinJob(await this.send(bespinRequests.getJob(jobId)));
  }

  async setJobState(jobId: string | number, state: string): Promise<void> {
    await this.send(bespinRequests.setJobState(jobId, state));
  }

  async setJobStep(jobId: string | number, step: string): Promise<void> {
    await this.send(bespinRequests.setJobStep(jobId, step));
  }

  async getStageGroup(stageGroupId: number): Promise<StageGroup> {
    return parseStageGroup(await this.send(bespinRequests.getStageGroup(stageGroupId)), stageGroupId);
  }

  async getShareGroup(shareGroupId: number): Promise<ShareGroup> {
    return parseShareGroup(await this.send(bespinRequests.getShareGroup(shareGroupId)), shareGroupId);
  }

  async getMethodsDocument(documentId: number): Promise<string> {
    return parseMethodsDocument(await this.send(bespinRequests.getMethodsDocument(documentId)), documentId);
  }

  async recordJobError(error: JobErrorRecord): Promise<void> {
    await this.send(bespinRequests.recordJobError(error));
  }

  async saveOutputProject(project: OutputProjectRecord): Promise<void> {
    await this.send(bespinRequests.saveOutputProject(project));
  }
}
