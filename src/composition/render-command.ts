/**
 * `render --job FILE`: every Kubernetes object lando would create for a bespin job, step by
 * step, as multi-document YAML an operator can `kubectl apply --dry-run=server -f -` or diff.
 * No connection is made; the configuration file only supplies the settings and namespace.
 */
import { readFileSync } from 'node:fs';
import { Document } from 'yaml';
import { parseBespinJob, parseMethodsDocument, parseShareGroup, parseStageGroup } from '../adapters/bespin/bespin-json.js';
import { toApiBody, type ApiBody } from '../adapters/k8s/object-bodies.js';
import type { BespinJob, ShareGroup, StageGroup } from '../domain/bespin-job.js';
import type { ClusterObject, ObjectKind } from '../domain/cluster-objects.js';
import { InvalidJobError } from '../domain/errors.js';
import { STEP_TYPES, type StepType } from '../domain/job-codes.js';
import { StageSequencer } from '../domain/stage-sequencer.js';
import { ClientInputError, ClientUsageError } from './client-errors.js';
import { landoSettingsFrom, type AppConfig } from './config.js';

/** The files `render` reads; only the job is required. */
export interface RenderFiles {
  readonly job?: string;
  readonly stageGroup?: string;
  readonly shareGroup?: string;
  readonly methods?: string;
}

/** What the sequencer needs besides the job, read from files or assumed. */
interface RenderInputs {
  readonly job: BespinJob;
  readonly stageGroup: StageGroup;
  readonly shareGroup: ShareGroup;
  /** The methods document's content; null when the workflow has none. */
  readonly methods: string | null;
}

/** One object lando creates, with the step that creates it. */
interface StepObject {
  readonly step: StepType;
  readonly object: ClusterObject;
}

const API_VERSIONS: Readonly<Record<ObjectKind, string>> = { PersistentVolumeClaim: 'v1', ConfigMap: 'v1', Job: 'batch/v1' };
const EMPTY_STAGE_GROUP: StageGroup = { ddsFiles: [], urlFiles: [] };
const EMPTY_SHARE_GROUP: ShareGroup = { ddsUserIds: [] };

export function renderCommand(config: AppConfig, words: readonly string[], files: RenderFiles): string {
  if (words.length > 0) throw new ClientUsageError(`render takes its input as --job FILE, not words; got ${JSON.stringify(words.join(' '))}`);
  if (files.job === undefined) throw new ClientUsageError('render needs --job FILE: a bespin job as GET admin/jobs/<id>/ answers it');
  const { inputs, sources } = readInputs({ ...files, job: files.job });
  const namespace = config.clusterApiSettings.namespace;
  const objects = objectsLandoCreates(new StageSequencer(landoSettingsFrom(config)), inputs);
  return [header(inputs.job, namespace, sources), ...objects.map((entry, position) => document(entry, position, objects.length, namespace))].join('');
}

/** In the order lando creates them (job-runner.ts), each step's objects after the previous step's. */
function objectsLandoCreates(sequencer: StageSequencer, inputs: RenderInputs): StepObject[] {
  const { job } = inputs;
  const stage = sequencer.stageData(job, inputs.stageGroup);
  const organize = sequencer.organizeOutput(job, inputs.methods);
  const save = sequencer.saveOutput(job, inputs.shareGroup);
  return [
    { step: 'stage_data', object: sequencer.jobDataPvc(job, inputs.stageGroup) },
    { step: 'stage_data', object: stage.configMap },
    { step: 'stage_data', object: stage.job },
    { step: 'run_workflow', object: sequencer.outputDataPvc(job) },
    { step: 'run_workflow', object: sequencer.runWorkflow(job).job },
    { step: 'organize_output', object: organize.configMap },
    { step: 'organize_output', object: organize.job },
    { step: 'save_output', object: save.configMap },
    { step: 'save_output', object: save.job },
    { step: 'record_output_project', object: sequencer.recordOutputProject(job).job },
  ];
}

/** The object as `kubectl apply` needs it: apiVersion, kind and namespace added to the body lando sends. */
export function manifestOf(object: ClusterObject, namespace: string): ApiBody {
  const { metadata, ...rest } = toApiBody(object);
  // toApiBody always writes metadata as an object; the generic body type cannot say so.
  return { apiVersion: API_VERSIONS[object.kind], kind: object.kind, metadata: { name: object.metadata.name, namespace, ...(metadata as ApiBody) }, ...rest };
}

