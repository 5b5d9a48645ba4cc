import { JobState, JobStep } from '../../domain/job-codes.js';

/**
 * bespin-api's admin records and the behaviour of the admin endpoints lando calls
 * (bespin-api.md §2-§3), for the in-memory adapter and the HTTP test server alike: records are
 * kept as the raw JSON bespin-api serves, writes are validated the way bespin-api's Django REST
 * Framework serializers validate them, and replies carry DRF's statuses and messages.
 */

export type JsonObject = Record<string, unknown>;

/** What the endpoint answers: a status and the JSON body (parsed). */
export interface BespinReply {
  readonly status: number;
  readonly body: unknown;
}

/** A request as it reaches bespin-api's router: `path` is relative to the v2 root (`/admin/jobs/42/`). */
export interface BespinRecordRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
}

/** Nested overrides for `generateJob`: objects merge key by key, anything else replaces. */
export type JsonOverrides = JsonObject;

const STATE_CHOICES: readonly string[] = Object.values(JobState);
/** `Job.step` may be blank; `JobError.job_step` may not (W21). */
const STEP_CHOICES: readonly string[] = Object.values(JobStep).filter((step) => step !== '');

const NOT_FOUND: BespinReply = { status: 404, body: { detail: 'Not found.' } };

type Handler = (id: string, body: unknown) => BespinReply;

interface Route {
  readonly pattern: RegExp;
  readonly get?: Handler;
  readonly put?: Handler;
  readonly post?: Handler;
}

/** Field errors in DRF's shape: every problem of the request at once, by field. */
type FieldErrors = Record<string, string[]>;

export class BespinAdminRecords {
  private readonly jobs = new Map<number, JsonObject>();
  private readonly stageGroups = new Map<number, JsonObject>();
  private readonly shareGroups = new Map<number, JsonObject>();
  private readonly methodsDocuments = new Map<number, JsonObject>();
  private readonly outputProjectRecords = new Map<number, JsonObject>();
  private readonly jobErrorRecords: JsonObject[] = [];

  // DRF's DefaultRouter lookup is `[^/.]+`; a path it does not match is Django's 404, not DRF's.
  private readonly routes: readonly Route[] = [
    {
      pattern: /^\/admin\/jobs\/([^/.]+)\/$/,
      get: (id) => read(this.jobs, id),
      put: (id, body) => this.updateJob(id, body),
    },
    { pattern: /^\/admin\/job-file-stage-groups\/([^/.]+)\/$/, get: (id) => read(this.stageGroups, id) },
    { pattern: /^\/admin\/share-groups\/([^/.]+)\/$/, get: (id) => read(this.shareGroups, id) },
    { pattern: /^\/admin\/workflow-methods-documents\/([^/.]+)\/$/, get: (id) => read(this.methodsDocuments, id) },
    { pattern: /^\/admin\/job-errors\/()$/, post: (_id, body) => this.createJobError(body) },
    {
      pattern: /^\/admin\/job-dds-output-projects\/([^/.]+)\/$/,
      get: (id) => read(this.outputProjectRecords, id),
      put: (id, body) => this.updateOutputProject(id, body),
    },
  ];

  /**
   * Stores a job record as given, valid or not (tests serve broken records on purpose). Its
   * `output_project`, when it has an id no output-project record has yet, becomes one too.
   */
  addJob(json: JsonObject, id: number = requireId(json, 'job')): void {
    const job = structuredClone(json);
    this.jobs.set(id, job);
    const project = job.output_project;
    if (isObject(project) && Number.isSafeInteger(project.id) && !this.outputProjectRecords.has(project.id as number)) {
      this.outputProjectRecords.set(project.id as number, {
        id: project.id,
        job: id,
        project_id: project.project_id ?? '',
        dds_user_credentials: project.dds_user_credentials ?? null,
        readme_file_id: '',
      });
    }
  }

  addStageGroup(json: JsonObject): void {
    this.stageGroups.set(requireId(json, 'stage group'), structuredClone(json));
  }

  addShareGroup(json: JsonObject): void {
    this.shareGroups.set(requireId(json, 'share group'), structuredClone(json));
  }

  addMethodsDocument(json: JsonObject): void {
    this.methodsDocuments.set(requireId(json, 'methods document'), structuredClone(json));
  }

