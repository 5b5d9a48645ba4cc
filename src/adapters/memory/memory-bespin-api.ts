import { injectable } from 'inversify';
import { BespinRequestApi, bespinReplyError, type BespinRequest } from '../bespin/bespin-requests.js';
import { BespinAdminRecords, type JsonObject, type JsonOverrides } from './bespin-admin-records.js';
import { FaultPlan } from './fault-plan.js';

/** One request as it reached the fake bespin-api, in the transcripts' `bespin` event format. */
export interface RecordedBespinCall {
  readonly method: string;
  /** Our trailing-slash form, e.g. `/admin/job-file-stage-groups/40/`. */
  readonly path: string;
  readonly json?: unknown;
  readonly bodyBytes?: string;
}

/**
 * bespin-api in memory: the same requests the HTTP adapter sends, answered by the same record
 * store the HTTP test server uses, so validation (blank `job_step`, unknown ids) and stored
 * results match. Faults are injected by port method name (`getJob`, `recordJobError`, ...)
 * before a call reaches the store, so a faulted call is not recorded in `calls`.
 */
@injectable()
export class MemoryBespinApi extends BespinRequestApi {
  private readonly recordedCalls: RecordedBespinCall[] = [];

  constructor(
    readonly records: BespinAdminRecords = new BespinAdminRecords(),
    readonly faults: FaultPlan = new FaultPlan(),
  ) {
    super();
  }

  protected async send(request: BespinRequest): Promise<unknown> {
    await this.faults.before(request.operation);
    this.recordedCalls.push(
      request.body === undefined
        ? { method: request.method, path: request.path }
        : { method: request.method, path: request.path, json: JSON.parse(request.body) as unknown, bodyBytes: request.body },
    );
    const reply = this.records.handle(request);
    if (reply.status < 200 || reply.status >= 300) throw bespinReplyError(request, reply.status, reply.body);
    return reply.body;
  }

  get calls(): readonly RecordedBespinCall[] {
    return [...this.recordedCalls];
  }

  clearCalls(): void {
    this.recordedCalls.length = 0;
  }

  addJob(json: JsonObject, id?: number): void {
    this.records.addJob(json, id);
  }

  generateJob(id: number, overrides?: JsonOverrides): JsonObject {
    return this.records.generateJob(id, overrides);
  }

  addStageGroup(json: JsonObject): void {
    this.records.addStageGroup(json);
  }

  addShareGroup(json: JsonObject): void {
    this.records.addShareGroup(json);
  }

  addMethodsDocument(json: JsonObject): void {
    this.records.addMethodsDocument(json);
  }

  /** The job's current JSON, with every state and step written so far. */
  job(id: number): JsonObject | undefined {
    return this.records.job(id);
  }

  get jobErrors(): JsonObject[] {
    return this.records.jobErrors;
  }

  get outputProjects(): JsonObject[] {
    return this.records.outputProjects;
  }
}
