/** Lower runs first. */
export type Priority = number;

interface Waiter {
  readonly priority: Priority;
  readonly admit: () => void;
}

/**
 * A fixed number of slots for running handlers, given to waiters by priority and, within a
 * priority, in arrival order. Pure bookkeeping: it neither times nor cancels anything.
 */
export class HandlerSlots {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly limit: number) {
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw new RangeError(`the number of handler slots must be a positive integer, got ${limit}`);
  }

  /** Handlers waiting for a slot. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  get runningCount(): number {
    return this.running;
  }

  /** Runs `work` in a slot, once every waiter ahead of it by priority or arrival has had one. */
  async run<T>(priority: Priority, work: () => Promise<T>): Promise<T> {
    await this.acquire(priority);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(priority: Priority): Promise<void> {
    if (this.running < this.limit && this.waiting.length === 0) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise((admit) => {
      const waiter: Waiter = { priority, admit };
      // Kept sorted on insertion, after every waiter of the same priority: waiters are few (bounded by the queue's prefetch) and the head is taken often.
      const before = this.waiting.findIndex((other) => other.priority > priority);
      this.waiting.splice(before === -1 ? this.waiting.length : before, 0, waiter);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.admit();
    else this.running -= 1;
  }
}
