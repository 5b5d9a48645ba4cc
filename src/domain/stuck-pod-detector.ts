import { inject, injectable } from 'inversify';
import type { Labels, PodView } from './cluster-objects.js';
import { STEP_OUTCOME_COMMANDS } from './commands.js';
import { describeError } from './errors.js';
import { isStepType, type StepType } from './job-codes.js';
import { bespinJobsSelector, JOB_ID_LABEL, STEP_LABEL } from './job-monitor.js';
import { WATCHER_SETTINGS, type WatcherSettings } from './settings.js';
import { CLOCK, type Clock } from '../ports/clock.js';
import { CLUSTER, type Cluster } from '../ports/cluster.js';
import { LOGGER, type Logger } from '../ports/logger.js';
import { METRICS, type Metrics } from '../ports/metrics.js';
import { LANDO_CLIENT, type LandoClient } from '../ports/work-queue.js';

export interface StuckPodSettings {
  readonly imagePullGraceMs: number;
  readonly unschedulableGraceMs: number;
  readonly stuckPodScanMs: number;
}

/**
 * What applies when WatcherSettings leaves a field out. The graces are those of the config
 * keys `watcher.image_pull_grace_seconds` (300) and `watcher.unschedulable_grace_seconds`
 * (900): an image pull retries with back-off up to 5 minutes apart, and a cluster autoscaler
 * needs several minutes to add a node for an unschedulable pod, so shorter graces would fail
 * jobs that were about to start. The scan interval (`watcher.stuck_pod_scan_seconds`, 30)
 * keeps a stuck job's report within a small fraction of those graces for one pod list per scan.
 */
export const DEFAULT_STUCK_POD_SETTINGS: StuckPodSettings = {
  imagePullGraceMs: 300_000,
  unschedulableGraceMs: 900_000,
  stuckPodScanMs: 30_000,
};

/**
 * Waiting reasons of a container that cannot start without someone fixing the image, the
 * Secret/ConfigMap or the pod spec. Kubernetes alternates ErrImagePull and ImagePullBackOff
 * for the same failed pull, so both count as one problem whose grace runs from the first
 * sighting of either.
 */
const CONTAINER_PROBLEMS: Readonly<Record<string, string>> = {
  ImagePullBackOff: 'image-pull',
  ErrImagePull: 'image-pull',
  InvalidImageName: 'invalid-image-name',
  CreateContainerConfigError: 'container-config',
  CreateContainerError: 'create-container',
};

/**
 * An image reference that does not parse can never be pulled, whatever the wait, so it is
 * reported at first sighting instead of after the grace.
 */
const HOPELESS_REASONS: ReadonlySet<string> = new Set(['InvalidImageName']);

/** The pod's events quoted in the report: the newest few say why; older ones repeat them. */
const RECENT_EVENT_COUNT = 5;

const SCHEDULING_REASON = 'Unschedulable';

/** Labels the Job controller puts on its pods; the newer name first. */
const JOB_NAME_LABEL = 'job-name';
const CONTROLLER_UID_LABELS = ['batch.kubernetes.io/controller-uid', 'controller-uid'] as const;

/** A step Job as its pods' labels describe it. */
interface StepJob {
  /** The Job name plus its uid: a restart re-creates a Job with the same name, which is a new Job. */
  readonly key: string;
  readonly name: string;
  readonly jobId: string;
  readonly step: StepType;
}

/** One reason a pending pod is not starting. */
interface PodProblem {
  /** Identifies the problem across scans, with the pod name. */
  readonly key: string;
  readonly reason: string;
  readonly detail?: string;
  readonly scheduling: boolean;
  readonly graceMs: number;
  /** When the cluster says the problem began, if it does (PodScheduled's lastTransitionTime). */
  readonly since?: number;
}

interface StuckPod {
  readonly pod: PodView;
  readonly job: StepJob;
  readonly problem: PodProblem;
  readonly waitedMs: number;
}

interface ReportedJob {
  readonly name: string;
  /** False while the Job's deletion failed; each scan that still sees its pods tries again. */
  deleted: boolean;
}

/**
 * Fails the step of a pod that will never run (W10, W11): an image that cannot be pulled, a
 * missing Secret, an unschedulable request. The original waits forever for a Job condition
 * that never comes; this sends the step's `*_error` with the reason and the pod's events,
 * then deletes the Job so it stops holding cluster resources.
 *
 * Coordination with JobMonitor: only Pending pods are considered, so a Job that ended (and
 * was reported by JobMonitor) is never reported here; the deletion's DELETED watch event is
 * one JobMonitor ignores. lando's step guard drops an error for a step the job left already.
 *
 * State is in memory and bounded by what the cluster holds: sightings and reports of pods and
 * Jobs that a scan no longer lists are forgotten. A restarted watcher re-sees waiting
 * containers from scratch, which only delays a report by one grace.
 */
