import { kubeTime, randomHex, stampNew, type KubeObject } from './kube-object.js';
import type { ObjectStore } from './object-store.js';
import { EVENTS } from './resource-registry.js';

/**
 * core/v1 Events as the scheduler, kubelet and Job controller record them, so clients that
 * explain a stuck pod (`fieldSelector=involvedObject.name=<pod>`) find what a cluster shows.
 */
export interface EventSource {
  readonly component: string;
  readonly host?: string;
}

export interface EventSpec {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  readonly source: EventSource;
}

export class EventRecorder {
  constructor(private readonly store: ObjectStore) {}

  record(involved: KubeObject, spec: EventSpec): KubeObject {
    const now = kubeTime();
    const namespace = involved.metadata.namespace ?? '';
    const event: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      // The real recorder names events `<object>.<hex of the timestamp>`; random hex keeps them unique here.
      metadata: { name: `${involved.metadata.name}.${randomHex(16)}`, namespace },
      involvedObject: {
        kind: involved.kind,
        namespace,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
        apiVersion: involved.apiVersion,
        resourceVersion: involved.metadata.resourceVersion,
      },
      reason: spec.reason,
      message: spec.message,
      source: spec.source.host ? { component: spec.source.component, host: spec.source.host } : { component: spec.source.component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type: spec.type,
      reportingComponent: spec.source.component,
      reportingInstance: spec.source.host ?? '',
    };
    stampNew(event);
    return this.store.create(EVENTS, event);
  }
}
