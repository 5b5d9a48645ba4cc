import { createHash } from 'node:crypto';

import { InvalidJobError } from './errors.js';

/** Every Kubernetes name lando derives from one bespin job (kubernetes.md §2). */
export interface JobNames {
  readonly suffix: string;
  /** PVC holding the workflow, job order and inputs. */
  readonly stagePvc: string;
  readonly outputPvc: string;
  /** Stage ConfigMap, Job and container. */
  readonly stageData: string;
  readonly runWorkflow: string;
  readonly organizeOutput: string;
  readonly saveOutput: string;
  readonly recordOutputProject: string;
  /** Volume of the DukeDS credentials Secret in the stage and save pods. */
  readonly dataStoreVolume: string;
  /** Volume of the pre-existing system data PVC in the run pod. */
  readonly systemDataVolume: string;
  /** calrissian's usage report, also listed among organize_output's log files. */
  readonly usageReportPath: string;
}

const MAX_DNS_LABEL = 63;
const MAX_LABEL_VALUE = 63;
const HASH_LENGTH = 8;

/** The name prefixes that sit in front of the suffix; the longest bounds the suffix length. */
const NAME_PREFIXES = [
  'job-data-',
  'output-data-',
  'stage-data-',
  'run-workflow-',
  'organize-output-',
  'save-output-',
  'record-output-project-',
  'data-store-',
  'system-data-',
] as const;
const MAX_SUFFIX = MAX_DNS_LABEL - Math.max(...NAME_PREFIXES.map((prefix) => prefix.length));

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** RFC 1123 label: what container, volume and (stricter than needed) object names must be. */
export function isDnsLabel(text: string): boolean {
  return text.length <= MAX_DNS_LABEL && DNS_LABEL.test(text);
}

export function isValidLabelValue(text: string): boolean {
  return text.length <= MAX_LABEL_VALUE && LABEL_VALUE.test(text);
}

export function jobNames(jobId: number, username: string): JobNames {
  const suffix = jobSuffix(jobId, username);
  return {
    suffix,
    stagePvc: `job-data-${suffix}`,
    outputPvc: `output-data-${suffix}`,
    stageData: `stage-data-${suffix}`,
    runWorkflow: `run-workflow-${suffix}`,
    organizeOutput: `organize-output-${suffix}`,
    saveOutput: `save-output-${suffix}`,
    recordOutputProject: `record-output-project-${suffix}`,
    dataStoreVolume: `data-store-${suffix}`,
    systemDataVolume: `system-data-${suffix}`,
    usageReportPath: `/bespin/output-data/job-${suffix}-resource-usage.json`,
  };
}

/**
 * The pod template's `metadata.name`, kept as the original wrote it. Kubernetes does not
 * validate or use it, so it may exceed 63 characters when the Job name is near the limit.
 */
export function podTemplateName(jobName: string): string {
  return `${jobName}spec`;
}

/**
 * `<id>-<username before '@'>` as the original builds it whenever that makes valid names, so
 * objects of jobs started by the original stay addressable. Otherwise (W8, W9) a cleaned,
 * shortened user part plus a hash of the full username: deterministic, so a restarted lando
 * finds the same objects, and distinct for usernames that clean alike.
 */
function jobSuffix(jobId: number, username: string): string {
  if (!Number.isSafeInteger(jobId) || jobId < 0) {
    throw new InvalidJobError(`job id must be a non-negative integer to name its objects, got ${jobId}`);
  }
  const userPart = username.split('@', 1)[0] ?? '';
  const original = `${jobId}-${userPart}`;
  if (original.length <= MAX_SUFFIX && DNS_LABEL.test(original)) return original;

  const hash = shortHash(`${jobId}:${username}`);
  const room = MAX_SUFFIX - `${jobId}-`.length - `-${hash}`.length;
  const cleaned = trimToAlphanumeric(
    trimToAlphanumeric(withoutMarks(userPart.toLowerCase()).replace(/[^a-z0-9]+/g, '-')).slice(0, room),
  );
  return cleaned === '' ? `${jobId}-${hash}` : `${jobId}-${cleaned}-${hash}`;
}

/**
 * A valid label value for `text`: the text itself when it already is one, otherwise a
 * deterministic cleaned form with a hash of the text, so every selector built from the same
 * text matches the labels written from it.
 */
export function labelValue(text: string): string {
  if (isValidLabelValue(text)) return text;
  const hash = shortHash(text);
  const room = MAX_LABEL_VALUE - `-${hash}`.length;
  const cleaned = trimToAlphanumeric(
    trimToAlphanumeric(withoutMarks(text).replace(/[^-A-Za-z0-9_.]+/g, '-')).slice(0, room),
  );
  return cleaned === '' ? hash : `${cleaned}-${hash}`;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, HASH_LENGTH);
}

/** NFKD splits accented letters into a base letter and combining marks; keep the letter. */
function withoutMarks(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '');
}

function trimToAlphanumeric(text: string): string {
  return text.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}