@injectable()
export class StuckPodDetector {
  private readonly settings: StuckPodSettings;
  private readonly selector: Labels;
  /** First sighting (clock ms) of each problem, by pod name and problem key. */
  private sightings = new Map<string, number>();
  private readonly reported = new Map<string, ReportedJob>();
  /** The scan in progress or last finished: scans run one at a time, and stop() awaits it. */
  private lastScan: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    @inject(CLUSTER) private readonly cluster: Cluster,
    @inject(LANDO_CLIENT) private readonly lando: LandoClient,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(METRICS) private readonly metrics: Metrics,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(WATCHER_SETTINGS) private readonly watcherSettings: WatcherSettings,
  ) {
    this.settings = stuckPodSettingsOf(watcherSettings);
    this.selector = bespinJobsSelector(watcherSettings);
  }

  /** Scans every `stuckPodScanMs` until stop(); a failed scan is logged and the next one runs. */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.timer === undefined) this.scheduleScan();
  }

  /** Clears the timer and waits for a scan in progress. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.lastScan.catch(() => undefined);
  }

  /**
   * One pass over the step pods, with a single pod list. Rejects only when the pods cannot be
   * listed; a report that fails is logged and tried again by the next scan.
   */
  scan(): Promise<void> {
    const scan = this.lastScan.catch(() => undefined).then(() => this.scanOnce());
    this.lastScan = scan;
    return scan;
  }

  private scheduleScan(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.periodicScan();
    }, this.settings.stuckPodScanMs);
    // A pending scan must not keep the process alive on shutdown.
    this.timer.unref();
  }

  private async periodicScan(): Promise<void> {
    try {
      await this.scan();
    } catch (error) {
      this.logger.error({ err: describeError(error) }, `Scan for pods that cannot start failed: ${describeError(error)}`);
    }
    if (this.running && this.timer === undefined) this.scheduleScan();
  }

  private async scanOnce(): Promise<void> {
    const pods = await this.cluster.listPods(this.selector);
    const now = this.clock.now();
    const previousSightings = this.sightings;
    this.sightings = new Map();
    const listedJobs = new Set<string>();
    const stuckJobs = new Map<string, StuckPod>();
    for (const pod of pods) {
      const job = stepJobOf(pod);
      if (!job) continue;
      listedJobs.add(job.key);
      if (pod.phase !== 'Pending' || this.reported.has(job.key)) continue;
      const stuck = this.longestStuckProblem(pod, job, now, previousSightings);
      const known = stuckJobs.get(job.key);
      if (stuck && (!known || stuck.waitedMs > known.waitedMs)) stuckJobs.set(job.key, stuck);
    }
    for (const key of this.reported.keys()) {
      if (!listedJobs.has(key)) this.reported.delete(key);
    }
    for (const reported of this.reported.values()) {
      if (!reported.deleted) await this.deleteJob(reported, this.logger.child({ k8s_job: reported.name }));
    }
    for (const stuck of stuckJobs.values()) await this.report(stuck);
  }

  /** Records this scan's sightings of the pod's problems and returns the one past its grace the longest. */
  private longestStuckProblem(pod: PodView, job: StepJob, now: number, previousSightings: ReadonlyMap<string, number>): StuckPod | undefined {
    let longest: StuckPod | undefined;
    for (const problem of this.problemsOf(pod)) {
      const sightingKey = `${pod.name}\u0000${problem.key}`;
      const firstSeen = previousSightings.get(sightingKey) ?? now;
      this.sightings.set(sightingKey, firstSeen);
      const waitedMs = Math.max(0, now - (problem.since ?? firstSeen));
      if (waitedMs >= problem.graceMs && (!longest || waitedMs > longest.waitedMs)) longest = { pod, job, problem, waitedMs };
    }
    return longest;
  }

  private problemsOf(pod: PodView): PodProblem[] {
    const problems: PodProblem[] = [];
    for (const waiting of pod.waiting) {
      const problemKey = CONTAINER_PROBLEMS[waiting.reason];
      if (problemKey === undefined) continue;
      problems.push({
        key: `${waiting.container}\u0000${problemKey}`,
        reason: waiting.reason,
        detail: waiting.message,
        scheduling: false,
        graceMs: HOPELESS_REASONS.has(waiting.reason) ? 0 : this.settings.imagePullGraceMs,
      });
    }
    const scheduled = pod.scheduled;
    if (scheduled?.status === 'False') {
      const since = scheduled.since === undefined ? Number.NaN : Date.parse(scheduled.since);
      problems.push({
        key: SCHEDULING_REASON,
        reason: scheduled.reason ?? SCHEDULING_REASON,
        detail: scheduled.message,
        scheduling: true,
        graceMs: this.settings.unschedulableGraceMs,
        ...(Number.isNaN(since) ? {} : { since }),
      });
    }
    return problems;
  }

  /** Sends the step's error, then deletes the Job; a failed send leaves everything for the next scan. */
  private async report(stuck: StuckPod): Promise<void> {
    const { pod, job, problem } = stuck;
    const command = STEP_OUTCOME_COMMANDS[job.step].error;
    const log = this.logger.child({ job_id: job.jobId, step: job.step, k8s_job: job.name, pod: pod.name });
    const message = await this.errorReport(stuck);
    try {
      await this.lando.send({ command, jobId: job.jobId, message });
    } catch (error) {
      log.warn({ err: describeError(error) }, `Could not send ${command} for pod ${pod.name}, which cannot start; the next scan tries again`);
      return;
    }
    const reported: ReportedJob = { name: job.name, deleted: false };
    this.reported.set(job.key, reported);
    this.metrics.increment('watcher_stuck_pods_reported_total', { reason: problem.scheduling ? SCHEDULING_REASON : problem.reason });
    log.warn(
      { reason: problem.reason, waited_ms: stuck.waitedMs },
      `Pod ${pod.name} ${problem.scheduling ? 'could not be scheduled' : 'could not start'} (${problem.reason} for ${formatDuration(stuck.waitedMs)}): sent ${command}`,
    );
    await this.deleteJob(reported, log);
  }

  private async deleteJob(reported: ReportedJob, log: Logger): Promise<void> {
    try {
      await this.cluster.delete('Job', reported.name);
      reported.deleted = true;
      log.info({}, `Deleted Job ${reported.name}, whose pod could not start`);
    } catch (error) {
      log.warn({ err: describeError(error) }, `Could not delete Job ${reported.name}, whose pod could not start; the next scan tries again`);
    }
  }

  /** The reason, the pod's recent events and its log tail (usually empty: the container never ran). */
  private async errorReport({ pod, problem, waitedMs }: StuckPod): Promise<string> {
    const what = problem.scheduling ? 'could not be scheduled' : 'could not start';
    const detail = problem.detail ? `: ${problem.detail}` : '';
    const lines = [`Pod ${pod.name} ${what}: ${problem.reason}${detail} (waiting for ${formatDuration(waitedMs)})`];
    try {
      const events = (await this.cluster.listEvents(pod.name)).slice(-RECENT_EVENT_COUNT);
      lines.push(events.length === 0 ? 'Recent events: none' : 'Recent events:', ...events.map((event) => `  ${event.reason}: ${event.message}`));
    } catch (error) {
      lines.push(`events unavailable: ${describeError(error)}`);
    }
    try {
      const podLog = await this.cluster.readPodLog(pod.name, this.watcherSettings.maxLogBytes);
      if (podLog !== '') lines.push('Log:', podLog);
    } catch (error) {
      lines.push(`logs unavailable: ${describeError(error)}`);
    }
    return lines.join('\n');
  }
}

