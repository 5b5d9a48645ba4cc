import type { IJobCondition } from 'kubernetes-models/batch/v1/JobCondition';
import type { IJobStatus } from 'kubernetes-models/batch/v1/JobStatus';
import type { EventRecorder, EventSource } from './event-recorder.js';
import { generateName, kubeTime, objectKey, stampNew, type KubeObject } from './kube-object.js';
import type { ObjectStore, StoreChange } from './object-store.js';
import { startBlocker, type StartBlocker } from './pod-start-checks.js';
import type { LogContent, PodLogs } from './pod-logs.js';
import { isTerminal, runningStatus, terminatedStatus, unschedulableStatus, waitingStatus, type NodePlacement } from './pod-status.js';
import { CONFIG_MAPS, JOBS, PODS, PVCS } from './resource-registry.js';
import { LabelSelector } from './selectors.js';
import { asJob, asPod, type JobObject, type PodObject } from './typed-views.js';
import type { WorkScheduler } from './work-scheduler.js';

/**
 * A simulated Job controller with the scheduler and kubelet it depends on: every new Job gets
 * a pod `<job>-<5 chars>` (template labels plus job-name/controller-uid, spec from the template)
 * that goes Pending → Running, and every transition is a real write (new resourceVersion, watch
 * events). Tests drive the outcome: complete or fail a Job, keep its pod waiting or
 * unschedulable, or make it retry; `autoComplete` finishes every Job by itself.
 */
export interface AutoCompleteOptions {
  /** `immediate`: finish each Job once its pod runs; `manual`: only the test controls finish Jobs. */
  readonly mode: 'immediate' | 'manual';
  /** Returns a log to fail that Job with, or undefined to complete it. */
  readonly fail?: (jobName: string) => LogContent | undefined;
  /** Time a pod "runs" before the Job finishes. */
  readonly delayMs?: number;
  /**
   * Annotations the pod's container writes onto its own pod before it ends, as the record
   * step's `kubectl annotate pod $MY_POD_NAME project_id=... readme_file_id=...` does.
   */
  readonly annotations?: (job: { readonly name: string; readonly labels: Readonly<Record<string, string>> }) => Record<string, string> | undefined;
}

/** `all`: Normal and Warning Events; `warnings`: only Warnings (less memory in benchmarks); `none`. */
export type EventRecording = 'all' | 'warnings' | 'none';

export interface JobControllerOptions {
  readonly namespace: string;
  readonly nodeName: string;
  readonly autoComplete?: AutoCompleteOptions;
  /** Keep pods whose claims or ConfigMaps are missing from starting, as a cluster would. */
  readonly checkPodVolumes: boolean;
  readonly events: EventRecording;
}

type PodHold =
  | { readonly kind: 'waiting'; readonly reason: string; readonly message: string }
  | { readonly kind: 'unschedulable'; readonly message: string };

const JOB_CONTROLLER: EventSource = { component: 'job-controller' };
const SCHEDULER: EventSource = { component: 'default-scheduler' };
const HOST_IP = '10.89.0.2';
const BACKOFF_LIMIT_MESSAGE = 'Job has reached the specified backoff limit';
const COMPLETIONS_MESSAGE = 'Reached expected number of succeeded pods';

/** Kubelet event reason for a waiting reason a test holds a pod in. */
function waitingEventReason(reason: string): string {
  return reason === 'ImagePullBackOff' ? 'BackOff' : 'Failed';
}

function jobCondition(type: string, reason: string, message: string): IJobCondition {
  const now = kubeTime();
  return { type, status: 'True', lastProbeTime: now, lastTransitionTime: now, reason, message };
}

