import { alreadyExistsError, expiredError, notFoundError, unparsableResourceVersionError } from './api-status.js';
import { EventHistory, type ChangeType, type StoredChange } from './event-history.js';
import { isJsonObject, jsonEqual, keyOf, objectKey, type KubeObject } from './kube-object.js';
import type { ResourceType } from './resource-type.js';
import { FieldSelector, LabelSelector } from './selectors.js';

/**
 * The server's etcd plus watch cache: objects per resource in Maps, one global resourceVersion
 * counter, a capped change history per resource, and the fan-out of changes to open watches.
 * Everything is synchronous, so a change and its watch events are never interleaved with another.
 */
export interface ObjectQuery {
  /** Absent: all namespaces. */
  readonly namespace?: string;
  readonly labelSelector?: LabelSelector;
  readonly fieldSelector?: FieldSelector;
}

export interface StoreChange {
  readonly type: ChangeType;
  readonly resource: ResourceType;
  readonly object: KubeObject;
  readonly previous?: KubeObject;
}

export type ChangeListener = (change: StoreChange) => void;

export type WatchEventType = ChangeType | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: unknown;
}

/** Where a watch's events go; the HTTP layer writes them as JSON lines. */
export interface WatchSink {
  send(event: WatchEvent): void;
  /** The server ends the stream normally (timeout, or after an ERROR event). */
  end(): void;
  /** The connection breaks, as when the API server restarts. */
  destroy(): void;
}

class ResourceTable {
  readonly objects = new Map<string, KubeObject>();
  /** `key=value` → object keys, so per-job selectors stay cheap with 10,000s of objects. */
  readonly labelIndex = new Map<string, Set<string>>();
  readonly watchers = new Set<Watcher>();

  constructor(readonly history: EventHistory) {}

  index(object: KubeObject): void {
    const key = keyOf(object);
    for (const [label, value] of Object.entries(object.metadata.labels ?? {})) {
      const pair = `${label}=${value}`;
      let keys = this.labelIndex.get(pair);
      if (!keys) this.labelIndex.set(pair, (keys = new Set()));
      keys.add(key);
    }
  }

  unindex(object: KubeObject): void {
    const key = keyOf(object);
    for (const [label, value] of Object.entries(object.metadata.labels ?? {})) {
      const pair = `${label}=${value}`;
      const keys = this.labelIndex.get(pair);
      keys?.delete(key);
      if (keys?.size === 0) this.labelIndex.delete(pair);
    }
  }
}

function matchesQuery(resource: ResourceType, query: ObjectQuery, object: KubeObject): boolean {
  if (query.namespace !== undefined && object.metadata.namespace !== query.namespace) return false;
  if (query.labelSelector && !query.labelSelector.matches(object.metadata.labels)) return false;
  if (query.fieldSelector && !query.fieldSelector.matches((field) => resource.readField(object, field))) return false;
  return true;
}

export class Watcher {
  private held: WatchEvent[] = [];
  private stopped = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly resource: ResourceType,
    private readonly query: ObjectQuery,
    private readonly sink: WatchSink,
    private readonly onStop: (watcher: Watcher) => void,
  ) {}

  /** Translates a change for this watch's selectors: leaving the selection reads as DELETED, entering as ADDED. */
  deliver(change: StoredChange): void {
    const matchesNow = matchesQuery(this.resource, this.query, change.object);
    const matchedBefore = change.previous !== undefined && matchesQuery(this.resource, this.query, change.previous);
    let type: ChangeType | undefined;
    if (change.type === 'ADDED') type = matchesNow ? 'ADDED' : undefined;
    else if (change.type === 'DELETED') type = matchesNow || matchedBefore ? 'DELETED' : undefined;
    else if (matchesNow) type = matchedBefore ? 'MODIFIED' : 'ADDED';
    else type = matchedBefore ? 'DELETED' : undefined;
    if (type) this.emit({ type, object: change.object });
  }

  /** A BOOKMARK carrying the current resourceVersion; skipped while events are held back. */
  bookmark(): void {
    if (this.store.watchesPaused || this.stopped) return;
    this.sink.send({
      type: 'BOOKMARK',
      object: { kind: this.resource.kind, apiVersion: this.resource.apiVersion, metadata: { resourceVersion: String(this.store.currentRevision) } },
    });
  }

  flushHeld(): void {
    const held = this.held;
    this.held = [];
    for (const event of held) this.sink.send(event);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onStop(this);
  }

  close(graceful: boolean): void {
    this.stop();
    if (graceful) this.sink.end();
    else this.sink.destroy();
  }

  private emit(event: WatchEvent): void {
    if (this.stopped) return;
    if (this.store.watchesPaused) this.held.push(event);
    else this.sink.send(event);
  }
}

