import type {
  BespinJob,
  Flavor,
  JobErrorRecord,
  OutputProjectRecord,
  ShareGroup,
  StageGroup,
  StepSettings,
  WorkflowType,
} from '../../domain/bespin-job.js';
import { InvalidJobError } from '../../domain/errors.js';
import { STEP_TYPES, isStepType, type StepType } from '../../domain/job-codes.js';
import { pythonJsonDumps } from '../../domain/python-json.js';

/**
 * The JSON bespin-api speaks (bespin-api.md §3), in both directions, for every adapter: records
 * are checked field by field so a bad one fails with the JSON path and the problem instead of
 * an `undefined` deep inside a handler, and request bodies are written exactly as the original's
 * Python serializer wrote them.
 */

/** A kubernetes resource quantity (`64Gi`, `1G`, `500m`, `1e3`): the memory values end up in pod specs. */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** One value inside a record, with the path that names it in error messages. */
class JsonNode {
  constructor(
    readonly value: unknown,
    private readonly path: string,
    private readonly subject: string,
  ) {}

  fail(problem: string): never {
    const where = this.path === '' ? '' : ` ${this.path}`;
    throw new InvalidJobError(`${this.subject}:${where} ${problem}`);
  }

  /** The member `key` of this object; a missing key fails, a null value is returned as is. */
  get(key: string): JsonNode {
    const object = this.object();
    if (!Object.hasOwn(object, key)) this.child(key, undefined).fail('is missing');
    return this.child(key, object[key]);
  }

  /** Like `get`, but a missing key reads as null. */
  getOptional(key: string): JsonNode {
    const object = this.object();
    return this.child(key, Object.hasOwn(object, key) ? object[key] : null);
  }

  object(): Record<string, unknown> {
    if (this.value === null) this.fail('is null');
    if (typeof this.value !== 'object' || Array.isArray(this.value)) this.fail(`must be an object, got ${describe(this.value)}`);
    return this.value as Record<string, unknown>;
  }

  list(): JsonNode[] {
    if (!Array.isArray(this.value)) this.fail(`must be a list, got ${describe(this.value)}`);
    return this.value.map((item: unknown, index) => new JsonNode(item, `${this.path}[${index}]`, this.subject));
  }

  string(): string {
    if (typeof this.value !== 'string') this.fail(`must be a string, got ${describe(this.value)}`);
    return this.value;
  }

  nonEmptyString(): string {
    const text = this.string();
    if (text === '') this.fail('must not be empty');
    return text;
  }

  integer(minimum = Number.MIN_SAFE_INTEGER): number {
    if (typeof this.value !== 'number' || !Number.isSafeInteger(this.value)) {
      this.fail(`must be an integer, got ${describe(this.value)}`);
    }
    if (this.value < minimum) this.fail(`must be at least ${minimum}, got ${this.value}`);
    return this.value;
  }

  nullableInteger(): number | null {
    return this.value === null ? null : this.integer();
  }

  quantity(): string {
    const text = this.string();
    if (!QUANTITY.test(text)) this.fail(`must be a kubernetes quantity such as "2Gi", got ${describe(text)}`);
    return text;
  }

  /** A string holding JSON text, as bespin stores `job_order` and `vm_volume_mounts`. */
  jsonText(): string {
    const text = this.string();
    try {
      JSON.parse(text);
    } catch (error) {
      this.fail(`must hold JSON text (${error instanceof Error ? error.message : String(error)})`);
    }
    return text;
  }

