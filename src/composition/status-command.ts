/**
 * `status JOB_ID`: the job's state and step in bespin-api beside what the cluster holds for it,
 * found by the labels lando puts on every object: PVCs with their phase, ConfigMaps, Jobs with
 * their conditions, pods with their phase and why their containers wait. bespin-api's admin API
 * has no endpoint that reads job errors back (only `POST admin/job-errors/`), so none are shown.
 */
import { BespinHttpApi } from '../adapters/bespin/bespin-http-api.js';
import type { ClaimView, JobObjects } from '../adapters/k8s/k8s-inspector.js';
import { labelSelectorText } from '../adapters/k8s/k8s-views.js';
import type { BespinJob } from '../domain/bespin-job.js';
import type { JobStatusView, PodView } from '../domain/cluster-objects.js';
import { JobState, JobStep } from '../domain/job-codes.js';
import { StageSequencer } from '../domain/stage-sequencer.js';
import type { Logger } from '../ports/logger.js';
import { ClientUsageError } from './client-errors.js';
import { landoSettingsFrom, type AppConfig } from './config.js';

/** An operator is waiting: bespin-api answers within seconds or not at all. */
const REQUEST_TIMEOUT_MS = 10_000;

export async function statusCommand(config: AppConfig, words: readonly string[], logger: Logger, out: NodeJS.WritableStream): Promise<number> {
  const [jobId, ...extra] = words;
  if (jobId === undefined || !/^\d+$/.test(jobId) || extra.length > 0) {
    throw new ClientUsageError(`status takes exactly one job id (digits), got ${JSON.stringify(words.join(' '))}`);
  }
  const bespin = new BespinHttpApi({ baseUrl: config.bespinApi.url, token: config.bespinApi.token, timeoutMs: REQUEST_TIMEOUT_MS, retries: 1, logger });
  let job: BespinJob;
  try {
    job = await bespin.getJob(jobId);
  } catch (error) {
    out.write(`bespin-api: cannot read job ${jobId}: ${(error as Error).message}\n`);
    return 1;
  }
  out.write(`${describeJob(job)}\n`);

  const namespace = config.clusterApiSettings.namespace;
  const selector = new StageSequencer(landoSettingsFrom(config)).cleanupSelector(job);
  let objects: JobObjects;
  try {
    const { inspectCluster } = await import('./operator-cluster.js');
    objects = await inspectCluster(config, logger).jobObjects(selector);
  } catch (error) {
    out.write(`cluster: cannot list the job's objects: ${(error as Error).message}\n`);
    return 1;
  }
  out.write(`cluster: namespace ${namespace}, objects labelled ${labelSelectorText(selector)}:\n`);
  const lines = [
    ...objects.claims.map((claim) => row('PersistentVolumeClaim', claim.name, describeClaim(claim))),
    ...objects.configMaps.map((name) => row('ConfigMap', name, '')),
    ...objects.jobs.map((stepJob) => row('Job', stepJob.name, describeConditions(stepJob))),
    ...objects.pods.map((pod) => row('Pod', pod.name, describePod(pod))),
  ];
  out.write(lines.length === 0 ? '  none\n' : lines.join(''));
  return 0;
}

/** `job 42 "Sample1 exome" of jdoe12@duke.edu: state R (Running), step S (Staging)`. */
function describeJob(job: BespinJob): string {
  const state = codeName(JobState, job.state);
  const step = job.step === JobStep.None ? 'none' : `${job.step} (${codeName(JobStep, job.step)})`;
  return `bespin-api: job ${job.id} ${JSON.stringify(job.name)} of ${job.username}: state ${job.state} (${state}), step ${step}`;
}

function codeName(codes: Readonly<Record<string, string>>, code: string): string {
  return Object.entries(codes).find(([, value]) => value === code)?.[0] ?? 'unknown to lando';
}

function row(kind: string, name: string, detail: string): string {
  return `  ${kind.padEnd(21)}  ${detail === '' ? name : `${name.padEnd(40)}  ${detail}`}\n`;
}

function describeClaim(claim: ClaimView): string {
  return [
    claim.phase,
    ...(claim.requested === undefined ? [] : [claim.requested]),
    ...(claim.storageClassName === undefined ? [] : [`storage class ${claim.storageClassName}`]),
    ...(claim.terminating ? ['terminating'] : []),
  ].join(', ');
}

/** `Complete=True`, `Failed=True (BackoffLimitExceeded: ...)`; a running Job has none yet. */
function describeConditions(job: JobStatusView): string {
  if (job.conditions.length === 0) return 'no conditions yet';
  return job.conditions
    .map((condition) => {
      const why = [condition.reason, condition.message].filter((part) => part !== undefined && part !== '').join(': ');
      return `${condition.type}=${condition.status}${why === '' ? '' : ` (${why})`}`;
    })
    .join(', ');
}

/** `Pending; waiting: step ImagePullBackOff (Back-off pulling image "x")`. */
function describePod(pod: PodView): string {
  const parts = [pod.phase];
  for (const waiting of pod.waiting) {
    parts.push(`waiting: ${waiting.container} ${waiting.reason}${waiting.message === undefined ? '' : ` (${waiting.message})`}`);
  }
  if (pod.scheduled?.status === 'False') {
    parts.push(`not scheduled: ${[pod.scheduled.reason, pod.scheduled.message].filter((part) => part !== undefined).join(': ')}`);
  }
  return parts.join('; ');
}
