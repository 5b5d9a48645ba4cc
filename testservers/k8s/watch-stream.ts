import type { ServerResponse } from 'node:http';
import type { ObjectQuery, ObjectStore, WatchEvent, WatchSink } from './object-store.js';
import type { ResourceType } from './resource-type.js';

/**
 * A watch over HTTP the way the API server streams it: status 200, chunked JSON objects
 * separated by newlines, optional BOOKMARK events, and an end after `timeoutSeconds`.
 */
export interface WatchStreamOptions {
  readonly resource: ResourceType;
  readonly query: ObjectQuery;
  readonly resourceVersion: string | undefined;
  readonly bookmarks: boolean;
  readonly bookmarkIntervalMs: number;
  readonly timeoutSeconds: number | undefined;
}

class HttpWatchSink implements WatchSink {
  private open = true;

  constructor(private readonly response: ServerResponse) {}

  get isOpen(): boolean {
    return this.open && !this.response.destroyed;
  }

  send(event: WatchEvent): void {
    if (this.isOpen) this.response.write(`${JSON.stringify(event)}\n`);
  }

  end(): void {
    if (!this.isOpen) return;
    this.open = false;
    this.response.end();
  }

  destroy(): void {
    this.open = false;
    // Reset the connection mid-stream, as an API server that goes away does; clients see an aborted body.
    this.response.socket?.destroy();
    this.response.destroy();
  }
}

/** Streams a watch until the client leaves, the timeout ends it, or the store drops it. */
export function streamWatch(store: ObjectStore, response: ServerResponse, options: WatchStreamOptions): void {
  response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  response.flushHeaders();
  const sink = new HttpWatchSink(response);
  const watcher = store.watch(options.resource, options.query, options.resourceVersion, sink);
  if (!watcher) return;
  const timers: NodeJS.Timeout[] = [];
  const finish = (): void => {
    for (const timer of timers) clearTimeout(timer);
    watcher.stop();
  };
  response.on('close', finish);
  if (options.bookmarks) {
    watcher.bookmark();
    const interval = setInterval(() => watcher.bookmark(), options.bookmarkIntervalMs);
    timers.push(interval);
  }
  if (options.timeoutSeconds !== undefined) {
    timers.push(setTimeout(() => {
      finish();
      sink.end();
    }, options.timeoutSeconds * 1000));
  }
}
