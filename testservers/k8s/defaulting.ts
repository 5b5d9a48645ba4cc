import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { KubeObject } from './kube-object.js';
import { asJob, asPod, asPvc } from './typed-views.js';

/**
 * The defaults the API server fills in on decode (`SetDefaults_*`) and the create-time
 * preparation of each registry strategy, limited to the fields clients of this project read.
 */

function imagePullPolicyFor(image: string | undefined): 'Always' | 'IfNotPresent' {
  if (!image) return 'IfNotPresent';
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  if (lastSegment.includes('@')) return 'IfNotPresent';
  const tag = lastSegment.split(':')[1];
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(container: IContainer): void {
  container.imagePullPolicy ??= imagePullPolicyFor(container.image);
  container.terminationMessagePath ??= '/dev/termination-log';
  container.terminationMessagePolicy ??= 'File';
}

export function defaultPodSpec(spec: IPodSpec): void {
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  for (const container of spec.containers ?? []) defaultContainer(container);
  for (const container of spec.initContainers ?? []) defaultContainer(container);
}

export function defaultPod(object: KubeObject): void {
  const pod = asPod(object);
  pod.spec ??= { containers: [] };
  defaultPodSpec(pod.spec);
}

/** Pod creation: the ServiceAccount admission plugin and the initial status. */
export function preparePodForCreate(object: KubeObject): void {
  const pod = asPod(object);
  if (pod.spec) pod.spec.serviceAccountName ??= 'default';
  pod.status = { phase: 'Pending', qosClass: qosClassOf(pod.spec) };
}

export function qosClassOf(spec: IPodSpec | undefined): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const containers = spec?.containers ?? [];
  const hasAny = containers.some((container) => Object.keys(container.resources?.requests ?? {}).length + Object.keys(container.resources?.limits ?? {}).length > 0);
  if (!hasAny) return 'BestEffort';
  const guaranteed = containers.every((container) => {
    const limits = container.resources?.limits ?? {};
    const requests = container.resources?.requests ?? {};
    return ['cpu', 'memory'].every((resource) => limits[resource] !== undefined && (requests[resource] === undefined || String(requests[resource]) === String(limits[resource])));
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export function defaultJob(object: KubeObject): void {
  const job = asJob(object);
  if (!job.spec) return;
  job.spec.parallelism ??= 1;
  job.spec.completions ??= 1;
  job.spec.backoffLimit ??= 6;
  job.spec.completionMode ??= 'NonIndexed';
  job.spec.suspend ??= false;
  job.spec.podReplacementPolicy ??= 'TerminatingOrFailed';
  if (job.spec.template.spec) defaultPodSpec(job.spec.template.spec);
}

/**
 * The Job strategy's `generateSelector`: label the template with the Job's uid and name and
 * select on the uid, unless the client asked for a manual selector. Runs before validation, so
 * a Job name too long for a label value fails on `spec.template.labels` as on a real server.
 */
export function prepareJobForCreate(object: KubeObject): void {
  const job = asJob(object);
  job.status = {};
  job.metadata.generation = 1;
  if (!job.spec || job.spec.manualSelector === true) return;
  const uid = job.metadata.uid ?? '';
  const name = job.metadata.name;
  job.spec.template.metadata ??= {};
  job.spec.template.metadata.labels = {
    ...job.spec.template.metadata.labels,
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': name,
    'controller-uid': uid,
    'job-name': name,
  };
  if (!job.spec.selector) job.spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
}

export function defaultPvc(object: KubeObject): void {
  const pvc = asPvc(object);
  if (pvc.spec) pvc.spec.volumeMode ??= 'Filesystem';
}

/** PVC creation: the StorageObjectInUseProtection admission plugin's finalizer, and Pending status. */
export function preparePvcForCreate(object: KubeObject): void {
  const pvc = asPvc(object);
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(PVC_PROTECTION_FINALIZER)) object.metadata.finalizers = [...finalizers, PVC_PROTECTION_FINALIZER];
  pvc.status = { phase: 'Pending' };
}

export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';
