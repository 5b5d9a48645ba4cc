/**
 * Deferred work for the simulated controllers: runs tasks on the next turn of the event loop
 * (or after a delay), can hold them back while paused, and cancels everything on dispose.
 * Controllers in a real cluster react asynchronously; this keeps that, and lets tests wait
 * until the simulated cluster has settled.
 */
export class WorkScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly immediates = new Set<NodeJS.Immediate>();
  private held: (() => void)[] = [];
  private paused = false;
  private disposed = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  get pending(): number {
    return this.timers.size + this.immediates.size;
  }

  schedule(task: () => void, delayMs = 0): void {
    if (this.disposed) return;
    const run = (): void => {
      if (this.paused) {
        this.held.push(task);
        return;
      }
      try {
        task();
      } catch (error) {
        this.onError(error);
      }
    };
    if (delayMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        run();
      }, delayMs);
      this.timers.add(timer);
    } else {
      const immediate = setImmediate(() => {
        this.immediates.delete(immediate);
        run();
      });
      this.immediates.add(immediate);
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const task of held) this.schedule(task);
  }

  /** Resolves once no task is queued or running (held tasks do not count: they wait for `resume`). */
  async settled(): Promise<void> {
    while (this.pending > 0) {
      // Spin on the event loop only while immediate work is queued; wait out timers instead.
      await new Promise<void>((resolve) => (this.immediates.size > 0 ? setImmediate(resolve) : setTimeout(resolve, 1)));
    }
  }

  dispose(): void {
    this.disposed = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const immediate of this.immediates) clearImmediate(immediate);
    this.timers.clear();
    this.immediates.clear();
    this.held = [];
  }
}