function isFinished(job: JobObject): boolean {
  return (job.status?.conditions ?? []).some((condition) => (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True');
}

export class SimulatedJobController {
  private readonly queue = new Set<string>();
  private readonly holds = new Map<string, PodHold>();
  /** Pod key → creation sequence: pods of one Job in the order the controller made them. */
  private readonly podSequence = new Map<string, number>();
  /** Pod key → the blocker last written to it, so an unchanged situation is not rewritten. */
  private readonly reported = new Map<string, string>();
  /** Jobs whose pod waits for a claim or ConfigMap: re-checked when those change. */
  private readonly waitingForVolumes = new Set<string>();
  private sequence = 0;
  private flushScheduled = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly logs: PodLogs,
    private readonly recorder: EventRecorder,
    private readonly work: WorkScheduler,
    private readonly options: JobControllerOptions,
  ) {
    this.unsubscribe = store.onChange((change) => this.observe(change));
  }

  dispose(): void {
    this.unsubscribe();
  }

  /** Marks the Job's pod Succeeded and the Job Complete (conditions SuccessCriteriaMet + Complete, succeeded, completionTime). */
  completeJob(jobName: string, namespace = this.options.namespace): void {
    const job = this.requireRunningJob(jobName, namespace);
    this.holds.delete(objectKey(namespace, jobName));
    this.finishPod(job, this.ensureRunningPod(job), 'Succeeded');
    this.writeJobStatus(job, (status) => {
      status.conditions = [
        ...(status.conditions ?? []),
        jobCondition('SuccessCriteriaMet', 'CompletionsReached', COMPLETIONS_MESSAGE),
        jobCondition('Complete', 'CompletionsReached', COMPLETIONS_MESSAGE),
      ];
      status.succeeded = (status.succeeded ?? 0) + 1;
      status.completionTime = kubeTime();
      this.settleCounts(status);
    });
    this.recordNormal(job, 'Completed', 'Job completed', JOB_CONTROLLER);
  }

  /** Adds annotations to a pod, as a `kubectl annotate` from inside it would. */
  annotatePod(podName: string, annotations: Readonly<Record<string, string>>, namespace = this.options.namespace): void {
    const changed = this.store.modify(PODS, namespace, podName, (draft) => {
      draft.metadata.annotations = { ...draft.metadata.annotations, ...annotations };
    });
    if (!changed) throw new Error(`no pod ${namespace}/${podName} to annotate`);
  }

  /** Marks the Job's pod Failed (with `log` as its output) and the Job Failed, reason BackoffLimitExceeded. */
  failJob(jobName: string, log?: LogContent, namespace = this.options.namespace): void {
    const job = this.requireRunningJob(jobName, namespace);
    this.holds.delete(objectKey(namespace, jobName));
    const pod = this.ensureRunningPod(job);
    if (log !== undefined) this.setLogOf(pod, log);
    this.finishPod(job, pod, 'Failed');
    this.writeJobStatus(job, (status) => {
      status.conditions = [
        ...(status.conditions ?? []),
        jobCondition('FailureTarget', 'BackoffLimitExceeded', BACKOFF_LIMIT_MESSAGE),
        jobCondition('Failed', 'BackoffLimitExceeded', BACKOFF_LIMIT_MESSAGE),
      ];
      status.failed = (status.failed ?? 0) + 1;
      this.settleCounts(status);
    });
    this.recordWarning(job, 'BackoffLimitExceeded', BACKOFF_LIMIT_MESSAGE, JOB_CONTROLLER);
  }

  /** The current pod fails and the controller starts another one (a back-off retry); returns the new pod's name. */
  retryPod(jobName: string, namespace = this.options.namespace): string {
    const job = this.requireRunningJob(jobName, namespace);
    this.holds.delete(objectKey(namespace, jobName));
    this.finishPod(job, this.ensureRunningPod(job), 'Failed');
    this.writeJobStatus(job, (status) => {
      status.failed = (status.failed ?? 0) + 1;
    });
    const replacement = this.createPod(job);
    this.advance(this.currentJob(job) ?? job, replacement);
    return replacement.metadata.name;
  }

  /**
   * Keeps the Job's pod Pending with its container waiting (ImagePullBackOff, CreateContainerConfigError, ...)
   * and records the kubelet's Warning Event. Also works before the Job exists, and on a running pod.
   */
  holdPodWaiting(jobName: string, reason: string, message: string, namespace = this.options.namespace): void {
    this.hold(jobName, namespace, { kind: 'waiting', reason, message });
  }

  /** Keeps the Job's pod unscheduled (PodScheduled=False, Unschedulable) with a FailedScheduling Event. */
  holdPodUnschedulable(jobName: string, message: string, namespace = this.options.namespace): void {
    this.hold(jobName, namespace, { kind: 'unschedulable', message });
  }

  /** Lets a held pod start. */
  releasePod(jobName: string, namespace = this.options.namespace): void {
    const key = objectKey(namespace, jobName);
    this.holds.delete(key);
    for (const pod of this.podsOf(jobName, namespace)) this.reported.delete(objectKey(namespace, pod.metadata.name));
    this.reconcile(key);
  }

  /** Sets the log the pod's container (default: its first) returns; a Buffer may hold invalid UTF-8. */
  setPodLog(podName: string, content: LogContent, options: { container?: string; namespace?: string } = {}): void {
    const namespace = options.namespace ?? this.options.namespace;
    const pod = this.store.get(PODS, namespace, podName);
    if (!pod) throw new Error(`no pod ${podName} in namespace ${namespace}`);
    this.setLogOf(asPod(pod), content, options.container);
  }

  /** Pods the controller made for the Job (or, once it is gone, pods still labelled with its name), oldest first. */
  podsOf(jobName: string, namespace = this.options.namespace): PodObject[] {
    const job = this.store.get(JOBS, namespace, jobName);
    const selector = job?.metadata.uid ? `batch.kubernetes.io/controller-uid=${job.metadata.uid}` : `job-name=${jobName}`;
    const pods = this.store.list(PODS, { namespace, labelSelector: LabelSelector.parse(selector) }).map(asPod);
    const order = (pod: PodObject): number => this.podSequence.get(objectKey(namespace, pod.metadata.name)) ?? Number.MAX_SAFE_INTEGER;
    return pods.sort((left, right) => order(left) - order(right));
  }

  private hold(jobName: string, namespace: string, hold: PodHold): void {
    const key = objectKey(namespace, jobName);
    this.holds.set(key, hold);
    this.reconcile(key);
  }

  private observe(change: StoreChange): void {
    const { namespace = '', name } = change.object.metadata;
    if (change.resource === JOBS && change.type === 'ADDED') {
      this.enqueue(objectKey(namespace, name));
    } else if (change.resource === PODS && change.type === 'DELETED') {
      const key = objectKey(namespace, name);
      this.logs.forget(namespace, name);
      this.reported.delete(key);
      this.podSequence.delete(key);
      const owner = change.object.metadata.ownerReferences?.find((reference) => reference.kind === 'Job' && reference.controller === true);
      if (owner) this.enqueue(objectKey(namespace, owner.name));
    } else if ((change.resource === PVCS || change.resource === CONFIG_MAPS) && this.waitingForVolumes.size > 0) {
      for (const key of this.waitingForVolumes) this.enqueue(key);
    }
  }

  private enqueue(jobKey: string): void {
    this.queue.add(jobKey);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.work.schedule(() => {
      this.flushScheduled = false;
      const keys = [...this.queue];
      this.queue.clear();
      for (const key of keys) this.reconcile(key);
    });
  }

  /** Brings one Job's pods forward as far as they can go now. Idempotent. */
  private reconcile(jobKey: string): void {
    const slash = jobKey.indexOf('/');
    const job = this.currentJob({ namespace: jobKey.slice(0, slash), name: jobKey.slice(slash + 1) });
    if (!job || job.metadata.deletionTimestamp || isFinished(job)) return;
    const active = this.activePods(job);
    if (active.length === 0) active.push(this.createPod(job));
    for (const pod of active) this.advance(this.currentJob(job) ?? job, pod);
  }

  private advance(job: JobObject, pod: PodObject): void {
    const jobKey = objectKey(job.metadata.namespace ?? '', job.metadata.name);
    const hold = this.holds.get(jobKey);
    if (hold) {
      this.applyBlocker(pod, hold.kind === 'unschedulable' ? hold : { ...hold, eventReason: waitingEventReason(hold.reason) });
      return;
    }
    if (pod.status?.phase === 'Running') return;
    const blocker = this.options.checkPodVolumes ? startBlocker(this.store, pod) : undefined;
    if (blocker) {
      this.waitingForVolumes.add(jobKey);
      this.applyBlocker(pod, blocker);
      return;
    }
    this.waitingForVolumes.delete(jobKey);
    this.startPod(job, pod);
    const autoComplete = this.options.autoComplete;
    if (autoComplete?.mode === 'immediate') {
      const uid = job.metadata.uid;
      this.work.schedule(() => this.autoFinish(jobKey, uid, autoComplete), autoComplete.delayMs ?? 0);
    }
  }

  private autoFinish(jobKey: string, uid: string | undefined, autoComplete: AutoCompleteOptions): void {
    const slash = jobKey.indexOf('/');
    const job = this.currentJob({ namespace: jobKey.slice(0, slash), name: jobKey.slice(slash + 1) });
    if (!job || job.metadata.uid !== uid || job.metadata.deletionTimestamp || isFinished(job) || this.holds.has(jobKey)) return;
    const annotations = autoComplete.annotations?.({ name: job.metadata.name, labels: job.metadata.labels ?? {} });
    if (annotations) this.annotatePod(this.ensureRunningPod(job).metadata.name, annotations, job.metadata.namespace);
    const log = autoComplete.fail?.(job.metadata.name);
    if (log === undefined) this.completeJob(job.metadata.name, job.metadata.namespace);
    else this.failJob(job.metadata.name, log, job.metadata.namespace);
  }

  private createPod(job: JobObject): PodObject {
    const namespace = job.metadata.namespace ?? '';
    const template = job.spec?.template;
    const base = `${job.metadata.name}-`;
    let name = generateName(base);
    while (this.store.get(PODS, namespace, name)) name = generateName(base);
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        generateName: base,
        namespace,
        labels: { ...template?.metadata?.labels },
        ownerReferences: [{ apiVersion: JOBS.apiVersion, kind: JOBS.kind, name: job.metadata.name, uid: job.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
      },
      spec: structuredClone(template?.spec ?? { containers: [] }),
    };
    if (template?.metadata?.annotations) pod.metadata.annotations = { ...template.metadata.annotations };
    stampNew(pod);
    PODS.applyDefaults(pod);
    PODS.prepareForCreate(pod);
    const created = asPod(this.store.create(PODS, pod));
    this.podSequence.set(objectKey(namespace, name), (this.sequence += 1));
    this.recordNormal(job, 'SuccessfulCreate', `Created pod: ${name}`, JOB_CONTROLLER);
    this.writeJobStatus(job, (status) => {
      status.startTime ??= kubeTime();
      status.active = this.activePods(job).length;
      status.ready ??= 0;
      status.terminating = 0;
      status.uncountedTerminatedPods = {};
    });
    return created;
  }

  /** Scheduler binds the pod, kubelet starts its containers: two pod updates, then the Job counts it ready. */
  private startPod(job: JobObject, pod: PodObject): PodObject {
    const namespace = pod.metadata.namespace ?? '';
    const placement = this.placement(pod);
    this.reported.delete(objectKey(namespace, pod.metadata.name));
    if (!pod.spec?.nodeName) {
      this.writePod(pod, (draft) => {
        if (draft.spec) draft.spec.nodeName = placement.nodeName;
        draft.status = waitingStatus(draft, placement);
      });
      this.recordNormal(pod, 'Scheduled', `Successfully assigned ${namespace}/${pod.metadata.name} to ${placement.nodeName}`, SCHEDULER);
    }
    const running = this.writePod(pod, (draft) => {
      draft.status = runningStatus(draft, placement);
    });
    this.recordNormal(pod, 'Started', `Started container ${pod.spec?.containers[0]?.name ?? ''}`, this.kubelet());
    this.writeJobStatus(job, (status) => {
      status.ready = this.activePods(job).filter((candidate) => candidate.status?.phase === 'Running').length;
    });
    return running;
  }

  private applyBlocker(pod: PodObject, blocker: StartBlocker): void {
    const key = objectKey(pod.metadata.namespace ?? '', pod.metadata.name);
    const signature = JSON.stringify(blocker);
    if (this.reported.get(key) === signature) return;
    this.reported.set(key, signature);
    if (blocker.kind === 'unschedulable') {
      this.writePod(pod, (draft) => {
        if (draft.spec) delete draft.spec.nodeName;
        draft.status = unschedulableStatus(draft, blocker.message);
      });
      this.recordWarning(pod, 'FailedScheduling', blocker.message, SCHEDULER);
      return;
    }
    const placement = this.placement(pod);
    this.writePod(pod, (draft) => {
      if (draft.spec) draft.spec.nodeName = placement.nodeName;
      draft.status = waitingStatus(draft, placement, blocker.reason, blocker.message);
    });
    this.recordWarning(pod, blocker.eventReason, blocker.message, this.kubelet());
  }

  /** Forces the Job's latest pod to Running, whatever held it: a test control decided the outcome. */
  private ensureRunningPod(job: JobObject): PodObject {
    const active = this.activePods(job);
    const pod = active.at(-1) ?? this.createPod(job);
    return pod.status?.phase === 'Running' ? pod : this.startPod(this.currentJob(job) ?? job, pod);
  }

  private finishPod(job: JobObject, pod: PodObject, phase: 'Succeeded' | 'Failed'): void {
    const placement = this.placement(pod);
    this.writePod(pod, (draft) => {
      draft.status = terminatedStatus(draft, placement, phase);
    });
    if (phase === 'Failed') this.reported.delete(objectKey(job.metadata.namespace ?? '', pod.metadata.name));
  }

  /** No pod is active or ready once a Job has finished. */
  private settleCounts(status: IJobStatus): void {
    delete status.active;
    status.ready = 0;
    status.terminating = 0;
    status.uncountedTerminatedPods = {};
  }

  private activePods(job: JobObject): PodObject[] {
    return this.podsOf(job.metadata.name, job.metadata.namespace).filter((pod) => !isTerminal(pod) && !pod.metadata.deletionTimestamp);
  }

  private currentJob(reference: { namespace?: string; name: string } | JobObject): JobObject | undefined {
    const { namespace = '', name } = 'metadata' in reference ? reference.metadata : reference;
    const job = this.store.get(JOBS, namespace, name);
    return job ? asJob(job) : undefined;
  }

  private requireRunningJob(jobName: string, namespace: string): JobObject {
    const job = this.currentJob({ namespace, name: jobName });
    if (!job) throw new Error(`no Job ${jobName} in namespace ${namespace}`);
    if (isFinished(job)) throw new Error(`Job ${jobName} has already finished`);
    if (job.metadata.deletionTimestamp) throw new Error(`Job ${jobName} is being deleted`);
    return job;
  }

  private writeJobStatus(job: JobObject, change: (status: IJobStatus) => void): void {
    this.store.modify(JOBS, job.metadata.namespace ?? '', job.metadata.name, (draft) => {
      const current = asJob(draft);
      current.status ??= {};
      change(current.status);
    });
  }

  private writePod(pod: PodObject, change: (draft: PodObject) => void): PodObject {
    const written = this.store.modify(PODS, pod.metadata.namespace ?? '', pod.metadata.name, (draft) => change(asPod(draft)));
    if (!written) throw new Error(`pod ${pod.metadata.name} disappeared`);
    return asPod(written);
  }

  private setLogOf(pod: PodObject, content: LogContent, container?: string): void {
    const target = container ?? pod.spec?.containers[0]?.name;
    if (!target) throw new Error(`pod ${pod.metadata.name} has no container`);
    this.logs.set(pod.metadata.namespace ?? '', pod.metadata.name, target, content);
  }

  private placement(pod: PodObject): NodePlacement {
    const ordinal = this.podSequence.get(objectKey(pod.metadata.namespace ?? '', pod.metadata.name)) ?? 0;
    const podIP = pod.status?.podIP ?? `10.244.${Math.floor(ordinal / 250) % 250}.${(ordinal % 250) + 2}`;
    return { nodeName: this.options.nodeName, hostIP: HOST_IP, podIP };
  }

  private kubelet(): EventSource {
    return { component: 'kubelet', host: this.options.nodeName };
  }

  private recordNormal(involved: KubeObject, reason: string, message: string, source: EventSource): void {
    if (this.options.events === 'all') this.recorder.record(involved, { type: 'Normal', reason, message, source });
  }

  private recordWarning(involved: KubeObject, reason: string, message: string, source: EventSource): void {
    if (this.options.events !== 'none') this.recorder.record(involved, { type: 'Warning', reason, message, source });
  }
}