export class ObjectStore {
  private revision: number;
  private readonly tables = new Map<ResourceType, ResourceTable>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly pendingChanges: StoreChange[] = [];
  private dispatching = false;
  private paused = false;

  /**
   * @param historyLimit changes kept per resource for watch resumption; older resourceVersions get 410.
   * @param firstRevision where the resourceVersion counter starts (a real cluster's are large numbers).
   */
  constructor(private readonly historyLimit: number, firstRevision = 1000) {
    this.revision = firstRevision;
  }

  get currentRevision(): number {
    return this.revision;
  }

  get watchesPaused(): boolean {
    return this.paused;
  }

  /** Revision below which the resource's history is gone. */
  compactedRevision(resource: ResourceType): number {
    return this.table(resource).history.compactedRevision;
  }

  get(resource: ResourceType, namespace: string, name: string): KubeObject | undefined {
    return this.table(resource).objects.get(objectKey(namespace, name));
  }

  /** Matching objects in key order (namespace, then name), the order the API server lists in. */
  list(resource: ResourceType, query: ObjectQuery = {}): KubeObject[] {
    return this.selectEntries(resource, query)
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
      .map(([, object]) => object);
  }

  /** Stores a new object; the store owns it from here on. */
  create(resource: ResourceType, object: KubeObject): KubeObject {
    const table = this.table(resource);
    const key = keyOf(object);
    if (table.objects.has(key)) throw alreadyExistsError(resource, object.metadata.name);
    object.metadata.resourceVersion = String(this.nextRevision());
    table.objects.set(key, object);
    table.index(object);
    this.commit(resource, table, { type: 'ADDED', resourceVersion: this.revision, object });
    return object;
  }

  /** Replaces an existing object; a write that changes nothing is skipped, as etcd's GuaranteedUpdate does. */
  replace(resource: ResourceType, object: KubeObject): KubeObject {
    const table = this.table(resource);
    const key = keyOf(object);
    const previous = table.objects.get(key);
    if (!previous) throw notFoundError(resource, object.metadata.name);
    object.metadata.resourceVersion = previous.metadata.resourceVersion;
    if (jsonEqual(previous, object)) return previous;
    object.metadata.resourceVersion = String(this.nextRevision());
    const relabelled = !jsonEqual(previous.metadata.labels, object.metadata.labels);
    if (relabelled) table.unindex(previous);
    table.objects.set(key, object);
    if (relabelled) table.index(object);
    this.commit(resource, table, { type: 'MODIFIED', resourceVersion: this.revision, object, previous });
    return object;
  }

  /**
   * Copy, change, write: for the simulated controllers. Returns undefined when the object is gone.
   * The draft's top level and its metadata, spec and status are fresh copies; anything deeper is
   * shared with the stored object, so `change` replaces nested values instead of editing them.
   * (Deep-copying every write costs more than the rest of a 10,000-Job benchmark run.)
   */
  modify(resource: ResourceType, namespace: string, name: string, change: (draft: KubeObject) => void): KubeObject | undefined {
    const current = this.get(resource, namespace, name);
    if (!current) return undefined;
    const draft: KubeObject = { ...current, metadata: { ...current.metadata } };
    for (const part of ['spec', 'status'] as const) {
      const value = current[part];
      if (isJsonObject(value)) draft[part] = { ...value };
    }
    change(draft);
    return this.replace(resource, draft);
  }

