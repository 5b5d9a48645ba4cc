import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jobNames } from '../../src/domain/job-names.js';
import type { CallRecord } from '../../testservers/k8s/k8s-api-test-server.js';
import type { RecordedHttpRequest } from '../../testservers/bespin-api-test-server.js';
import { auditJobLeases } from '../support/e2e-lease-audit.js';
import { ReplicaWorld } from '../support/e2e-replica-world.js';
import { buildOnce } from '../support/service-process.js';

const run = promisify(execFile);
const PROJECT = fileURLToPath(new URL('../../', import.meta.url));

/** Short leases, so a job held by an idle replica and a dead watcher's lead are free again within seconds. */
const JOB_LEASES = { leases: true, lease_duration_seconds: 2 };
const LEADER_ELECTION = { leader_election: true, lease_duration_seconds: 3, renew_deadline_seconds: 2, retry_period_seconds: 1 };

function jobIds(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => first + index);
}

/** The order of bespin's steps a job goes through; '' (none) is left out, as a finished job goes back to it. */
const STEP_ORDER = ['V', 'S', 'R', 'o', 'O', 'P'];

/** Jobs whose recorded step went back to an earlier one, as re-running a stale command would do. */
function stepsGoingBackwards(calls: readonly RecordedHttpRequest[], ids: readonly number[]): string[] {
  const found: string[] = [];
  for (const id of ids) {
    const steps = calls
      .filter((call) => call.method === 'PUT' && call.status === 200 && call.path.endsWith(`/admin/jobs/${id}/`))
      .map((call) => (JSON.parse(call.body) as { step?: string }).step)
      .filter((step): step is string => step !== undefined && step !== '');
    const backwards = steps.findIndex((step, index) => index > 0 && STEP_ORDER.indexOf(step) < STEP_ORDER.indexOf(steps[index - 1]!));
    if (backwards !== -1) found.push(`job ${id}: ${steps.join(' → ')}`);
  }
  return found;
}

function leaseAuditOf(world: ReplicaWorld): ReturnType<typeof auditJobLeases> {
  return auditJobLeases(world.k8s.calls.records, world.landoReplicasByToken());
}