function document({ step, object }: StepObject, position: number, count: number, namespace: string): string {
  const stepNumber = STEP_TYPES.indexOf(step) + 1;
  // YAML 1.1, as kubectl reads manifests: values such as "on" or "no" are quoted so they stay text.
  const yaml = new Document(manifestOf(object, namespace), { version: '1.1' }).toString({ lineWidth: 0 });
  return `---\n# ${position + 1}/${count}: step ${stepNumber} ${step} creates ${object.kind} ${object.metadata.name}\n${yaml}`;
}

function header(job: BespinJob, namespace: string, sources: readonly string[]): string {
  const lines = [
    `Kubernetes objects lando would create for bespin job ${job.id} (${JSON.stringify(job.name)} of ${job.username}),`,
    `in the order it creates them, in namespace ${namespace}. Each step's objects are created once the`,
    'previous step has succeeded, and deleted when they are no longer needed. To have the cluster',
    'validate them, pipe them to: kubectl apply --dry-run=server -f -',
    'Rendered from:',
    ...sources.map((source) => `  ${source}`),
  ];
  return lines.map((line) => `# ${line}\n`).join('');
}

function readInputs(files: RenderFiles & { readonly job: string }): { inputs: RenderInputs; sources: string[] } {
  const job = parsed(files.job, '--job', parseBespinJob);
  const stageGroup = files.stageGroup === undefined ? undefined : groupFile(files.stageGroup, '--stage-group', job.stageGroupId, 'stage_group', parseStageGroup);
  const shareGroup = files.shareGroup === undefined ? undefined : groupFile(files.shareGroup, '--share-group', job.shareGroupId, 'share_group', parseShareGroup);
  const documentId = job.workflow.methodsDocumentId;
  if (documentId === null && files.methods !== undefined) {
    throw new ClientInputError(`--methods ${files.methods}: the workflow of job ${job.id} has no methods document, so none is used`);
  }
  const methods =
    documentId === null || files.methods === undefined ? undefined : groupFile(files.methods, '--methods', documentId, 'workflow_version.methods_document', parseMethodsDocument);
  const placeholder = `PLACEHOLDER: methods document ${documentId} was not given (render --methods FILE)`;
  return {
    inputs: {
      job,
      stageGroup: stageGroup ?? EMPTY_STAGE_GROUP,
      shareGroup: shareGroup ?? EMPTY_SHARE_GROUP,
      methods: documentId === null ? null : (methods ?? placeholder),
    },
    sources: [
      `job:         ${files.job}`,
      `settings:    the configuration file (namespace, storage class, data-store secret, labels, ...)`,
      stageGroup === undefined
        ? `stage group: ASSUMED EMPTY (no --stage-group FILE): the stage command lists no input files and the job-data volume has only its base size`
        : `stage group: ${files.stageGroup}`,
      shareGroup === undefined
        ? 'share group: ASSUMED EMPTY (no --share-group FILE): the save command shares the output with nobody'
        : `share group: ${files.shareGroup}`,
      documentId === null
        ? 'methods:     none (the workflow has no methods document)'
        : methods === undefined
          ? `methods:     PLACEHOLDER (no --methods FILE): the organize command carries ${JSON.stringify(placeholder)} instead of document ${documentId}`
          : `methods:     ${files.methods}`,
    ],
  };
}

/**
 * A stage group, share group or methods document as bespin-api serves it. Its `id`, when it
 * has one, must be the one the job refers to: rendering a job with another job's inputs
 * would mislead.
 */
function groupFile<T>(path: string, flag: string, expectedId: number | null, field: string, parse: (json: unknown, id: number) => T): T {
  return parsed(path, flag, (json) => {
    const id = typeof json === 'object' && json !== null && 'id' in json ? json.id : undefined;
    if (expectedId !== null && typeof id === 'number' && id !== expectedId) {
      throw new InvalidJobError(`holds id ${id}, but the job's ${field} is ${expectedId}`);
    }
    return parse(json, typeof id === 'number' ? id : (expectedId ?? 0));
  });
}

function parsed<T>(path: string, flag: string, parse: (json: unknown) => T): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ClientInputError(`${flag} ${path}: cannot read the file: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ClientInputError(`${flag} ${path}: not JSON: ${(error as Error).message}`);
  }
  try {
    return parse(json);
  } catch (error) {
    if (error instanceof InvalidJobError) throw new ClientInputError(`${flag} ${path}: ${error.message}`);
    throw error;
  }
}
