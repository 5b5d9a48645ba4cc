import type { IContainerStatus } from 'kubernetes-models/v1/ContainerStatus';
import type { IPodCondition } from 'kubernetes-models/v1/PodCondition';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';
import { qosClassOf } from './defaulting.js';
import { kubeTime, randomHex } from './kube-object.js';
import type { PodObject } from './typed-views.js';

/**
 * Pod statuses as the scheduler and kubelet write them at each stage of a pod's life, so
 * clients that inspect pods (stuck pulls, unschedulable pods, exit codes) see real shapes.
 */
export interface NodePlacement {
  readonly nodeName: string;
  readonly hostIP: string;
  readonly podIP: string;
}

type ConditionType = 'PodReadyToStartContainers' | 'Initialized' | 'Ready' | 'ContainersReady' | 'PodScheduled';

function condition(type: ConditionType, status: 'True' | 'False', now: string, reason?: string, message?: string): IPodCondition {
  const result: IPodCondition = { type, status, lastTransitionTime: now };
  if (reason) result.reason = reason;
  if (message) result.message = message;
  return result;
}

function containerNames(pod: PodObject): { name: string; image: string }[] {
  return (pod.spec?.containers ?? []).map((container) => ({ name: container.name, image: container.image ?? '' }));
}

function placed(pod: PodObject, placement: NodePlacement): Pick<IPodStatus, 'hostIP' | 'hostIPs' | 'startTime' | 'qosClass'> {
  return {
    hostIP: placement.hostIP,
    hostIPs: [{ ip: placement.hostIP }],
    startTime: pod.status?.startTime ?? kubeTime(),
    qosClass: qosClassOf(pod.spec),
  };
}

/** Not placed on any node: the scheduler's `PodScheduled=False, Unschedulable`. */
export function unschedulableStatus(pod: PodObject, message: string): IPodStatus {
  return {
    phase: 'Pending',
    conditions: [condition('PodScheduled', 'False', kubeTime(), 'Unschedulable', message)],
    qosClass: qosClassOf(pod.spec),
  };
}

/** On a node, containers not started: `ContainerCreating`, or a kubelet waiting reason such as ImagePullBackOff. */
export function waitingStatus(pod: PodObject, placement: NodePlacement, reason = 'ContainerCreating', message?: string): IPodStatus {
  const now = kubeTime();
  return {
    phase: 'Pending',
    conditions: [
      condition('PodReadyToStartContainers', reason === 'ContainerCreating' ? 'False' : 'True', now),
      condition('Initialized', 'True', now),
      condition('Ready', 'False', now, 'ContainersNotReady', `containers with unready status: [${containerNames(pod).map((item) => item.name).join(' ')}]`),
      condition('ContainersReady', 'False', now, 'ContainersNotReady', `containers with unready status: [${containerNames(pod).map((item) => item.name).join(' ')}]`),
      condition('PodScheduled', 'True', now),
    ],
    ...placed(pod, placement),
    containerStatuses: containerNames(pod).map(({ name, image }): IContainerStatus => ({
      name,
      image,
      imageID: '',
      ready: false,
      restartCount: 0,
      started: false,
      state: { waiting: message ? { reason, message } : { reason } },
      lastState: {},
    })),
  };
}

export function runningStatus(pod: PodObject, placement: NodePlacement): IPodStatus {
  const now = kubeTime();
  return {
    phase: 'Running',
    conditions: [
      condition('PodReadyToStartContainers', 'True', now),
      condition('Initialized', 'True', now),
      condition('Ready', 'True', now),
      condition('ContainersReady', 'True', now),
      condition('PodScheduled', 'True', now),
    ],
    ...placed(pod, placement),
    podIP: placement.podIP,
    podIPs: [{ ip: placement.podIP }],
    containerStatuses: containerNames(pod).map(({ name, image }): IContainerStatus => ({
      name,
      image,
      imageID: `${image}@sha256:${randomHex(64)}`,
      containerID: `containerd://${randomHex(64)}`,
      ready: true,
      restartCount: 0,
      started: true,
      state: { running: { startedAt: now } },
      lastState: {},
    })),
  };
}

/** Every container exited: phase Succeeded (exit 0, `Completed`) or Failed (exit 1, `Error`). */
export function terminatedStatus(pod: PodObject, placement: NodePlacement, phase: 'Succeeded' | 'Failed'): IPodStatus {
  const now = kubeTime();
  const reason = phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed';
  const previous = new Map((pod.status?.containerStatuses ?? []).map((status) => [status.name, status]));
  return {
    phase,
    conditions: [
      condition('PodReadyToStartContainers', 'False', now),
      condition('Initialized', 'True', now, reason),
      condition('Ready', 'False', now, reason),
      condition('ContainersReady', 'False', now, reason),
      condition('PodScheduled', 'True', now),
    ],
    ...placed(pod, placement),
    podIP: pod.status?.podIP ?? placement.podIP,
    podIPs: pod.status?.podIPs ?? [{ ip: placement.podIP }],
    containerStatuses: containerNames(pod).map(({ name, image }): IContainerStatus => {
      const before = previous.get(name);
      const containerID = before?.containerID ?? `containerd://${randomHex(64)}`;
      return {
        name,
        image,
        imageID: before?.imageID || `${image}@sha256:${randomHex(64)}`,
        containerID,
        ready: false,
        restartCount: 0,
        started: false,
        state: {
          terminated: {
            exitCode: phase === 'Succeeded' ? 0 : 1,
            reason: phase === 'Succeeded' ? 'Completed' : 'Error',
            startedAt: before?.state?.running?.startedAt ?? now,
            finishedAt: now,
            containerID,
          },
        },
        lastState: {},
      };
    }),
  };
}

export function isTerminal(pod: PodObject): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}