  /**
   * Adds a valid zipped-workflow job with this id, plus the stage group, share group, methods
   * document and output project it refers to when they do not exist yet, so any number of jobs
   * can be served. `overrides` merge into the generated record (`{ workflow_version: { type: 'packed' } }`).
   */
  generateJob(id: number, overrides: JsonOverrides = {}): JsonObject {
    const generated = mergeJson(
      sampleJob(id, nextId(this.stageGroups), nextId(this.outputProjectRecords)),
      overrides,
    );
    this.addJob(generated, id);
    const { stage_group: stageGroup, share_group: shareGroup } = generated;
    if (typeof stageGroup === 'number' && !this.stageGroups.has(stageGroup)) this.addStageGroup(sampleStageGroup(stageGroup));
    if (typeof shareGroup === 'number' && !this.shareGroups.has(shareGroup)) this.addShareGroup(sampleShareGroup(shareGroup));
    const workflowVersion = generated.workflow_version;
    const methodsDocument = isObject(workflowVersion) ? workflowVersion.methods_document : null;
    if (typeof methodsDocument === 'number' && methodsDocument !== 0 && !this.methodsDocuments.has(methodsDocument)) {
      this.addMethodsDocument(sampleMethodsDocument(methodsDocument));
    }
    return structuredClone(generated);
  }

  /** The job's current JSON, as `GET admin/jobs/<id>/` would serve it. */
  job(id: number): JsonObject | undefined {
    const job = this.jobs.get(id);
    return job && structuredClone(job);
  }

  get jobErrors(): JsonObject[] {
    return structuredClone(this.jobErrorRecords);
  }

  get outputProjects(): JsonObject[] {
    return structuredClone([...this.outputProjectRecords.values()]);
  }

  /** Whether bespin-api's router has an endpoint at this path (Django's APPEND_SLASH asks this). */
  hasRoute(path: string): boolean {
    return this.routes.some((route) => route.pattern.test(path));
  }

  /** Answers one request as bespin-api's admin API would, after authentication. */
  handle(request: BespinRecordRequest): BespinReply {
    for (const route of this.routes) {
      const match = route.pattern.exec(request.path);
      if (!match) continue;
      const handler = handlerFor(route, request.method);
      if (!handler) return { status: 405, body: { detail: `Method "${request.method}" not allowed.` } };
      const body = parseRequestBody(request.body);
      if ('parseError' in body) return { status: 400, body: { detail: `JSON parse error - ${body.parseError}` } };
      return handler(match[1] ?? '', body.data);
    }
    return { status: 404, body: 'Not Found: The requested resource was not found on this server.' };
  }

  private updateJob(id: string, data: unknown): BespinReply {
    const job = lookup(this.jobs, id);
    if (!job) return NOT_FOUND;
    if (!isObject(data)) return invalidData(data);
    const errors: FieldErrors = {};
    const state = checkChoice(data, 'state', STATE_CHOICES, { required: false, allowBlank: false }, errors);
    const step = checkChoice(data, 'step', STEP_CHOICES, { required: false, allowBlank: true }, errors);
    if (Object.keys(errors).length > 0) return { status: 400, body: errors };
    if (state !== undefined) job.state = state;
    if (step !== undefined) job.step = step;
    job.last_updated = djangoNow();
    return { status: 200, body: structuredClone(job) };
  }

  private createJobError(data: unknown): BespinReply {
    if (!isObject(data)) return invalidData(data);
    const errors: FieldErrors = {};
    const job = this.checkJobReference(data, errors);
    const jobStep = checkChoice(data, 'job_step', STEP_CHOICES, { required: true, allowBlank: false }, errors);
    const content = checkText(data, 'content', { required: true, allowBlank: false }, errors);
    if (Object.keys(errors).length > 0) return { status: 400, body: errors };
    const record = { id: this.jobErrorRecords.length + 1, job, content, job_step: jobStep, created: djangoNow() };
    this.jobErrorRecords.push(record);
    return { status: 201, body: structuredClone(record) };
  }

  private updateOutputProject(id: string, data: unknown): BespinReply {
    const project = lookup(this.outputProjectRecords, id);
    if (!project) return NOT_FOUND;
    if (!isObject(data)) return invalidData(data);
    const errors: FieldErrors = {};
    const job = this.checkJobReference(data, errors);
    const projectId = checkText(data, 'project_id', { required: false, allowBlank: true }, errors);
    const readmeFileId = checkText(data, 'readme_file_id', { required: false, allowBlank: true }, errors);
    if (Object.keys(errors).length > 0) return { status: 400, body: errors };
    project.job = job;
    if (projectId !== undefined) project.project_id = projectId;
    if (readmeFileId !== undefined) project.readme_file_id = readmeFileId;
    const nested = job === undefined ? undefined : this.jobs.get(job)?.output_project;
    if (isObject(nested) && nested.id === project.id) nested.project_id = project.project_id;
    return { status: 200, body: structuredClone(project) };
  }