describe('the lease audit the replica tests rely on', () => {
  const call = (at: number, token: string, operation: string, path: string, body?: unknown): CallRecord => ({
    method: operation.startsWith('create') ? 'POST' : 'DELETE',
    path,
    query: {},
    body,
    status: operation.startsWith('create') ? 201 : 200,
    at,
    operation,
    token,
  });
  const lease = (name: string) => ({ metadata: { name } });
  const stageJob = { metadata: { name: 'stage-data-7', labels: { 'bespin-job-id': '7' } } };
  const replicas = new Map([
    ['a', 'lando-1'],
    ['b', 'lando-2'],
  ]);

  it('passes changes made by the holder of the job\'s Lease, and names the replicas that worked on the job', () => {
    const audit = auditJobLeases(
      [
        call(1, 'a', 'create leases', '/apis/coordination.k8s.io/v1/namespaces/ns/leases', lease('lando-job-7')),
        call(2, 'a', 'create jobs', '/apis/batch/v1/namespaces/ns/jobs', stageJob),
        call(3, 'a', 'delete leases', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/lando-job-7'),
        call(4, 'b', 'create leases', '/apis/coordination.k8s.io/v1/namespaces/ns/leases', lease('lando-job-7')),
        call(5, 'b', 'delete jobs', '/apis/batch/v1/namespaces/ns/jobs/stage-data-7'),
      ],
      replicas,
    );
    expect(audit.violations).to.deep.equal([]);
    expect(audit.checked).to.equal(2);
    expect([...(audit.workedOnBy.get('7') ?? [])]).to.have.members(['lando-1', 'lando-2']);
  });

  it('flags a replica changing a job after another one took its Lease over', () => {
    const audit = auditJobLeases(
      [
        call(1, 'a', 'create leases', '/apis/coordination.k8s.io/v1/namespaces/ns/leases', lease('lando-job-7')),
        call(2, 'a', 'create jobs', '/apis/batch/v1/namespaces/ns/jobs', stageJob),
        call(4, 'a', 'delete jobs', '/apis/batch/v1/namespaces/ns/jobs/stage-data-7'),
        { ...call(3, 'b', 'update leases', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/lando-job-7'), method: 'PUT', status: 200 },
      ],
      replicas,
    );
    expect(audit.violations).to.have.length(1);
    expect(audit.violations[0]).to.match(/^job 7: lando-1 sent delete jobs stage-data-7 at 4\.0 ms while lando-2 held it$/);
  });
});

/**
 * The operability requirements of issue 6, on real processes: lando and watcher replicas
 * started as an operator starts them, against this machine's RabbitMQ (never stopped: a
 * TcpProxy breaks the connections instead) and the project's Kubernetes API and bespin-api
 * test servers.
 */
describe('lando and the watcher under operational failures, as processes', function () {
  this.timeout(90_000);
  let world: ReplicaWorld | undefined;

  before(function () {
    this.timeout(120_000);
    return buildOnce();
  });

  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('runs 20 jobs to FINISHED on two lando replicas and two watchers, never with two replicas on one job at once, and hands a job over when its replica stops', async () => {
    world = await ReplicaWorld.start({ stepMs: 300, config: { lando: JOB_LEASES, watcher: LEADER_ELECTION } });
    const [[first]] = await Promise.all([world.startReplicas('lando', 2), world.startReplicas('watcher', 2)]);
    const ids = jobIds(6001, 20);
    world.addJobs(ids);
    await world.startJobs(ids);
    // A job the first replica has worked on with at least three steps to go: whoever finishes it
    // must take its Lease over, which round-robin delivery alone does not make certain.
    const midway = (): number | undefined => {
      const audit = leaseAuditOf(world!);
      return ids.find((id) => audit.workedOnBy.get(String(id))?.has(first!.name) && world!.stateOf(id).state === 'R' && ['S', 'R'].includes(world!.stateOf(id).step));
    };
    await world.waitUntil(() => midway() !== undefined, () => `${first!.name} to be in the middle of a job`, 20_000);
    const handedOver = midway()!;
    await first!.process.terminate();
    await world.startReplica('lando');

    await world.waitForStates(ids, 'F', 50_000);
    await world.waitForNoObjects(ids);
    expect(await world.deadLetters()).to.equal(0);
    expect(world.bespin.records.jobErrors).to.deep.equal([]);
    expect(world.bespin.records.outputProjects.map((project) => project.job)).to.include.members(ids);
    const audit = leaseAuditOf(world);
    expect(audit.violations).to.deep.equal([]);
    expect([...audit.workedOnBy.keys()].map(Number)).to.have.members(ids);
    expect([...(audit.workedOnBy.get(String(handedOver)) ?? [])], `the replicas that worked on job ${handedOver}`).to.include(first!.name).and.to.have.length(2);
  });

  it('finishes every job when the watcher leader is killed mid-run and the standby takes over', async () => {
    world = await ReplicaWorld.start({ stepMs: 300, config: { lando: JOB_LEASES, watcher: LEADER_ELECTION } });
    const [watchers] = await Promise.all([world.startReplicas('watcher', 2), world.startReplica('lando')]);
    const leaders = (): string[] => watchers.filter((watcher) => watcher.process.log.includes('Became the leader')).map((watcher) => watcher.name);
    await world.waitUntil(() => leaders().length === 1, () => `one watcher to lead; leading: ${leaders().join(', ') || 'none'}`, 15_000);
    const leader = watchers.find((watcher) => watcher.name === leaders()[0])!;
    const standby = watchers.find((watcher) => watcher !== leader)!;
    const ids = jobIds(6101, 8);
    world.addJobs(ids);
    await world.startJobs(ids);
    await world.waitUntil(() => ids.some((id) => world!.stateOf(id).step === 'R'), () => 'a job to run its workflow', 20_000);

    await leader.process.kill();
    expect(world.ended(ids), 'jobs ended before the leader was killed').to.have.length.below(ids.length);
    await standby.process.waitForLog('Became the leader', 20_000);
    await world.waitForStates(ids, 'F', 45_000);
    await world.waitForNoObjects(ids);
    expect(world.bespin.records.jobErrors).to.deep.equal([]);
  });

  it('finishes every job, none handled twice at once, through a cut broker connection, an expired watch and a bespin-api outage', async () => {
    world = await ReplicaWorld.start({ stepMs: 200, brokerProxy: true, config: { lando: JOB_LEASES, work_queue: { max_attempts: 100 } } });
    await Promise.all([world.startReplicas('lando', 2), world.startReplica('watcher')]);
    const ids = jobIds(6201, 10);
    world.addJobs(ids);
    await world.startJobs(ids);
    await world.waitUntil(() => ids.filter((id) => world!.stateOf(id).step === 'R').length >= 2, () => 'two jobs to run their workflows', 20_000);

    const connectionsBefore = world.proxy!.connectionsAccepted;
    world.proxy!.cutAll();
    world.k8s.compact();
    world.k8s.dropWatches();
    world.bespin.failNext(40, 503);

    await world.waitForStates(ids, 'F', 50_000);
    await world.waitForNoObjects(ids);
    expect(world.proxy!.connectionsAccepted, 'connections to RabbitMQ made again after the cut').to.be.above(connectionsBefore);
    expect(world.bespin.calls.filter((call) => call.status === 503), 'requests bespin-api refused').to.have.length(40);
    expect(await world.deadLetters()).to.equal(0);
    expect(world.bespin.records.jobErrors).to.deep.equal([]);
    expect(leaseAuditOf(world).violations).to.deep.equal([]);
    expect(stepsGoingBackwards(world.bespin.calls, ids)).to.deep.equal([]);
  });

  it('ends a step whose image cannot be pulled and one whose Secret is missing ERRORED with the reason, once the grace has passed', async () => {
    const graceSeconds = 2;
    world = await ReplicaWorld.start({ config: { watcher: { image_pull_grace_seconds: graceSeconds, stuck_pod_scan_seconds: 1 } } });
    await Promise.all([world.startReplica('lando'), world.startReplica('watcher')]);
    const [unpullable, secretless] = [6301, 6302];
    const users = world.addJobs([unpullable, secretless]);
    // As the kubelet would report them, from the moment each step's pod exists.
    world.k8s.controller.holdPodWaiting(jobNames(unpullable, users.get(unpullable)!).stageData, 'ImagePullBackOff', 'Back-off pulling image "registry.example.org/no-such-image:1"');
    world.k8s.controller.holdPodWaiting(jobNames(secretless, users.get(secretless)!).saveOutput, 'CreateContainerConfigError', 'Error: secret "ddsclient-agent" not found');
    await world.startJobs([unpullable, secretless]);

    await world.waitForStates([unpullable, secretless], 'E', (graceSeconds + 15) * 1000);
    expect(world.stateOf(unpullable)).to.deep.equal({ state: 'E', step: 'S' });
    expect(world.stateOf(secretless)).to.deep.equal({ state: 'E', step: 'O' });
    await world.waitUntil(() => world!.bespin.records.jobErrors.length === 2, () => 'both job errors to be recorded', 10_000);
    const errorOf = (id: number) => world!.bespin.records.jobErrors.find((error) => error.job === id);
    expect(errorOf(unpullable)).to.include({ job_step: 'S' });
    expect(errorOf(unpullable)?.content).to.include('ImagePullBackOff').and.to.include('Back-off pulling image "registry.example.org/no-such-image:1"');
    expect(errorOf(secretless)).to.include({ job_step: 'O' });
    expect(errorOf(secretless)?.content).to.include('CreateContainerConfigError').and.to.include('secret "ddsclient-agent" not found');
    const stuckJobs = (): string[] => [unpullable, secretless].flatMap((id) => world!.labelledObjects(id).filter((object) => object.startsWith('jobs/')));
    await world.waitUntil(() => stuckJobs().length === 0, () => `the stuck steps' Jobs to be deleted; left: ${stuckJobs().join(', ')}`, 10_000);
  });

  it('lets a handler in flight finish on SIGTERM, exits 0, and the job finishes once lando is back', async () => {
    world = await ReplicaWorld.start();
    const [lando] = await Promise.all([world.startNodeReplica('lando'), world.startReplica('watcher')]);
    const id = 6401;
    world.addJobs([id]);
    // Every bespin-api answer takes a while, so start_job is still running when the signal arrives.
    world.bespin.delayMs = 400;
    await world.startJobs([id]);
    const claimCreated = (): boolean =>
      world!.k8s.calls.of('create persistentvolumeclaims').some((call) => (call.body as { metadata?: { labels?: Record<string, string> } }).metadata?.labels?.['bespin-job-id'] === String(id));
    await world.waitUntil(claimCreated, () => `start_job of job ${id} to create its first volume`, 20_000);
    const stageJobs = (): string[] => world!.labelledObjects(id).filter((object) => object.startsWith('jobs/stage-data-'));
    expect(stageJobs(), 'start_job is still running: its last act is creating the stage Job').to.deep.equal([]);

    const exit = await lando.process.terminate();
    expect(exit, lando.process.log.slice(-3000)).to.deep.equal({ code: 0, signal: null });
    expect(lando.process.log).to.include('Stopped cleanly');
    expect(world.stateOf(id), 'start_job ran to its end').to.deep.equal({ state: 'R', step: 'S' });
    expect(stageJobs(), 'start_job ran to its end').to.have.length(1);

    world.bespin.delayMs = 0;
    await world.startReplica('lando');
    await world.waitForStates([id], 'F', 30_000);
    await world.waitForNoObjects([id]);
    expect(await world.deadLetters()).to.equal(0);
  });

  describe('the sandbox through the real command line', () => {
    const sandbox = (args: readonly string[]) =>
      run('npm', ['start', '--silent', '--', ...args], { cwd: PROJECT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );

    it('runs 200 jobs at once, one failing where told, prints plain lines and a summary off a terminal, and exits 0', async () => {
      const { code, stdout } = await sandbox(['--jobs', '200', '--step-ms', '5', '--fail-step', 'save_output']);
      expect(code, stdout.slice(-3000)).to.equal(0);
      expect(stdout).to.include('lando-k8s sandbox: 200 job(s)');
      expect(stdout).not.to.include('\u001b[');
      expect(stdout).to.match(/job 1200 {2}ERRORED {3}O {2}Store Job Output/);
      expect(stdout.match(/^\d{4} +FINISHED +FINISHED .* ok$/gm)).to.have.length(199);
      expect(stdout).to.match(/^1200 +ERRORED +ERRORED .* ok$/m);
      expect(stdout).to.include('200 of 200 job(s) ended as expected');
    });

    it('exits 1 when jobs do not end as expected in time', async () => {
      const { code, stdout } = await sandbox(['--jobs', '3', '--step-ms', '10000', '--timeout-s', '1']);
      expect(code, stdout).to.equal(1);
      expect(stdout).to.include('NOT AS EXPECTED');
      expect(stdout).to.include('0 of 3 job(s) ended as expected');
    });
  });
});
