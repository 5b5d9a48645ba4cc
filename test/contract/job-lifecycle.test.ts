import { expect } from 'chai';
import { JOB_STEPS } from '../../src/domain/job-steps.js';
import type { StepType } from '../../src/domain/job-codes.js';
import { JobSystem, waitUntil } from '../support/job-system.js';

/**
 * Whole jobs: lando's JobRunner and the watcher's JobMonitor together, the watcher's messages
 * flowing back to lando through the in-memory queue, the simulated cluster running each
 * step's Job.
 */
const HAPPY_PROGRESS = ['R/', 'R/V', 'R/S', 'R/R', 'R/o', 'R/O', 'R/P', 'F/'];

describe('whole jobs over the in-memory adapters', () => {
  let system: JobSystem | undefined;

  afterEach(async () => {
    await system?.stop();
    system = undefined;
  });

  async function running(options: ConstructorParameters<typeof JobSystem>[0] = {}): Promise<JobSystem> {
    system = new JobSystem(options);
    await system.start();
    return system;
  }

  it('runs a job through all five steps to FINISHED, records its output project and leaves nothing behind', async () => {
    const jobs = await running({ workloads: { stepMs: 1 } });
    jobs.addJob(42);
    await jobs.startJob(42);
    await jobs.waitForState(42, 'F', '');
    await jobs.quiesce();
    expect(jobs.progressOf(42)).to.deep.equal(HAPPY_PROGRESS);
    expect(jobs.objectsOf(42)).to.deep.equal([]);
    expect(jobs.bespin.outputProjects).to.have.length(1);
    expect(jobs.bespin.outputProjects[0]).to.include({ project_id: '00000000-0000-4000-8000-000000000042' });
    expect(jobs.bespin.jobErrors).to.deep.equal([]);
    expect(jobs.deadLetters()).to.deep.equal([]);
  });

  for (const failing of JOB_STEPS) {
    it(`ends ERRORED at step ${failing.bespinStep} with the pod's log when ${failing.type} fails, keeping the failed Job`, async () => {
      const jobs = await running({ workloads: { stepMs: 1, fail: (_id, step) => (step === failing.type ? `${failing.type} exploded\nTraceback: boom` : undefined) } });
      jobs.addJob(7);
      await jobs.startJob(7);
      await jobs.waitForState(7, 'E', failing.bespinStep);
      await jobs.quiesce();
      expect(jobs.bespin.jobErrors).to.have.length(1);
      expect(jobs.bespin.jobErrors[0]).to.include({ job: 7, job_step: failing.bespinStep, content: `${failing.type} exploded\nTraceback: boom` });
      const [failedJob, ...others] = jobs.cluster.objects('Job').filter((job) => job.metadata.labels['bespin-job-id'] === '7');
      expect(others, 'the failed Job stays for inspection, alone').to.deep.equal([]);
      expect(failedJob?.metadata.name).to.match(new RegExp(`^${failing.type.replaceAll('_', '-')}-7-`));
      expect(jobs.cluster.jobStatus(failedJob!.metadata.name)?.annotations, 'marked so a restarted watcher does not report it again').to.deep.equal({ 'bespin-job/error-recorded': 'true' });
    });
  }

  for (const failing of JOB_STEPS.filter((step) => step.type !== 'record_output_project')) {
    it(`restarts a job that failed in ${failing.type} at that step and finishes it`, async () => {
      let failures = 0;
      const jobs = await running({
        workloads: { stepMs: 1, fail: (_id, step) => (step === failing.type && failures++ === 0 ? 'first attempt failed' : undefined) },
      });
      jobs.addJob(9);
      await jobs.startJob(9);
      await jobs.waitForState(9, 'E', failing.bespinStep);
      await jobs.quiesce();
      const progressBefore = jobs.progressOf(9).length;
      await jobs.bespin.setJobState(9, 'r');
      await jobs.client.send({ command: 'restart_job', jobId: '9' });
      await jobs.waitForState(9, 'F', '');
      await jobs.quiesce();
      const restartProgress = jobs.progressOf(9).slice(progressBefore);
      expect(restartProgress[0], 'the restart resumes at the failed step').to.equal(`R/${failing.bespinStep}`);
      expect(restartProgress.at(-1)).to.equal('F/');
      expect(jobs.objectsOf(9)).to.deep.equal([]);
    });
  }

  it('refuses to restart a job that failed in the record step, as bespin-api does', async () => {
    const jobs = await running({ workloads: { stepMs: 1, fail: (_id, step) => (step === 'record_output_project' ? 'kubectl: forbidden' : undefined) } });
    jobs.addJob(11);
    await jobs.startJob(11);
    await jobs.waitForState(11, 'E', 'P');
    await jobs.bespin.setJobState(11, 'r');
    await jobs.client.send({ command: 'restart_job', jobId: '11' });
    await jobs.quiesce();
    expect(jobs.stateOf(11)).to.deep.equal({ state: 'E', step: 'P' });
    expect(jobs.bespin.jobErrors.map((error) => error.content)).to.deep.equal(['kubectl: forbidden', 'Cannot restart record output project step.']);
  });

  for (const during of JOB_STEPS) {
    it(`cancels a job during ${during.type}: state C, step cleared, every object of the job deleted`, async () => {
      const jobs = await running();
      jobs.addJob(5);
      await jobs.startJob(5);
      for (const step of JOB_STEPS) {
        const name = await jobs.waitForJob(5, step.type);
        if (step.type === during.type) break;
        jobs.cluster.completeJob(name);
        await jobs.quiesce();
      }
      await jobs.bespin.setJobState(5, 'c');
      await jobs.client.send({ command: 'cancel_job', jobId: '5' });
      await jobs.waitForState(5, 'C', '');
      await jobs.quiesce();
      expect(jobs.objectsOf(5)).to.deep.equal([]);
      expect(jobs.progressOf(5).at(-1)).to.equal('C/');
      expect(jobs.bespin.jobErrors).to.deep.equal([]);
    });
  }

  it('restarts a job canceled a moment ago once its claims, still terminating, are gone (W14)', async () => {
    const jobs = await running({ deletePvcAsync: true, retryDelayMs: 1, maxRetryDelayMs: 5, maxAttempts: 1000 });
    jobs.addJob(6);
    await jobs.startJob(6);
    await jobs.waitForJob(6, 'stage_data');
    await jobs.bespin.setJobState(6, 'c');
    await jobs.client.send({ command: 'cancel_job', jobId: '6' });
    await jobs.waitForState(6, 'C', '');
    await jobs.quiesce();

    await jobs.bespin.setJobState(6, 'r');
    await jobs.client.send({ command: 'restart_job', jobId: '6' });
    await waitUntil(() => jobs.metrics.value('lando_retries_total', { reason_kind: 'failed_attempt' }) >= 3, () => 'the restart to be retried while the claims terminate');
    expect(jobs.cluster.objects('Job').filter((job) => job.metadata.labels['bespin-job-id'] === '6'), 'no step runs on a claim being deleted').to.deep.equal([]);
    expect(jobs.bespin.jobErrors).to.deep.equal([]);

    jobs.cluster.finishTerminations();
    const stage = await jobs.waitForJob(6, 'stage_data');
    expect(jobs.stateOf(6)).to.deep.equal({ state: 'R', step: 'S' });
    jobs.cluster.completeJob(stage);
    await jobs.waitForJob(6, 'run_workflow');
    expect(jobs.deadLetters()).to.deep.equal([]);
  });

  it('ignores a step outcome that arrives late, twice or out of order, and a stale error after a cancel', async () => {
    const jobs = await running();
    jobs.addJob(3);
    await jobs.startJob(3);
    const stage = await jobs.waitForJob(3, 'stage_data');
    await jobs.client.send({ command: 'run_job_complete', jobId: '3' });
    await jobs.quiesce();
    expect(jobs.stateOf(3)).to.deep.equal({ state: 'R', step: 'S' });

    jobs.cluster.completeJob(stage);
    await jobs.waitForJob(3, 'run_workflow');
    await jobs.quiesce();
    const effectsBefore = jobs.cluster.calls.length;
    await jobs.client.send({ command: 'stage_job_complete', jobId: '3' });
    await jobs.quiesce();
    expect(jobs.stateOf(3)).to.deep.equal({ state: 'R', step: 'R' });
    expect(jobs.cluster.calls.slice(effectsBefore).filter((call) => call.verb === 'create' || call.verb === 'delete')).to.deep.equal([]);

    await jobs.bespin.setJobState(3, 'c');
    await jobs.client.send({ command: 'cancel_job', jobId: '3' });
    await jobs.client.send({ command: 'run_job_error', jobId: '3', message: 'stale failure' });
    await jobs.waitForState(3, 'C', '');
    await jobs.quiesce();
    expect(jobs.stateOf(3), 'W18: a stale error does not turn a canceled job into an error').to.deep.equal({ state: 'C', step: '' });
    expect(jobs.bespin.jobErrors).to.deep.equal([]);
  });

  it('reports the watcher\'s outcome once per Job even when the Job is seen again (W18)', async () => {
    const jobs = await running({ workloads: { stepMs: 1, fail: (_id, step: StepType) => (step === 'run_workflow' ? 'no' : undefined) } });
    jobs.addJob(8);
    await jobs.startJob(8);
    await jobs.waitForState(8, 'E', 'R');
    await jobs.quiesce();
    jobs.cluster.restartWatches();
    await jobs.quiesce();
    expect(jobs.bespin.jobErrors).to.have.length(1);
  });

  it('errors the job with a clear reason when the record step pod carries no annotations', async () => {
    const jobs = await running();
    jobs.addJob(12);
    await jobs.startJob(12);
    for (const step of JOB_STEPS) {
      jobs.cluster.completeJob(await jobs.waitForJob(12, step.type));
      if (step.type === 'record_output_project') break;
      await jobs.quiesce();
    }
    await jobs.waitForState(12, 'E', 'P');
    await jobs.quiesce();
    const [error] = jobs.bespin.jobErrors;
    expect(error).to.include({ job_step: 'P' });
    expect(String(error?.content)).to.match(/^Running record_output_project_complete failed with PermanentError: no record output project pod carries the project_id and readme_file_id annotations \(record-output-project-12-\S+ lacks project_id and readme_file_id\)$/);
  });

  it('finishes a job whose record step was retried, using the newest annotated pod (W12)', async () => {
    const jobs = await running();
    jobs.addJob(13);
    await jobs.startJob(13);
    for (const step of JOB_STEPS) {
      const name = await jobs.waitForJob(13, step.type);
      if (step.type === 'record_output_project') {
        const retry = jobs.cluster.addPod(name);
        jobs.cluster.annotatePod(retry, { project_id: 'p-13', readme_file_id: 'r-13' });
      }
      jobs.cluster.completeJob(name);
      await jobs.quiesce();
    }
    await jobs.waitForState(13, 'F', '');
    expect(jobs.bespin.outputProjects[0]).to.include({ project_id: 'p-13', readme_file_id: 'r-13' });
  });

  it('retries a handler when bespin-api fails transiently in its middle, and still finishes the job', async () => {
    const jobs = await running({ workloads: { stepMs: 1 } });
    jobs.addJob(21);
    jobs.bespin.faults.failNext(2, 'transient', 'setJobStep');
    await jobs.startJob(21);
    await jobs.waitForState(21, 'F', '');
    await jobs.quiesce();
    expect(jobs.progressOf(21).at(-1)).to.equal('F/');
    expect(jobs.objectsOf(21)).to.deep.equal([]);
    expect(jobs.bespin.jobErrors).to.deep.equal([]);
  });

  it('marks the job errored with the reason when bespin-api refuses a write for good', async () => {
    const jobs = await running();
    jobs.addJob(22);
    await jobs.startJob(22);
    jobs.cluster.completeJob(await jobs.waitForJob(22, 'stage_data'));
    const run = await jobs.waitForJob(22, 'run_workflow');
    jobs.bespin.faults.failNext(1, 'permanent', 'setJobStep');
    jobs.cluster.completeJob(run);
    await jobs.waitForState(22, 'E');
    await jobs.quiesce();
    expect(jobs.stateOf(22)).to.deep.equal({ state: 'E', step: 'R' });
    expect(jobs.bespin.jobErrors[0]).to.include({ job_step: 'R', content: 'Running run_job_complete failed with PermanentError: injected permanent fault in setJobStep' });
  });

  it('errors the job with the reason, instead of leaving it where it stopped, when the cluster still fails on the last attempt', async () => {
    const jobs = await running({ maxAttempts: 3 });
    jobs.addJob(23);
    await jobs.startJob(23);
    jobs.cluster.completeJob(await jobs.waitForJob(23, 'stage_data'));
    jobs.cluster.faults.failNext(3, 'transient', (operation) => operation.startsWith('create'));
    await jobs.waitForState(23, 'E');
    await jobs.quiesce();
    expect(jobs.stateOf(23)).to.deep.equal({ state: 'E', step: 'R' });
    expect(jobs.deadLetters(), 'the command was settled by recording the error').to.deep.equal([]);
    const [error] = jobs.bespin.jobErrors;
    expect(error).to.include({ job_step: 'R' });
    expect(String(error?.content)).to.match(/^Running stage_job_complete failed with PermanentError: TransientError: injected transient fault in create\S*, still on attempt 3, the last$/);
  });

  it('dead-letters a command for a job bespin-api does not know, and goes on with the next one', async () => {
    const jobs = await running({ workloads: { stepMs: 1 } });
    jobs.addJob(31);
    await jobs.client.send({ command: 'start_job', jobId: '404' });
    await jobs.startJob(31);
    await jobs.waitForState(31, 'F', '');
    await jobs.quiesce();
    const deadLetters = jobs.deadLetters();
    expect(deadLetters).to.have.length(1);
    expect(deadLetters[0]!.reason).to.equal('job 404 does not exist in bespin-api');
  });

  it('answers start_debug and cancel_debug with a "not supported" log line, leaving the job alone', async () => {
    const jobs = await running();
    jobs.addJob(41);
    await jobs.client.send({ command: 'start_debug', jobId: '41' });
    await jobs.client.send({ command: 'cancel_debug', jobId: '41' });
    await jobs.quiesce();
    expect(jobs.stateOf(41)).to.deep.equal({ state: 'A', step: '' });
    expect(jobs.log.messages('info').filter((line) => line.includes('not supported'))).to.have.length(2);
  });
});