  /** DRF's PrimaryKeyRelatedField for `job`: a job id as number or digit string. */
  private checkJobReference(data: JsonObject, errors: FieldErrors): number | undefined {
    if (!Object.hasOwn(data, 'job')) return addError(errors, 'job', 'This field is required.');
    const value = data.job;
    if (value === null) return addError(errors, 'job', 'This field may not be null.');
    if (typeof value !== 'number' && typeof value !== 'string') {
      return addError(errors, 'job', `Incorrect type. Expected pk value, received ${pythonTypeName(value)}.`);
    }
    const id = toId(String(value));
    if (id === undefined && typeof value === 'string') {
      return addError(errors, 'job', 'Incorrect type. Expected pk value, received str.');
    }
    if (id === undefined || !this.jobs.has(id)) return addError(errors, 'job', `Invalid pk "${String(value)}" - object does not exist.`);
    return id;
  }
}

function handlerFor(route: Route, method: string): Handler | undefined {
  switch (method) {
    case 'GET':
      return route.get;
    case 'PUT':
      return route.put;
    case 'POST':
      return route.post;
    default:
      return undefined;
  }
}

/** DRF reads an empty body as no data at all, so every required field is then reported missing. */
function parseRequestBody(text: string | undefined): { data: unknown } | { parseError: string } {
  if (text === undefined || text === '') return { data: {} };
  try {
    return { data: JSON.parse(text) as unknown };
  } catch (error) {
    return { parseError: error instanceof Error ? error.message : String(error) };
  }
}

function read(records: Map<number, JsonObject>, id: string): BespinReply {
  const record = lookup(records, id);
  return record ? { status: 200, body: structuredClone(record) } : NOT_FOUND;
}

/** Django looks pks up by their integer value; any other text simply finds nothing. */
function lookup(records: Map<number, JsonObject>, id: string): JsonObject | undefined {
  const key = toId(id);
  return key === undefined ? undefined : records.get(key);
}

function toId(text: string): number | undefined {
  return /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
}

function invalidData(data: unknown): BespinReply {
  return {
    status: 400,
    body: { non_field_errors: [`Invalid data. Expected a dictionary, but got ${pythonTypeName(data)}.`] },
  };
}

function addError(errors: FieldErrors, field: string, message: string): undefined {
  (errors[field] ??= []).push(message);
  return undefined;
}

interface FieldRules {
  readonly required: boolean;
  readonly allowBlank: boolean;
}

/** DRF's ChoiceField (compares the text of the value) with the blank rule of the model field. */
function checkChoice(
  data: JsonObject,
  field: string,
  choices: readonly string[],
  rules: FieldRules,
  errors: FieldErrors,
): string | undefined {
  const text = checkPresent(data, field, rules, errors);
  if (text === undefined) return undefined;
  if (text === '') return rules.allowBlank ? '' : addError(errors, field, 'This field may not be blank.');
  if (!choices.includes(text)) return addError(errors, field, `"${text}" is not a valid choice.`);
  return text;
}

/** DRF's CharField: numbers are taken as their text, whitespace is trimmed before the blank check. */
function checkText(data: JsonObject, field: string, rules: FieldRules, errors: FieldErrors): string | undefined {
  const text = checkPresent(data, field, rules, errors);
  if (text === undefined) return undefined;
  if (text.trim() === '' && !rules.allowBlank) return addError(errors, field, 'This field may not be blank.');
  return text.trim();
}

function checkPresent(data: JsonObject, field: string, rules: FieldRules, errors: FieldErrors): string | undefined {
  if (!Object.hasOwn(data, field)) return rules.required ? addError(errors, field, 'This field is required.') : undefined;
  const value = data[field];
  if (value === null) return addError(errors, field, 'This field may not be null.');
  if (typeof value !== 'string' && typeof value !== 'number') return addError(errors, field, 'Not a valid string.');
  return String(value);
}

function pythonTypeName(value: unknown): string {
  if (value === null) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  switch (typeof value) {
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(value) ? 'int' : 'float';
    case 'string':
      return 'str';
    default:
      return 'dict';
  }
}

/** DRF's DateTimeField output in UTC: microseconds and a `Z`. */
function djangoNow(): string {
  return new Date().toISOString().replace(/Z$/, '000Z');
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function requireId(json: JsonObject, what: string): number {
  const { id } = json;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
    throw new TypeError(`A ${what} record needs an integer "id" (got ${JSON.stringify(id)}); pass the id explicitly to store a record without one`);
  }
  return id;
}

function nextId(records: Map<number, unknown>): number {
  return Math.max(0, ...records.keys()) + 1;
}

