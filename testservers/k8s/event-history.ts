import type { KubeObject } from './kube-object.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One committed change: what a watch from an older resourceVersion replays. */
export interface StoredChange {
  readonly type: ChangeType;
  readonly resourceVersion: number;
  readonly object: KubeObject;
  /** The state before a MODIFIED or DELETED, to tell a watch whose selector stopped matching. */
  readonly previous?: KubeObject;
}

/**
 * The last N changes of one resource, like the API server's per-resource watch cache: a watch
 * can resume from any resourceVersion at or after `compactedRevision`; older ones are gone (410).
 * A ring buffer keeps the cap O(1) per write with 10,000s of objects.
 */
export class EventHistory {
  private readonly buffer: (StoredChange | undefined)[];
  private head = 0;
  private size = 0;
  private compacted = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`history capacity must be a positive integer, got ${capacity}`);
    this.buffer = new Array<StoredChange | undefined>(capacity);
  }

  /** Changes at or below this revision are no longer retained. */
  get compactedRevision(): number {
    return this.compacted;
  }

  get length(): number {
    return this.size;
  }

  push(change: StoredChange): void {
    if (this.size === this.capacity) {
      this.compacted = this.at(0).resourceVersion;
      this.buffer[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size -= 1;
    }
    this.buffer[(this.head + this.size) % this.capacity] = change;
    this.size += 1;
  }

  isExpired(resourceVersion: number): boolean {
    return resourceVersion < this.compacted;
  }

  /** Changes with a resourceVersion greater than the given one, oldest first. */
  since(resourceVersion: number): StoredChange[] {
    let low = 0;
    let high = this.size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.at(middle).resourceVersion <= resourceVersion) low = middle + 1;
      else high = middle;
    }
    const changes: StoredChange[] = [];
    for (let position = low; position < this.size; position += 1) changes.push(this.at(position));
    return changes;
  }

  /** Forget everything up to `revision`, like an etcd compaction followed by a watch-cache reset. */
  compact(revision: number): void {
    this.buffer.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.compacted = revision;
  }

  private at(position: number): StoredChange {
    const change = this.buffer[(this.head + position) % this.capacity];
    if (!change) throw new Error(`event history has no entry at ${position}`);
    return change;
  }
}
