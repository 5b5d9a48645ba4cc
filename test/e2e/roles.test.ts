import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { EndToEnd } from '../support/end-to-end.js';
import { buildOnce } from '../support/service-process.js';

const START_JOB_42_FROM_BESPIN = Buffer.from(
  readFileSync(new URL('../fixtures/pickle/start_job.bespin-api.v2.0.0.pickle.hex', import.meta.url), 'utf8').trim(),
  'hex',
);

/**
 * lando and the watcher as two real processes, started with `npm start -- --role=...` and a
 * seed-format configuration file, against RabbitMQ and the project's test servers.
 */
describe('lando and the watcher as processes, end to end', function () {
  this.timeout(90_000);
  let world: EndToEnd | undefined;

  before(() => buildOnce());

  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('runs job 42 from bespin-api\'s own start_job bytes to FINISHED, records its output project and leaves no labelled object', async () => {
    world = await EndToEnd.start();
    await world.startBoth();
    await world.publish(START_JOB_42_FROM_BESPIN);
    await world.waitForState(42, 'F', '');
    await world.waitForNoObjects(42);
    expect(world.bespin.records.outputProjects).to.deep.include({ id: 17, job: 42, project_id: 'project-42', dds_user_credentials: 1, readme_file_id: 'readme-42' });
    expect(world.bespin.records.jobErrors).to.deep.equal([]);
  });

  it('ends a job ERRORED with the pod\'s log when run_workflow fails, then a restart resumes at that step and finishes', async () => {
    let failures = 0;
    world = await EndToEnd.start({ fail: (name) => (name.startsWith('run-workflow-') && failures++ === 0 ? 'calrissian: tool failed\nexit 1' : undefined) });
    await world.startBoth();
    world.addJob(501);
    await world.command('start_job', 501);
    await world.waitForState(501, 'E', 'R');
    await world.waitUntil(() => world!.bespin.records.jobErrors.length > 0, () => 'the job error to be recorded', 10_000);
    expect(world.bespin.records.jobErrors).to.have.length(1);
    expect(world.bespin.records.jobErrors[0]).to.include({ job: 501, job_step: 'R', content: 'calrissian: tool failed\nexit 1' });

    await world.command('restart_job', 501);
    await world.waitForState(501, 'F', '');
    await world.waitForNoObjects(501);
    const stepsAfterRestart = world.bespin.calls.filter((call) => call.method === 'PUT' && call.path.endsWith('/admin/jobs/501/')).map((call) => call.body);
    expect(stepsAfterRestart).to.include('{"step": "o"}');
  });

  it('cancels a job during run_workflow: state C and every labelled object deleted', async () => {
    world = await EndToEnd.start({ manual: true });
    await world.startBoth();
    world.addJob(502);
    await world.command('start_job', 502);
    world.k8s.controller.completeJob(await world.waitForJob(502, 'stage_data'));
    await world.waitForJob(502, 'run_workflow');
    await world.command('cancel_job', 502);
    await world.waitForState(502, 'C', '');
    await world.waitForNoObjects(502);
  });

  it('finishes a job when lando is killed with SIGKILL in the middle of it and started again', async () => {
    world = await EndToEnd.start({ manual: true });
    await world.startWatcher();
    const lando = await world.startLando();
    world.addJob(503);
    await world.command('start_job', 503);
    const stage = await world.waitForJob(503, 'stage_data');
    await lando.kill();
    world.k8s.controller.completeJob(stage);
    await world.startLando();
    for (const step of ['run_workflow', 'organize_output', 'save_output']) world.k8s.controller.completeJob(await world.waitForJob(503, step));
    const record = await world.waitForJob(503, 'record_output_project');
    const [pod] = world.k8s.controller.podsOf(record);
    world.k8s.controller.annotatePod(pod!.metadata.name, { project_id: 'p-503', readme_file_id: 'r-503' });
    world.k8s.controller.completeJob(record);
    await world.waitForState(503, 'F', '');
    await world.waitForNoObjects(503);
  });

  it('reports a completion that happened while the watcher was down, once it is back', async () => {
    world = await EndToEnd.start({ manual: true });
    const watcher = await world.startWatcher();
    await world.startLando();
    world.addJob(504);
    await world.command('start_job', 504);
    const stage = await world.waitForJob(504, 'stage_data');
    await watcher.kill();
    world.k8s.controller.completeJob(stage);
    await world.startWatcher();
    await world.waitForJob(504, 'run_workflow');
    expect(world.stateOf(504)).to.deep.equal({ state: 'R', step: 'R' });
  });

  it('loses no completion when the watch stream is cut and its resourceVersion expires (410) mid-run', async () => {
    world = await EndToEnd.start({ manual: true });
    await world.startBoth();
    world.addJob(505);
    await world.command('start_job', 505);
    const stage = await world.waitForJob(505, 'stage_data');
    world.k8s.dropWatches();
    world.k8s.controller.completeJob(stage);
    const run = await world.waitForJob(505, 'run_workflow');
    world.k8s.compact();
    world.k8s.dropWatches();
    world.k8s.controller.completeJob(run);
    await world.waitForJob(505, 'organize_output');
    expect(world.stateOf(505)).to.deep.equal({ state: 'R', step: 'o' });
  });

  it('dead-letters garbage on the queue while the next job finishes', async () => {
    world = await EndToEnd.start();
    await world.startBoth();
    world.addJob(506);
    await world.publish(Buffer.from('this is not a pickle'));
    await world.command('start_job', 506);
    await world.waitForState(506, 'F', '');
    const deadLetters = await world.broker.peekAll(`${world.queue}.dead-letter`);
    expect(deadLetters).to.have.length(1);
    expect(deadLetters[0]!.body.toString()).to.equal('this is not a pickle');
    expect(String(deadLetters[0]!.headers['x-death-reason'])).to.match(/pickle/i);
  });
});