  /** Removes an object; the DELETED event carries the deletion's own resourceVersion, as etcd reports it. */
  remove(resource: ResourceType, namespace: string, name: string): KubeObject {
    const table = this.table(resource);
    const key = objectKey(namespace, name);
    const previous = table.objects.get(key);
    if (!previous) throw notFoundError(resource, name);
    table.objects.delete(key);
    table.unindex(previous);
    const object: KubeObject = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(this.nextRevision()) } };
    this.commit(resource, table, { type: 'DELETED', resourceVersion: this.revision, object, previous });
    return object;
  }

  /** Listeners (the simulated controllers) see every change, in commit order, after its watch events. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Opens a watch. Without a resourceVersion (or "0") it starts with a synthetic ADDED per
   * existing object; with one it replays newer changes from history, or sends a 410 ERROR event
   * and ends when that version is older than the retained history.
   */
  watch(resource: ResourceType, query: ObjectQuery, resourceVersion: string | undefined, sink: WatchSink): Watcher | undefined {
    const table = this.table(resource);
    const watcher = new Watcher(this, resource, query, sink, (stopped) => table.watchers.delete(stopped));
    if (resourceVersion === undefined || resourceVersion === '' || resourceVersion === '0') {
      for (const object of this.select(resource, query)) {
        watcher.deliver({ type: 'ADDED', resourceVersion: Number(object.metadata.resourceVersion), object });
      }
    } else {
      if (!/^[0-9]+$/.test(resourceVersion)) throw unparsableResourceVersionError(resourceVersion);
      const from = Number(resourceVersion);
      if (table.history.isExpired(from)) {
        sink.send({ type: 'ERROR', object: expiredError(`too old resource version: ${from} (${table.history.compactedRevision})`).status });
        sink.end();
        return undefined;
      }
      for (const change of table.history.since(from)) watcher.deliver(change);
    }
    table.watchers.add(watcher);
    return watcher;
  }

  /** Drops all retained history, so every resourceVersion before now is too old to watch from. */
  compact(): void {
    for (const table of this.tables.values()) table.history.compact(this.revision);
  }

  /** Ends every open watch, abruptly (connection reset) unless `graceful`. */
  dropWatches(graceful = false): number {
    let dropped = 0;
    for (const table of this.tables.values()) {
      for (const watcher of [...table.watchers]) {
        watcher.close(graceful);
        dropped += 1;
      }
    }
    return dropped;
  }

  get openWatches(): number {
    let open = 0;
    for (const table of this.tables.values()) open += table.watchers.size;
    return open;
  }

  /** Holds watch events (and bookmarks) back until `resumeWatches`, like a stalled watch cache. */
  pauseWatches(): void {
    this.paused = true;
  }

  resumeWatches(): void {
    this.paused = false;
    for (const table of this.tables.values()) for (const watcher of table.watchers) watcher.flushHeld();
  }

  private nextRevision(): number {
    this.revision += 1;
    return this.revision;
  }

  private table(resource: ResourceType): ResourceTable {
    let table = this.tables.get(resource);
    if (!table) this.tables.set(resource, (table = new ResourceTable(new EventHistory(this.historyLimit))));
    return table;
  }

  /** Matching objects in insertion order. */
  private select(resource: ResourceType, query: ObjectQuery): KubeObject[] {
    return this.selectEntries(resource, query).map(([, object]) => object);
  }

  /** Matching `[key, object]` pairs in insertion order, using the label index when the selector pins a label. */
  private selectEntries(resource: ResourceType, query: ObjectQuery): [string, KubeObject][] {
    const table = this.table(resource);
    let candidates: Iterable<[string, KubeObject]> = table.objects.entries();
    const pairs = query.labelSelector?.requiredPairs() ?? [];
    if (pairs.length > 0) {
      const keySets = pairs.map(([label, value]) => table.labelIndex.get(`${label}=${value}`));
      if (keySets.some((keys) => keys === undefined)) return [];
      const smallest = (keySets as Set<string>[]).reduce((best, keys) => (keys.size < best.size ? keys : best));
      candidates = [...smallest].flatMap((key): [string, KubeObject][] => {
        const object = table.objects.get(key);
        return object ? [[key, object]] : [];
      });
    }
    const matches: [string, KubeObject][] = [];
    for (const entry of candidates) if (matchesQuery(resource, query, entry[1])) matches.push(entry);
    return matches;
  }

  private commit(resource: ResourceType, table: ResourceTable, change: StoredChange): void {
    table.history.push(change);
    for (const watcher of table.watchers) watcher.deliver(change);
    this.pendingChanges.push({ type: change.type, resource, object: change.object, previous: change.previous });
    // Listeners may write in turn; draining a queue keeps every listener seeing changes in commit order.
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let change = this.pendingChanges.shift(); change; change = this.pendingChanges.shift()) {
        for (const listener of this.listeners) listener(change);
      }
    } finally {
      this.dispatching = false;
    }
  }
}
