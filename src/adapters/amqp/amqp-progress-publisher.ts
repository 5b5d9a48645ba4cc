import { pythonJsonDumps } from '../../domain/python-json.js';
import type { JobProgress, ProgressPublisher } from '../../ports/progress-publisher.js';
import type { AmqpConnection } from './amqp-connection.js';
import { PERSISTENT } from './message-properties.js';

/** The fanout exchange of progress notifications; non-durable, as lando declares it (messages.md §6). */
export const JOB_STATUS_EXCHANGE = 'job_status';

/** `{"job": 42, "state": "R", "step": "S"}`: Python's json.dumps bytes, keys in this order. */
export function encodeJobProgress(progress: JobProgress): Buffer {
  if (!Number.isSafeInteger(progress.job)) {
    throw new RangeError(`a progress notification needs an integer job id, got ${progress.job}`);
  }
  return Buffer.from(pythonJsonDumps({ job: progress.job, state: progress.state, step: progress.step }), 'utf8');
}

/**
 * Broadcasts job progress over the shared connection. A failure is thrown to the caller,
 * which decides whether it matters (the original failed the job over it, W7).
 */
export class AmqpProgressPublisher implements ProgressPublisher {
  constructor(private readonly connection: AmqpConnection) {}

  async publish(progress: JobProgress): Promise<void> {
    const body = encodeJobProgress(progress);
    await this.connection.run(`publishing the progress of job ${progress.job} to exchange '${JOB_STATUS_EXCHANGE}'`, async (session) => {
      await session.declareExchange(JOB_STATUS_EXCHANGE, 'fanout', { durable: false });
      await session.publish(JOB_STATUS_EXCHANGE, '', body, { deliveryMode: PERSISTENT });
    });
  }
}