  private child(key: string, value: unknown): JsonNode {
    return new JsonNode(value, this.path === '' ? key : `${this.path}.${key}`, this.subject);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `GET admin/jobs/<id>/` (bespin-api.md §3.1 lists what lando needs and why). */
export function parseBespinJob(json: unknown): BespinJob {
  const id = new JsonNode(json, '', 'job record').get('id').integer();
  const job = new JsonNode(json, '', `job ${id}`);

  const user = job.get('user');
  user.get('id').integer();

  job.get('vm_instance_name').string();
  job.get('vm_volume_name').string();
  job.get('vm_volume_mounts').jsonText();
  const cleanupVm = job.getOptional('cleanup_vm');
  if (cleanupVm.value !== null && typeof cleanupVm.value !== 'boolean') {
    cleanupVm.fail(`must be true or false, got ${describe(cleanupVm.value)}`);
  }

  const outputProject = job.get('output_project');
  outputProject.get('dds_user_credentials').integer();

  const settings = job.get('job_settings');
  // Only the key matters: k8s lando never runs the OpenStack settings, so their content is not checked.
  const openstack = settings.get('job_runtime_openstack');
  if (openstack.value !== null) openstack.object();

  return {
    id,
    username: user.get('username').nonEmptyString(),
    name: job.get('name').string(),
    created: parseCreated(job.get('created')),
    state: job.get('state').string(),
    step: job.get('step').string(),
    jobFlavor: parseJobFlavor(job.get('job_flavor')),
    stageGroupId: job.get('stage_group').nullableInteger(),
    shareGroupId: job.getOptional('share_group').nullableInteger(),
    jobOrder: job.get('job_order').jsonText(),
    workflow: parseWorkflowVersion(job.get('workflow_version')),
    outputProjectId: outputProject.get('id').integer(),
    volumeSizeGiB: job.get('volume_size').integer(1),
    steps: parseSteps(settings.get('job_runtime_k8s').get('steps')),
  };
}

function parseCreated(node: JsonNode): string {
  const text = node.string();
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(Date.parse(text))) {
    node.fail(`must be an ISO 8601 date-time, got ${describe(text)}`);
  }
  return text;
}

function parseJobFlavor(node: JsonNode): Flavor {
  node.get('name').string();
  return parseFlavor(node);
}

function parseFlavor(node: JsonNode): Flavor {
  return { cpus: node.get('cpus').integer(1), memory: node.get('memory').quantity() };
}

function parseWorkflowVersion(node: JsonNode): BespinJob['workflow'] {
  const versionNode = node.get('version');
  // Old bespin data holds the version as a number; lando only ever prints it.
  const version = typeof versionNode.value === 'number' ? String(versionNode.value) : versionNode.nonEmptyString();
  // 0 is what old bespin data has for "no document"; the original tested the id for truthiness.
  const methodsDocumentId = node.get('methods_document').nullableInteger() || null;
  return {
    url: node.get('url').nonEmptyString(),
    type: parseWorkflowType(node.get('type')),
    name: node.get('name').string(),
    version,
    workflowPath: node.get('workflow_path').string(),
    methodsDocumentId,
  };
}

function parseWorkflowType(node: JsonNode): WorkflowType {
  const type = node.string();
  if (type !== 'packed' && type !== 'zipped') node.fail(`must be "packed" or "zipped", got ${describe(type)}`);
  return type;
}

function parseSteps(stepsNode: JsonNode): Readonly<Record<StepType, StepSettings>> {
  const byType = new Map<StepType, StepSettings>();
  for (const step of stepsNode.list()) {
    const typeNode = step.get('step_type');
    const type = typeNode.string();
    // bespin may learn step types this lando does not run; they are no reason to refuse the job.
    if (!isStepType(type)) continue;
    if (byType.has(type)) typeNode.fail(`repeats ${describe(type)}`);
    byType.set(type, {
      imageName: step.get('image_name').nonEmptyString(),
      baseCommand: step.get('base_command').list().map((part) => part.string()),
      flavor: parseFlavor(step.get('flavor')),
    });
  }
  const missing = STEP_TYPES.filter((type) => !byType.has(type));
  if (missing.length > 0) stepsNode.fail(`lacks ${missing.join(', ')}`);
  const settingsOf = (type: StepType): StepSettings => byType.get(type) ?? stepsNode.fail(`lacks ${type}`);
  return {
    stage_data: settingsOf('stage_data'),
    run_workflow: settingsOf('run_workflow'),
    organize_output: settingsOf('organize_output'),
    save_output: settingsOf('save_output'),
    record_output_project: settingsOf('record_output_project'),
  };
}

/** `GET admin/job-file-stage-groups/<id>/` (bespin-api.md §3.3). */
export function parseStageGroup(json: unknown, stageGroupId: number): StageGroup {
  const group = new JsonNode(json, '', `stage group ${stageGroupId}`);
  return {
    ddsFiles: group.get('dds_files').list().map((file) => {
      file.get('dds_user_credentials').integer();
      return {
        fileId: file.get('file_id').nonEmptyString(),
        destinationPath: file.get('destination_path').nonEmptyString(),
        size: file.get('size').integer(0),
      };
    }),
    urlFiles: group.get('url_files').list().map((file) => ({
      url: file.get('url').nonEmptyString(),
      destinationPath: file.get('destination_path').nonEmptyString(),
      size: file.get('size').integer(0),
    })),
  };
}

/** `GET admin/share-groups/<id>/` (bespin-api.md §3.4): the users' DukeDS ids, in bespin's order. */
export function parseShareGroup(json: unknown, shareGroupId: number): ShareGroup {
  const group = new JsonNode(json, '', `share group ${shareGroupId}`);
  return { ddsUserIds: group.get('users').list().map((user) => user.get('dds_id').nonEmptyString()) };
}

/** `GET admin/workflow-methods-documents/<id>/` (bespin-api.md §3.5): the template text. */
export function parseMethodsDocument(json: unknown, documentId: number): string {
  return new JsonNode(json, '', `methods document ${documentId}`).get('content').string();
}

/** Body of `PUT admin/jobs/<id>/` for a state change: exactly one key (bespin-api.md §3.2). */
export function serializeJobStateBody(state: string): string {
  return pythonJsonDumps({ state });
}

/** Body of `PUT admin/jobs/<id>/` for a step change: exactly one key (bespin-api.md §3.2). */
export function serializeJobStepBody(step: string): string {
  return pythonJsonDumps({ step });
}

/** Body of `POST admin/job-errors/` (bespin-api.md §3.6), keys in the original's order. */
export function serializeJobErrorBody(error: JobErrorRecord): string {
  return pythonJsonDumps({ job: error.job, job_step: error.jobStep, content: error.content });
}

/** Body of `PUT admin/job-dds-output-projects/<id>/` (bespin-api.md §3.7), keys in the original's order. */
export function serializeOutputProjectBody(project: OutputProjectRecord): string {
  return pythonJsonDumps({
    id: project.id,
    job: project.job,
    project_id: project.projectId,
    readme_file_id: project.readmeFileId,
  });
}
