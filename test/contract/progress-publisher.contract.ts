import assert from 'node:assert/strict';
import { TransientError } from '../../src/domain/errors.js';
import type { ProgressPublisher } from '../../src/ports/progress-publisher.js';

export interface ProgressPublisherHarness {
  readonly publisher: ProgressPublisher;
  /** The next `count` bodies a job_status subscriber receives, in order. */
  received(count: number): Promise<Buffer[]>;
  /** Makes the next publish fail as an unreachable broker would. */
  breakPublishing(): Promise<void>;
  teardown(): Promise<void>;
}

export function progressPublisherContract(name: string, setup: () => Promise<ProgressPublisherHarness>): void {
  describe(`progress publisher contract: ${name}`, function () {
    let harness: ProgressPublisherHarness | undefined;

    async function open(): Promise<ProgressPublisherHarness> {
      harness = await setup();
      return harness;
    }

    afterEach(async function () {
      await harness?.teardown();
      harness = undefined;
    });

    it("publishes the exact bytes of Python's json.dumps", async function () {
      const { publisher, received } = await open();
      await publisher.publish({ job: 42, state: 'R', step: 'S' });
      const [body] = await received(1);
      assert.equal(body?.toString('utf8'), '{"job": 42, "state": "R", "step": "S"}');
    });

    it('publishes notifications in order, empty steps and non-ASCII included', async function () {
      const { publisher, received } = await open();
      await publisher.publish({ job: 7, state: 'N', step: '' });
      await publisher.publish({ job: 7, state: 'F', step: 'é' });
      const bodies = await received(2);
      assert.deepEqual(
        bodies.map((body) => body.toString('utf8')),
        ['{"job": 7, "state": "N", "step": ""}', '{"job": 7, "state": "F", "step": "\\u00e9"}'],
      );
    });

    it('fails loudly with a retryable error when it cannot publish', async function () {
      const { publisher, breakPublishing } = await open();
      await breakPublishing();
      await assert.rejects(publisher.publish({ job: 42, state: 'R', step: 'S' }), TransientError);
    });

    it('refuses a notification without an integer job id', async function () {
      const { publisher } = await open();
      await assert.rejects(publisher.publish({ job: 4.5, state: 'R', step: 'S' }), /integer job id/);
    });
  });
}
