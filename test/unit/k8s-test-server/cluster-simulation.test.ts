import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { K8sApiTestServer, K8sApiTestServerOptions } from '../../../testservers/k8s/k8s-api-test-server.js';
import { apiFailure, clientsFor, CollectingWatch, http, jobBody, NAMESPACE, pvcBody, startServer, type Clients } from './support.js';

const STAGE = 'stage-data-42-jdoe12';

function conditions(job: V1Job): string[] {
  return (job.status?.conditions ?? []).map((condition) => `${condition.type}=${condition.status}${condition.reason ? `/${condition.reason}` : ''}`);
}

describe('K8s API test server: simulated Job controller, garbage collector and volumes', () => {
  let server: K8sApiTestServer;
  let clients: Clients;
  const watches: CollectingWatch[] = [];

  async function restart(options: K8sApiTestServerOptions): Promise<void> {
    await server.close();
    server = await startServer(options);
    clients = clientsFor(server);
  }

  async function createJob(body: V1Job): Promise<V1Job> {
    const job = await clients.batch.createNamespacedJob({ namespace: NAMESPACE, body });
    await server.settle();
    return job;
  }

  async function readJob(name: string): Promise<V1Job> {
    return clients.batch.readNamespacedJob({ name, namespace: NAMESPACE });
  }

  async function podsOf(name: string): Promise<V1Pod[]> {
    return (await clients.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `job-name=${name}` })).items;
  }

  async function eventReasons(involvedName: string): Promise<string[]> {
    const events = await clients.core.listNamespacedEvent({ namespace: NAMESPACE, fieldSelector: `involvedObject.name=${involvedName}` });
    return events.items.map((event) => `${String(event.type)} ${String(event.reason)}`);
  }

  beforeEach(async () => {
    server = await startServer();
    clients = clientsFor(server);
  });

  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.stop();
    await server.close();
  });

  describe('test controls', () => {
    it('completeJob: pod Succeeded, Job Complete with succeeded=1 and completionTime, timeline created → completed', async () => {
      await createJob(jobBody(STAGE));
      server.controller.completeJob(STAGE);

      const job = await readJob(STAGE);
      expect(conditions(job)).to.deep.equal(['SuccessCriteriaMet=True/CompletionsReached', 'Complete=True/CompletionsReached']);
      expect(job.status?.succeeded).to.equal(1);
      expect(job.status?.active).to.equal(undefined);
      expect(job.status?.completionTime).to.be.instanceOf(Date);
      const [pod] = await podsOf(STAGE);
      expect(pod.status?.phase).to.equal('Succeeded');
      expect(pod.status?.containerStatuses?.[0].state?.terminated).to.include({ exitCode: 0, reason: 'Completed' });
      const times = server.jobTimeline.get(STAGE);
      expect(times?.labels).to.include({ 'bespin-job-id': '42' });
      expect(times?.completedAt).to.be.greaterThan(times?.createdAt ?? Infinity);
      expect(() => server.controller.completeJob(STAGE)).to.throw(`Job ${STAGE} has already finished`);
    });

    it('failJob: pod Failed with the given log, Job Failed=True (BackoffLimitExceeded) and a Warning Event', async () => {
      await createJob(jobBody(STAGE));
      server.controller.failJob(STAGE, 'Traceback: DukeDS unreachable\n');

      const job = await readJob(STAGE);
      expect(conditions(job)).to.deep.equal(['FailureTarget=True/BackoffLimitExceeded', 'Failed=True/BackoffLimitExceeded']);
      expect(job.status?.failed).to.equal(1);
      const [pod] = await podsOf(STAGE);
      expect(pod.status?.phase).to.equal('Failed');
      expect(await clients.core.readNamespacedPodLog({ name: pod.metadata?.name ?? '', namespace: NAMESPACE })).to.equal('Traceback: DukeDS unreachable\n');
      expect(await eventReasons(STAGE)).to.include('Warning BackoffLimitExceeded');
      expect(server.jobTimeline.get(STAGE)?.failedAt).to.be.a('number');
    });

    it('serves a failed pod\'s log bytes as set, even when they are not valid UTF-8 (W17)', async () => {
      await createJob(jobBody(STAGE));
      const invalidUtf8 = Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x0a]);
      server.controller.failJob(STAGE, invalidUtf8);
      const podName = server.controller.podsOf(STAGE)[0].metadata.name;
      const response = await http(server, 'GET', `/api/v1/namespaces/${NAMESPACE}/pods/${podName}/log`);
      expect(response.status).to.equal(200);
      expect(response.bytes).to.deep.equal(invalidUtf8);
    });

    it('holdPodWaiting keeps the container waiting with a kubelet Event until released', async () => {
      server.controller.holdPodWaiting(STAGE, 'CreateContainerConfigError', 'Error: secret "ddsclient-agent" not found');
      await createJob(jobBody(STAGE));
      const [pod] = await podsOf(STAGE);
      expect(pod.status?.phase).to.equal('Pending');
      expect(pod.status?.containerStatuses?.[0].state?.waiting).to.deep.equal({ reason: 'CreateContainerConfigError', message: 'Error: secret "ddsclient-agent" not found' });
      expect(await eventReasons(pod.metadata?.name ?? '')).to.include('Warning Failed');
      expect((await readJob(STAGE)).status?.conditions).to.equal(undefined);

      server.controller.releasePod(STAGE);
      expect((await podsOf(STAGE))[0].status?.phase).to.equal('Running');
    });

    it('retryPod fails the current pod and starts a second one', async () => {
      await createJob(jobBody(STAGE));
      const second = server.controller.retryPod(STAGE);

      const pods = server.controller.podsOf(STAGE);
      expect(pods.map((pod) => pod.status?.phase)).to.deep.equal(['Failed', 'Running']);
      expect(pods[1].metadata.name).to.equal(second);
      expect((await readJob(STAGE)).status?.failed).to.equal(1);
      server.controller.completeJob(STAGE);
      expect(server.controller.podsOf(STAGE).map((pod) => pod.status?.phase)).to.deep.equal(['Failed', 'Succeeded']);
    });

    it('setPodLog replaces what the pod log returns', async () => {
      await createJob(jobBody(STAGE));
      const podName = server.controller.podsOf(STAGE)[0].metadata.name;
      server.controller.setPodLog(podName, 'progress 50%\n');
      expect(await clients.core.readNamespacedPodLog({ name: podName, namespace: NAMESPACE })).to.equal('progress 50%\n');
      expect(() => server.controller.setPodLog('no-such-pod', 'x')).to.throw(`no pod no-such-pod in namespace ${NAMESPACE}`);
    });
  });

  describe('autoComplete', () => {
    it('immediate: every Job completes by itself, watched as ADDED then MODIFIED events', async () => {
      await restart({ autoComplete: { mode: 'immediate' } });
      const watch = await CollectingWatch.start(clients.config, `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`, { labelSelector: 'bespin-job=true' });
      watches.push(watch);
      await clients.batch.createNamespacedJob({ namespace: NAMESPACE, body: jobBody(STAGE) });
      await watch.until((events) => events.some((event) => JSON.stringify(event.object).includes('"Complete"')));

      expect(watch.events[0].type).to.equal('ADDED');
      expect(watch.events.slice(1).every((event) => event.type === 'MODIFIED')).to.equal(true);
      expect(conditions(await readJob(STAGE))).to.include('Complete=True/CompletionsReached');
    });

    it('immediate with fail(): the chosen Jobs fail with the returned log', async () => {
      await restart({ autoComplete: { mode: 'immediate', fail: (name) => (name.startsWith('run-workflow') ? 'workflow failed\n' : undefined) } });
      await createJob(jobBody(STAGE));
      await createJob(jobBody('run-workflow-42-jdoe12'));

      expect(conditions(await readJob(STAGE))).to.include('Complete=True/CompletionsReached');
      expect(conditions(await readJob('run-workflow-42-jdoe12'))).to.include('Failed=True/BackoffLimitExceeded');
      const [failedPod] = await podsOf('run-workflow-42-jdoe12');
      expect(await clients.core.readNamespacedPodLog({ name: failedPod.metadata?.name ?? '', namespace: NAMESPACE })).to.equal('workflow failed\n');
    });

    it('immediate with annotations(): the pod annotates itself before its Job completes, as the record step does', async () => {
      await restart({
        autoComplete: { mode: 'immediate', annotations: (job) => (job.name.startsWith('record-output-project') ? { project_id: 'p-1', readme_file_id: 'r-1' } : undefined) },
      });
      await createJob(jobBody(STAGE));
      await createJob(jobBody('record-output-project-42-jdoe12'));

      const [recordPod] = await podsOf('record-output-project-42-jdoe12');
      expect(recordPod?.metadata?.annotations).to.include({ project_id: 'p-1', readme_file_id: 'r-1' });
      expect(conditions(await readJob('record-output-project-42-jdoe12'))).to.include('Complete=True/CompletionsReached');
      const [stagePod] = await podsOf(STAGE);
      expect(stagePod?.metadata?.annotations ?? {}).to.not.have.property('project_id');
    });

    it('manual: Jobs keep running until a test control finishes them', async () => {
      await restart({ autoComplete: { mode: 'manual' } });
      await createJob(jobBody(STAGE));
      expect((await readJob(STAGE)).status?.active).to.equal(1);
      expect(conditions(await readJob(STAGE))).to.deep.equal([]);
    });
  });

  describe('deletion propagation', () => {
    it('Background deletes the Job at once and its pods afterwards', async () => {
      await createJob(jobBody(STAGE));
      const status = await clients.batch.deleteNamespacedJob({ name: STAGE, namespace: NAMESPACE, propagationPolicy: 'Background' });
      expect(status).to.deep.include({ status: 'Success' });
      expect(status.details).to.deep.include({ name: STAGE, group: 'batch', kind: 'jobs' });
      await server.settle();
      expect(await podsOf(STAGE)).to.have.length(0);
    });

    it('Orphan keeps the pods and removes their owner reference; it is also the default for batch/v1 Jobs', async () => {
      await createJob(jobBody(STAGE));
      await createJob(jobBody('run-workflow-42-jdoe12'));
      server.pauseGarbageCollection();
      await clients.batch.deleteNamespacedJob({ name: STAGE, namespace: NAMESPACE, propagationPolicy: 'Orphan' });
      await clients.batch.deleteNamespacedJob({ name: 'run-workflow-42-jdoe12', namespace: NAMESPACE });
      for (const name of [STAGE, 'run-workflow-42-jdoe12']) expect((await readJob(name)).metadata?.finalizers).to.deep.equal(['orphan']);
      server.resumeGarbageCollection();
      await server.settle();

      for (const name of [STAGE, 'run-workflow-42-jdoe12']) {
        expect(await apiFailure(readJob(name))).to.have.property('code', 404);
        const pods = await podsOf(name);
        expect(pods).to.have.length(1);
        expect(pods[0].metadata?.ownerReferences).to.equal(undefined);
      }
    });

    it('Foreground keeps the Job Terminating until its pods are gone', async () => {
      await restart({ podTerminationMs: 30 });
      await createJob(jobBody(STAGE));
      await clients.batch.deleteNamespacedJob({ name: STAGE, namespace: NAMESPACE, propagationPolicy: 'Foreground' });
      const terminating = await readJob(STAGE);
      expect(terminating.metadata?.deletionTimestamp).to.be.instanceOf(Date);
      expect(terminating.metadata?.finalizers).to.deep.equal(['foregroundDeletion']);

      await server.settle();
      expect(await podsOf(STAGE)).to.have.length(0);
      expect(await apiFailure(readJob(STAGE))).to.have.property('code', 404);
    });

    it('deletes a running pod gracefully: Terminating first, gone once its containers stop', async () => {
      await restart({ podTerminationMs: 30 });
      await createJob(jobBody(STAGE));
      const podName = server.controller.podsOf(STAGE)[0].metadata.name;
      const deleted = await clients.core.deleteNamespacedPod({ name: podName, namespace: NAMESPACE });
      expect(deleted.metadata?.deletionGracePeriodSeconds).to.equal(30);
      expect(server.getObject('pods', podName)?.metadata.deletionTimestamp).to.be.a('string');
      await server.settle();
      expect(server.getObject('pods', podName)).to.equal(undefined);
    });
  });

  describe('PVC protection (kubernetes.io/pvc-protection)', () => {
    const CLAIM = 'job-data-42-jdoe12';

    it('keeps a claim used by a pod Terminating: readable, listed, and a create of the name gets 409', async () => {
      await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody(CLAIM) });
      await server.settle();
      await createJob(jobBody(STAGE, { claim: CLAIM }));
      server.controller.completeJob(STAGE);

      const deleted = await clients.core.deleteNamespacedPersistentVolumeClaim({ name: CLAIM, namespace: NAMESPACE });
      expect(deleted.metadata?.deletionTimestamp).to.be.instanceOf(Date);
      const read = await clients.core.readNamespacedPersistentVolumeClaim({ name: CLAIM, namespace: NAMESPACE });
      expect(read.metadata?.finalizers).to.deep.equal(['kubernetes.io/pvc-protection']);
      const listed = await clients.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, labelSelector: 'bespin-job-id=42' });
      expect(listed.items.map((item) => item.metadata?.name)).to.deep.equal([CLAIM]);
      const recreate = await apiFailure(clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody(CLAIM) }));
      expect(recreate.code).to.equal(409);
      expect(recreate.status.reason).to.equal('AlreadyExists');

      await clients.batch.deleteNamespacedJob({ name: STAGE, namespace: NAMESPACE, propagationPolicy: 'Background' });
      await server.settle();
      expect(await apiFailure(clients.core.readNamespacedPersistentVolumeClaim({ name: CLAIM, namespace: NAMESPACE }))).to.have.property('code', 404);
      await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody(CLAIM) });
    });

    it('reproduces W14: while garbage collection lags, a restart\'s delete-then-create of a claim hits 409', async () => {
      await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody(CLAIM) });
      await server.settle();
      await createJob(jobBody(STAGE, { claim: CLAIM }));
      server.controller.failJob(STAGE, 'boom');
      server.pauseGarbageCollection();

      await clients.batch.deleteNamespacedJob({ name: STAGE, namespace: NAMESPACE, propagationPolicy: 'Background' });
      await clients.core.deleteNamespacedPersistentVolumeClaim({ name: CLAIM, namespace: NAMESPACE });
      const recreate = await apiFailure(clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody(CLAIM) }));
      expect(recreate.code).to.equal(409);

      server.resumeGarbageCollection();
      await server.settle();
      const created = await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody(CLAIM) });
      expect(created.metadata?.deletionTimestamp).to.equal(undefined);
    });

    it('deletes an unused claim at once', async () => {
      await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody(CLAIM) });
      await clients.core.deleteNamespacedPersistentVolumeClaim({ name: CLAIM, namespace: NAMESPACE });
      expect(server.getObject('persistentvolumeclaims', CLAIM)).to.equal(undefined);
    });
  });

  describe('pods that cannot start (W10)', () => {
    it('leaves a pod whose claim is missing unschedulable until the claim exists', async () => {
      await createJob(jobBody(STAGE, { claim: 'job-data-42-jdoe12' }));
      const [pending] = await podsOf(STAGE);
      expect(pending.status?.phase).to.equal('Pending');
      expect(pending.spec?.nodeName).to.equal(undefined);
      expect(pending.status?.conditions?.[0]).to.include({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' });
      expect(pending.status?.conditions?.[0].message).to.contain('persistentvolumeclaim "job-data-42-jdoe12" not found');
      expect(await eventReasons(pending.metadata?.name ?? '')).to.deep.equal(['Warning FailedScheduling']);

      await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody('job-data-42-jdoe12') });
      await server.settle();
      const [running] = await podsOf(STAGE);
      expect(running.status?.phase).to.equal('Running');
      expect(running.spec?.nodeName).to.equal('node-1');
    });

    it('keeps a pod whose ConfigMap volume is missing in ContainerCreating with a FailedMount Event', async () => {
      await createJob(jobBody(STAGE, { configMap: STAGE }));
      const [pending] = await podsOf(STAGE);
      expect(pending.status?.containerStatuses?.[0].state?.waiting?.reason).to.equal('ContainerCreating');
      expect(await eventReasons(pending.metadata?.name ?? '')).to.include('Warning FailedMount');

      await clients.core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: STAGE }, data: { 'stagedata.json': '{}' } } });
      await server.settle();
      expect((await podsOf(STAGE))[0].status?.phase).to.equal('Running');
    });

    it('never binds claims when the provisioner is off (pvcBinding: pending) until bindClaim', async () => {
      await restart({ pvcBinding: 'pending' });
      await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody('job-data-42-jdoe12') });
      await createJob(jobBody(STAGE, { claim: 'job-data-42-jdoe12' }));
      expect((await podsOf(STAGE))[0].status?.conditions?.[0].message).to.contain('pod has unbound immediate PersistentVolumeClaims');

      server.bindClaim('job-data-42-jdoe12');
      await server.settle();
      expect((await podsOf(STAGE))[0].status?.phase).to.equal('Running');
    });
  });
});