function mergeJson(base: JsonObject, overrides: JsonOverrides): JsonObject {
  const merged = structuredClone(base);
  for (const [key, value] of Object.entries(overrides)) {
    const current = merged[key];
    merged[key] = isObject(current) && isObject(value) ? mergeJson(current, value) : structuredClone(value);
  }
  return merged;
}

const GIB = 1024 ** 3;

function k8sStep(id: number, stepType: string, imageName: string, baseCommand: string[], flavor: JsonObject): JsonObject {
  return { id, step_type: stepType, image_name: imageName, base_command: baseCommand, flavor };
}

/** A job shaped like bespin-api's v2 admin serializer output (bespin-api.md §3.1). */
function sampleJob(id: number, stageGroupId: number, outputProjectId: number): JsonObject {
  const small = { id: 1, name: 'k8s-step-small', cpus: 1, memory: '1Gi' };
  const calrissian = { id: 2, name: 'k8s-step-calrissian', cpus: 1, memory: '2Gi' };
  return {
    id,
    workflow_version: {
      id: 3,
      workflow: 2,
      name: 'Whole Exome Sequencing',
      description: 'Whole exome germline variant calling (GATK4)',
      type: 'zipped',
      workflow_path: 'exomeseq-gatk4-2.0.0/exomeseq-gatk4.cwl',
      created: '2019-05-01T12:00:00.000000Z',
      url: 'https://github.com/bespin-workflows/exomeseq-gatk4/archive/v2.0.0.zip',
      version: '2.0.0',
      version_info_url: 'https://github.com/bespin-workflows/exomeseq-gatk4/blob/v2.0.0/CHANGELOG.md',
      methods_document: null,
      fields: [{ name: 'threads', type: 'int' }],
      tag: 'exomeseq-gatk4/2.0.0',
      enable_ui: true,
      tool_details: null,
    },
    user: { id: 7, username: 'tester@duke.edu', first_name: 'Test', last_name: 'User', email: 'tester@example.org' },
    name: `Generated job ${id}`,
    created: '2019-06-07T14:03:11.123456Z',
    state: JobState.Starting,
    step: JobStep.None,
    last_updated: '2019-06-07T14:05:00.000000Z',
    job_settings: {
      id: 2,
      name: 'k8s-default',
      lando_connection: 2,
      job_runtime_openstack: null,
      job_runtime_k8s: {
        id: 1,
        steps: [
          k8sStep(1, 'stage_data', 'dukegcb/lando-util:0.5.4', ['python', '-m', 'lando_util.stagedata'], small),
          k8sStep(2, 'run_workflow', 'dukegcb/calrissian:latest', ['calrissian'], calrissian),
          k8sStep(3, 'organize_output', 'dukegcb/lando-util:0.5.4', ['python', '-m', 'lando_util.organize_project'], small),
          k8sStep(4, 'save_output', 'dukegcb/lando-util:0.5.4', ['python', '-m', 'lando_util.upload'], small),
          k8sStep(5, 'record_output_project', 'lachlanevenson/k8s-kubectl:v1.13.4', ['kubectl'], small),
        ],
      },
    },
    job_flavor: { id: 4, name: 'k8s-small', cpus: 2, memory: '4Gi' },
    vm_instance_name: '',
    vm_volume_name: '',
    vm_volume_mounts: '{"/dev/vdb1": "/work"}',
    job_order: '{"threads": 2}',
    output_project: { id: outputProjectId, job: id, project_id: '', dds_user_credentials: 1 },
    stage_group: stageGroupId,
    volume_size: 10,
    share_group: 1,
    cleanup_vm: true,
    fund_code: '123-4567',
  };
}

function sampleStageGroup(id: number): JsonObject {
  return {
    id,
    user: 7,
    dds_files: [
      {
        id,
        stage_group: id,
        project_id: '5e1f7b1a-0f3c-4a39-9a4b-3f0d3a6a1c11',
        file_id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
        dds_user_credentials: 1,
        destination_path: 'reads.fastq.gz',
        size: GIB,
        sequence_group: 0,
        sequence: 0,
      },
    ],
    url_files: [],
  };
}

function sampleShareGroup(id: number): JsonObject {
  return {
    id,
    users: [{ id: 1, name: 'Results Checker', dds_id: '7d1b9f52-3c2e-4f1a-b6e8-2a9d0c4b5e61' }],
    name: 'Informatics Core',
    email: 'informatics@example.org',
  };
}

function sampleMethodsDocument(id: number): JsonObject {
  return { id, workflow_version: 3, content: '# Methods\n\nGenerated methods document.\n' };
}
