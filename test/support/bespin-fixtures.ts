/**
 * The recorded fixtures (test/fixtures) as domain values. The mapper here is deliberately
 * minimal and trusts the fixtures; production parsing with validation lives in the bespin
 * adapter.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { BespinJob, Flavor, ShareGroup, StageGroup, StepSettings, WorkflowType } from '../../src/domain/bespin-job.js';
import { STEP_TYPES, type StepType } from '../../src/domain/job-codes.js';
import type { LandoSettings } from '../../src/domain/settings.js';
import { loadTranscript, type Transcript, type TranscriptEvent, type TranscriptMessage } from './transcripts.js';

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function readFixture<T = unknown>(relativePath: string): T {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}${relativePath}`, 'utf8')) as T;
}

/** The lando settings the transcripts were recorded with (visible in their request bodies). */
export const TRANSCRIPT_SETTINGS: LandoSettings = {
  storageClassName: 'glusterfs-storage',
  baseStageDataVolumeSizeInG: 1,
  dataStoreSecretName: 'ddsclient-agent',
  systemDataVolume: { volumeClaimName: 'system-data', mountPath: '/bespin/system/' },
  recordOutputProjectServiceAccount: 'annotation-writer-sa',
};

interface FlavorJson {
  cpus: number;
  memory: string;
}

interface BespinJobJson {
  id: number;
  user: { username: string };
  name: string;
  created: string;
  state: string;
  step: string;
  job_flavor: FlavorJson;
  stage_group: number | null;
  share_group: number | null;
  job_order: string;
  volume_size: number;
  output_project: { id: number } | null;
  workflow_version: {
    url: string;
    type: WorkflowType;
    name: string;
    version: string;
    workflow_path: string;
    methods_document: number | null;
  };
  job_settings: {
    job_runtime_k8s: {
      steps: { step_type: StepType; image_name: string; base_command: string[]; flavor: FlavorJson }[];
    };
  };
}

function flavor(json: FlavorJson): Flavor {
  return { cpus: json.cpus, memory: json.memory };
}

export function bespinJobFromJson(raw: unknown): BespinJob {
  const json = raw as BespinJobJson;
  const stepsJson = json.job_settings.job_runtime_k8s.steps;
  const steps = Object.fromEntries(
    STEP_TYPES.map((type): [StepType, StepSettings] => {
      const step = stepsJson.find((candidate) => candidate.step_type === type);
      if (step === undefined) throw new Error(`fixture job ${json.id} lacks step ${type}`);
      return [type, { imageName: step.image_name, baseCommand: step.base_command, flavor: flavor(step.flavor) }];
    }),
  ) as Record<StepType, StepSettings>;
  return {
    id: json.id,
    username: json.user.username,
    name: json.name,
    created: json.created,
    state: json.state,
    step: json.step,
    jobFlavor: flavor(json.job_flavor),
    stageGroupId: json.stage_group,
    shareGroupId: json.share_group,
    jobOrder: json.job_order,
    workflow: {
      url: json.workflow_version.url,
      type: json.workflow_version.type,
      name: json.workflow_version.name,
      version: json.workflow_version.version,
      workflowPath: json.workflow_version.workflow_path,
      methodsDocumentId: json.workflow_version.methods_document,
    },
    outputProjectId: json.output_project?.id ?? null,
    volumeSizeGiB: json.volume_size,
    steps,
  };
}

interface StageGroupJson {
  dds_files: { file_id: string; destination_path: string; size: number }[];
  url_files: { url: string; destination_path: string; size: number }[];
}

export function stageGroupFromJson(raw: unknown): StageGroup {
  const json = raw as StageGroupJson;
  return {
    ddsFiles: json.dds_files.map((file) => ({ fileId: file.file_id, destinationPath: file.destination_path, size: file.size })),
    urlFiles: json.url_files.map((file) => ({ url: file.url, destinationPath: file.destination_path, size: file.size })),
  };
}

export function shareGroupFromJson(raw: unknown): ShareGroup {
  return { ddsUserIds: (raw as { users: { dds_id: string }[] }).users.map((user) => user.dds_id) };
}

export interface K8sEvent extends TranscriptEvent {
  readonly kind: 'k8s';
  readonly verb: 'create' | 'delete' | 'list';
  readonly http: string;
  readonly resource: 'persistentvolumeclaims' | 'configmaps' | 'jobs' | 'pods';
  readonly body?: Record<string, unknown>;
  readonly name?: string;
  readonly labelSelector?: string;
}

export function k8sEvents(message: TranscriptMessage): K8sEvent[] {
  return message.events.filter((event): event is K8sEvent => event.kind === 'k8s');
}

/** One recorded happy path with the bespin records its messages were handled with. */
export interface HappyPath {
  readonly transcript: Transcript;
  readonly job: BespinJob;
  readonly stageGroup: StageGroup;
  readonly shareGroup: ShareGroup;
  readonly methodsContent: string | null;
}

export function loadHappyPath(variant: 'zipped' | 'packed'): HappyPath {
  const transcript = loadTranscript(`happy-path-${variant}`);
  const job = bespinJobFromJson(readFixture(transcript.bespin_job_fixture));
  const stageGroupFile = variant === 'zipped' ? 'job-file-stage-group.json' : 'job-file-stage-group-packed.json';
  const methodsContent =
    job.workflow.methodsDocumentId === null
      ? null
      : (readFixture('workflow-methods-document.json') as { content: string }).content;
  return {
    transcript,
    job,
    stageGroup: stageGroupFromJson(readFixture(stageGroupFile)),
    shareGroup: shareGroupFromJson(readFixture('share-group.json')),
    methodsContent,
  };
}

export function transcriptMessage(transcript: Transcript, command: string): TranscriptMessage {
  const message = transcript.messages.find((candidate) => candidate.command === command);
  if (message === undefined) throw new Error(`transcript ${transcript.scenario} has no ${command} message`);
  return message;
}
