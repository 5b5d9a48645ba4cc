import { expect } from 'chai';
import type { Delivery, LandoCommandName } from '../../src/domain/commands.js';
import type { JobRunResult } from '../../src/domain/job-runner.js';
import { LandoWorld } from '../support/lando-world.js';

/** JobRunner.run says when a job came to rest, which is when lando's per-job Lease can go. */
describe('JobRunner.run: whether the job came to rest', () => {
  function run(world: LandoWorld, command: LandoCommandName, jobId: number): Promise<JobRunResult> {
    const delivery: Delivery = { message: { command, jobId: String(jobId), version: '2.0.1' }, attempt: 0, redelivered: false, lastAttempt: false };
    return world.runner.run(delivery);
  }

  it('not while the job runs on', async () => {
    const world = new LandoWorld();
    world.seedJob('bespin-job.json', 'S', '');
    expect(await run(world, 'start_job', 42)).to.deep.equal({ disposition: { outcome: 'ack' }, jobAtRest: false });
  });

  it('once a command leaves the job canceled', async () => {
    const world = new LandoWorld();
    world.seedJob('bespin-job.json', 'R', 'S');
    expect(await run(world, 'cancel_job', 42)).to.deep.equal({ disposition: { outcome: 'ack' }, jobAtRest: true });
  });

  it('once a step failure leaves the job errored', async () => {
    const world = new LandoWorld();
    world.seedJob('bespin-job.json', 'R', 'S');
    expect(await run(world, 'stage_job_error', 42)).to.deep.equal({ disposition: { outcome: 'ack' }, jobAtRest: true });
  });

  it('when a command finds the job already finished and is ignored', async () => {
    const world = new LandoWorld();
    world.seedJob('bespin-job.json', 'F', '');
    expect(await run(world, 'start_job', 42)).to.deep.equal({ disposition: { outcome: 'ack' }, jobAtRest: true });
  });

  it('when the job does not exist, so its command is dead-lettered', async () => {
    const result = await run(new LandoWorld(), 'start_job', 404);
    expect(result.disposition.outcome).to.equal('reject');
    expect(result.jobAtRest).to.equal(true);
  });

  it('not when the command is to be retried', async () => {
    const world = new LandoWorld();
    world.seedJob('bespin-job.json', 'R', 'S');
    world.bespin.faults.failNext(1, 'transient', 'getJob');
    const result = await run(world, 'cancel_job', 42);
    expect(result.disposition.outcome).to.equal('retry');
    expect(result.jobAtRest).to.equal(false);
  });

  it('handle() gives the same disposition without the rest flag', async () => {
    const world = new LandoWorld();
    world.seedJob('bespin-job.json', 'R', 'S');
    expect(await world.deliver('cancel_job', 42)).to.deep.equal({ outcome: 'ack' });
  });
});
