import { injectable } from 'inversify';
import type { Clock } from '../../ports/clock.js';

@injectable()
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number, wake?: AbortSignal): Promise<void> {
    if (wake?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const woken = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        wake?.removeEventListener('abort', woken);
        resolve();
      }, ms);
      wake?.addEventListener('abort', woken, { once: true });
    });
  }
}