/** WatcherSettings' stuck-pod fields with the defaults filled in, checked so a typo fails at start-up. */
export function stuckPodSettingsOf(settings: WatcherSettings): StuckPodSettings {
  const resolved: StuckPodSettings = {
    imagePullGraceMs: settings.imagePullGraceMs ?? DEFAULT_STUCK_POD_SETTINGS.imagePullGraceMs,
    unschedulableGraceMs: settings.unschedulableGraceMs ?? DEFAULT_STUCK_POD_SETTINGS.unschedulableGraceMs,
    stuckPodScanMs: settings.stuckPodScanMs ?? DEFAULT_STUCK_POD_SETTINGS.stuckPodScanMs,
  };
  for (const field of ['imagePullGraceMs', 'unschedulableGraceMs'] as const) {
    if (!Number.isFinite(resolved[field]) || resolved[field] < 0) {
      throw new RangeError(`watcher setting ${field} must be a non-negative number of milliseconds, got ${resolved[field]}`);
    }
  }
  if (!Number.isFinite(resolved.stuckPodScanMs) || resolved.stuckPodScanMs <= 0) {
    throw new RangeError(`watcher setting stuckPodScanMs must be a positive number of milliseconds, got ${resolved.stuckPodScanMs}`);
  }
  return resolved;
}

function stepJobOf(pod: PodView): StepJob | undefined {
  const jobId = pod.labels[JOB_ID_LABEL];
  const step = pod.labels[STEP_LABEL];
  const name = pod.labels[JOB_NAME_LABEL];
  if (!jobId || !step || !name || !isStepType(step)) return undefined;
  const uid = CONTROLLER_UID_LABELS.map((label) => pod.labels[label]).find((value) => value !== undefined && value !== '');
  return { key: `${name}\u0000${uid ?? ''}`, name, jobId, step };
}

/** A duration as Go (and so kubectl) prints one, e.g. `5m0s`, `1h2m3s`, `30ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.floor(ms))}ms`;
  const totalSeconds = Math.floor(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
