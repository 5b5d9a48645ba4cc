import { badRequestError, invalidError } from './api-status.js';
import { invalid, type FieldError } from './field-errors.js';
import { objectKey } from './kube-object.js';
import type { PodObject } from './typed-views.js';

/**
 * Container logs and the `pods/{name}/log` read: the kubelet's answers for containers that
 * have not started, the container choice, and the `tailLines`/`limitBytes` windows.
 */
export interface LogQuery {
  readonly container?: string;
  readonly tailLines?: number;
  readonly limitBytes?: number;
  readonly previous?: boolean;
}

const POD_LOG_OPTIONS = { group: '', plural: 'pods', kind: 'PodLogOptions' };

/** Log bytes: text is stored as UTF-8; a Buffer allows output that is not valid UTF-8 (W17). */
export type LogContent = string | Buffer;

export class PodLogs {
  private readonly logs = new Map<string, Map<string, Buffer>>();

  set(namespace: string, pod: string, container: string, content: LogContent): void {
    const key = objectKey(namespace, pod);
    let containers = this.logs.get(key);
    if (!containers) this.logs.set(key, (containers = new Map()));
    containers.set(container, Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8'));
  }

  get(namespace: string, pod: string, container: string): Buffer {
    return this.logs.get(objectKey(namespace, pod))?.get(container) ?? Buffer.alloc(0);
  }

  forget(namespace: string, pod: string): void {
    this.logs.delete(objectKey(namespace, pod));
  }

  /** The bytes `GET pods/{name}/log` answers, or the ApiError a real API server/kubelet would give. */
  read(pod: PodObject, query: LogQuery): Buffer {
    const podName = pod.metadata.name;
    const errors: FieldError[] = [];
    if (query.tailLines !== undefined && query.tailLines < 0) errors.push(invalid('tailLines', query.tailLines, 'must be greater than or equal to 0'));
    if (query.limitBytes !== undefined && query.limitBytes < 1) errors.push(invalid('limitBytes', query.limitBytes, 'must be greater than 0'));
    if (errors.length > 0) throw invalidError(POD_LOG_OPTIONS, podName, errors);

    const names = (pod.spec?.containers ?? []).map((container) => container.name);
    let container = query.container;
    if (container === undefined) {
      if (names.length !== 1) throw badRequestError(`a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`);
      container = names[0];
    } else if (!names.includes(container)) {
      throw badRequestError(`container ${container} is not valid for pod ${podName}`);
    }
    // An unscheduled pod has no kubelet to ask; the API server answers with an empty log.
    if (!pod.spec?.nodeName) return Buffer.alloc(0);

    const status = pod.status?.containerStatuses?.find((candidate) => candidate.name === container);
    if (query.previous) {
      if (!status?.lastState?.terminated) throw badRequestError(`previous terminated container ${JSON.stringify(container)} in pod ${JSON.stringify(podName)} not found`);
      return Buffer.alloc(0);
    }
    const waiting = status?.state?.waiting;
    if (!status || waiting) {
      throw badRequestError(`container ${JSON.stringify(container)} in pod ${JSON.stringify(podName)} is waiting to start: ${waitingExplanation(waiting?.reason)}`);
    }
    return window(this.get(pod.metadata.namespace ?? '', podName, container), query);
  }
}

function waitingExplanation(reason: string | undefined): string {
  if (reason === 'ErrImagePull' || reason === 'ImagePullBackOff') return 'trying and failing to pull image';
  return reason ?? 'ContainerCreating';
}

const NEWLINE = 0x0a;

/** The last `lines` lines; a final newline ends the last line rather than starting an empty one. */
function tail(bytes: Buffer, lines: number): Buffer {
  if (lines === 0) return Buffer.alloc(0);
  const end = bytes[bytes.length - 1] === NEWLINE ? bytes.length - 2 : bytes.length - 1;
  let found = 0;
  for (let position = end; position >= 0; position -= 1) {
    if (bytes[position] !== NEWLINE) continue;
    found += 1;
    if (found === lines) return bytes.subarray(position + 1);
  }
  return bytes;
}

/** The last `tailLines` lines, then at most `limitBytes` bytes of them (bytes, as the kubelet counts). */
export function window(content: LogContent, query: Pick<LogQuery, 'tailLines' | 'limitBytes'>): Buffer {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
  const selected = query.tailLines === undefined ? bytes : tail(bytes, query.tailLines);
  return query.limitBytes === undefined ? selected : selected.subarray(0, query.limitBytes);
}
