import { PatchStrategy, setHeaderOptions, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { K8sApiTestServer } from '../../../testservers/k8s/k8s-api-test-server.js';
import { apiFailure, clientsFor, http, jobBody, NAMESPACE, pvcBody, startServer, type Clients } from './support.js';

describe('K8s API test server: @kubernetes/client-node 1.4.0 against it', () => {
  let server: K8sApiTestServer;
  let clients: Clients;

  beforeEach(async () => {
    server = await startServer();
    clients = clientsFor(server);
  });

  afterEach(async () => {
    await server.close();
  });

  it('creates, reads, lists by label and deletes ConfigMaps', async () => {
    const { core } = clients;
    const labels = { 'bespin-job': 'true', 'bespin-job-id': '42' };
    await core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'stage-data-42-jdoe12', labels }, data: { 'stagedata.json': '{}' } } });
    await core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'other', labels: { 'bespin-job': 'true', 'bespin-job-id': '43' } } } });

    const read = await core.readNamespacedConfigMap({ name: 'stage-data-42-jdoe12', namespace: NAMESPACE });
    expect(read.data).to.deep.equal({ 'stagedata.json': '{}' });
    expect(read.metadata?.uid).to.be.a('string');
    const listed = await core.listNamespacedConfigMap({ namespace: NAMESPACE, labelSelector: 'bespin-job=true,bespin-job-id=42' });
    expect(listed.items.map((item) => item.metadata?.name)).to.deep.equal(['stage-data-42-jdoe12']);

    const status = await core.deleteNamespacedConfigMap({ name: 'stage-data-42-jdoe12', namespace: NAMESPACE });
    expect(status.status).to.equal('Success');
    const missing = await apiFailure(core.readNamespacedConfigMap({ name: 'stage-data-42-jdoe12', namespace: NAMESPACE }));
    expect(missing.code).to.equal(404);
    expect(missing.status.message).to.equal('configmaps "stage-data-42-jdoe12" not found');
  });

  it('creates PVCs that the provisioner binds, and deletes them', async () => {
    const { core } = clients;
    const created = await core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody('job-data-42-jdoe12') });
    expect(created.status?.phase).to.equal('Pending');
    expect(created.metadata?.finalizers).to.deep.equal(['kubernetes.io/pvc-protection']);
    await server.settle();

    const bound = await core.readNamespacedPersistentVolumeClaim({ name: 'job-data-42-jdoe12', namespace: NAMESPACE });
    expect(bound.status?.phase).to.equal('Bound');
    expect(bound.status?.capacity).to.deep.equal({ storage: '1Gi' });

    const deleted = await core.deleteNamespacedPersistentVolumeClaim({ name: 'job-data-42-jdoe12', namespace: NAMESPACE });
    expect(deleted.metadata?.name).to.equal('job-data-42-jdoe12');
    const listed = await core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE });
    expect(listed.items).to.have.length(0);
  });

  it('runs a created Job through its pod: template labels plus job-name and controller-uid, phase Running', async () => {
    const { batch, core } = clients;
    const job = await batch.createNamespacedJob({ namespace: NAMESPACE, body: jobBody('stage-data-42-jdoe12') });
    expect(job.spec?.backoffLimit).to.equal(6);
    await server.settle();

    const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'job-name=stage-data-42-jdoe12' });
    expect(pods.items).to.have.length(1);
    const pod = pods.items[0];
    expect(pod.metadata?.name).to.match(/^stage-data-42-jdoe12-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(pod.metadata?.labels).to.include({ 'bespin-job-step': 'stage_data', 'job-name': 'stage-data-42-jdoe12', 'controller-uid': job.metadata?.uid });
    expect(pod.metadata?.ownerReferences?.[0]).to.include({ kind: 'Job', name: 'stage-data-42-jdoe12', uid: job.metadata?.uid });
    expect(pod.spec?.containers[0].image).to.equal('dukegcb/lando-util:0.5.4');
    expect(pod.status?.phase).to.equal('Running');
    const running = await batch.readNamespacedJob({ name: 'stage-data-42-jdoe12', namespace: NAMESPACE });
    expect(running.status?.active).to.equal(1);
  });

  it('pages a list with limit and continue, keeping the first page\'s resourceVersion', async () => {
    const { core } = clients;
    for (const name of ['c', 'a', 'e', 'b', 'd']) await core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name } } });

    const first = await core.listNamespacedConfigMap({ namespace: NAMESPACE, limit: 2 });
    expect(first.items.map((item) => item.metadata?.name)).to.deep.equal(['a', 'b']);
    expect(first.metadata?.remainingItemCount).to.equal(3);
    await core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'f' } } });
    const second = await core.listNamespacedConfigMap({ namespace: NAMESPACE, limit: 2, _continue: first.metadata?._continue });
    const third = await core.listNamespacedConfigMap({ namespace: NAMESPACE, limit: 2, _continue: second.metadata?._continue });
    expect(second.items.map((item) => item.metadata?.name)).to.deep.equal(['c', 'd']);
    expect(third.items.map((item) => item.metadata?.name)).to.deep.equal(['e', 'f']);
    expect(third.metadata?._continue).to.equal(undefined);
    expect(second.metadata?.resourceVersion).to.equal(first.metadata?.resourceVersion);
  });

  it('serves pod logs with tailLines, limitBytes and container, and refuses a container that has not started', async () => {
    const { batch, core } = clients;
    server.controller.holdPodWaiting('stage-data-42-jdoe12', 'ImagePullBackOff', 'Back-off pulling image "dukegcb/lando-util:0.5.4"');
    await batch.createNamespacedJob({ namespace: NAMESPACE, body: jobBody('stage-data-42-jdoe12') });
    await server.settle();
    const [pod] = server.controller.podsOf('stage-data-42-jdoe12');
    const podName = pod.metadata.name;
    const waiting = await apiFailure(core.readNamespacedPodLog({ name: podName, namespace: NAMESPACE }));
    expect(waiting.code).to.equal(400);
    expect(waiting.status.message).to.equal(`container "stage-data-42-jdoe12" in pod "${podName}" is waiting to start: trying and failing to pull image`);

    server.controller.failJob('stage-data-42-jdoe12', 'first\nsecond\nthird\n');
    expect(await core.readNamespacedPodLog({ name: podName, namespace: NAMESPACE })).to.equal('first\nsecond\nthird\n');
    expect(await core.readNamespacedPodLog({ name: podName, namespace: NAMESPACE, tailLines: 2 })).to.equal('second\nthird\n');
    expect(await core.readNamespacedPodLog({ name: podName, namespace: NAMESPACE, limitBytes: 3 })).to.equal('fir');
    expect(await core.readNamespacedPodLog({ name: podName, namespace: NAMESPACE, container: 'stage-data-42-jdoe12', tailLines: 1 })).to.equal('third\n');
    const wrongContainer = await apiFailure(core.readNamespacedPodLog({ name: podName, namespace: NAMESPACE, container: 'sidecar' }));
    expect(wrongContainer.status.message).to.equal(`container sidecar is not valid for pod ${podName}`);
  });

  it('patches pod annotations with a merge patch (kubectl annotate) and with client-node\'s default JSON patch', async () => {
    const { batch, core } = clients;
    await batch.createNamespacedJob({ namespace: NAMESPACE, body: jobBody('record-output-project-42-jdoe12') });
    await server.settle();
    const podName = server.controller.podsOf('record-output-project-42-jdoe12')[0].metadata.name;

    const merged = await core.patchNamespacedPod(
      { name: podName, namespace: NAMESPACE, body: { metadata: { annotations: { project_id: 'p-1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(merged.metadata?.annotations).to.deep.equal({ project_id: 'p-1' });
    const patched = await core.patchNamespacedPod({
      name: podName,
      namespace: NAMESPACE,
      body: [{ op: 'add', path: '/metadata/annotations/readme_file_id', value: 'r-1' }],
    });
    expect(patched.metadata?.annotations).to.deep.equal({ project_id: 'p-1', readme_file_id: 'r-1' });
    expect(Number(patched.metadata?.resourceVersion)).to.be.greaterThan(Number(merged.metadata?.resourceVersion));
    const strategic = await core.patchNamespacedPod(
      { name: podName, namespace: NAMESPACE, body: { metadata: { annotations: { project_id: null } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(strategic.metadata?.annotations).to.deep.equal({ readme_file_id: 'r-1' });
    const unchanged = await core.patchNamespacedPod(
      { name: podName, namespace: NAMESPACE, body: { metadata: { annotations: { readme_file_id: 'r-1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(unchanged.metadata?.resourceVersion).to.equal(strategic.metadata?.resourceVersion);

    const specChange = await apiFailure(core.patchNamespacedPod(
      { name: podName, namespace: NAMESPACE, body: { spec: { restartPolicy: 'Always' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ));
    expect(specChange.code).to.equal(422);
    expect(String(specChange.status.message)).to.contain('spec: Forbidden: pod updates may not change fields other than');
  });

  it('replaces Leases with optimistic concurrency: a stale resourceVersion gets 409 Conflict', async () => {
    const { coordination } = clients;
    const lease = await coordination.createNamespacedLease({
      namespace: NAMESPACE,
      body: { metadata: { name: 'lando-leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new V1MicroTime() } },
    });
    expect(lease.spec?.renewTime).to.match(/\.\d{6}Z$/);
    const renewed = await coordination.replaceNamespacedLease({
      name: 'lando-leader',
      namespace: NAMESPACE,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'a', renewTime: new V1MicroTime() } } as V1Lease,
    });
    expect(renewed.metadata?.resourceVersion).to.not.equal(lease.metadata?.resourceVersion);

    const stale = await apiFailure(coordination.replaceNamespacedLease({
      name: 'lando-leader',
      namespace: NAMESPACE,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } as V1Lease,
    }));
    expect(stale.code).to.equal(409);
    expect(stale.status).to.deep.include({ reason: 'Conflict', code: 409 });
    expect(stale.status.message).to.equal('Operation cannot be fulfilled on leases.coordination.k8s.io "lando-leader": the object has been modified; please apply your changes to the latest version and try again');

    const { metadata: _dropped, ...unversioned } = renewed;
    const noVersion = await apiFailure(coordination.replaceNamespacedLease({
      name: 'lando-leader',
      namespace: NAMESPACE,
      body: { ...unversioned, metadata: { name: 'lando-leader' } } as V1Lease,
    }));
    expect(noVersion.code).to.equal(422);
    expect(noVersion.status.message).to.equal('Lease.coordination.k8s.io "lando-leader" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');

    const createdByPut = await coordination.replaceNamespacedLease({
      name: 'job-42',
      namespace: NAMESPACE,
      body: { metadata: { name: 'job-42' }, spec: { holderIdentity: 'a' } },
    });
    expect(createdByPut.metadata?.uid).to.be.a('string');
  });

  it('lists and deletes Leases and Events, which answer deletes with a Status', async () => {
    const { coordination, core } = clients;
    await coordination.createNamespacedLease({ namespace: NAMESPACE, body: { metadata: { name: 'job-42', labels: { 'bespin-job-id': '42' } }, spec: { holderIdentity: 'a' } } });
    await core.createNamespacedEvent({
      namespace: NAMESPACE,
      body: { metadata: { name: 'job-42.1' }, involvedObject: { kind: 'Lease', name: 'job-42', namespace: NAMESPACE }, reason: 'Acquired', message: 'lease taken', type: 'Normal' },
    });

    const leases = await coordination.listNamespacedLease({ namespace: NAMESPACE, labelSelector: 'bespin-job-id=42' });
    expect(leases.items.map((lease) => lease.spec?.holderIdentity)).to.deep.equal(['a']);
    const events = await core.listNamespacedEvent({ namespace: NAMESPACE, fieldSelector: 'involvedObject.name=job-42,reason=Acquired' });
    expect(events.items.map((event) => event.message)).to.deep.equal(['lease taken']);

    expect((await coordination.deleteNamespacedLease({ name: 'job-42', namespace: NAMESPACE })).status).to.equal('Success');
    expect((await core.deleteNamespacedEvent({ name: 'job-42.1', namespace: NAMESPACE })).status).to.equal('Success');
    expect((await coordination.listNamespacedLease({ namespace: NAMESPACE })).items).to.have.length(0);
  });

  it('rejects a Lease time with milliseconds (a plain Date) with 400, as a real API server does', async () => {
    const failure = await apiFailure(clients.coordination.createNamespacedLease({
      namespace: NAMESPACE,
      body: { metadata: { name: 'lando-leader' }, spec: { holderIdentity: 'a', renewTime: new Date('2024-01-02T03:04:05.678Z') } },
    }));
    expect(failure.code).to.equal(400);
    expect(failure.status.message).to.equal('Lease in version "v1" cannot be handled as a Lease: parsing time "2024-01-02T03:04:05.678Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".678Z" as ".000000"');
  });

  it('filters Events with fieldSelector=involvedObject.name', async () => {
    const { batch, core } = clients;
    server.controller.holdPodUnschedulable('run-workflow-42-jdoe12', '0/3 nodes are available: 3 Insufficient cpu.');
    await batch.createNamespacedJob({ namespace: NAMESPACE, body: jobBody('run-workflow-42-jdoe12') });
    await server.settle();
    const podName = server.controller.podsOf('run-workflow-42-jdoe12')[0].metadata.name;

    const events = await core.listNamespacedEvent({ namespace: NAMESPACE, fieldSelector: `involvedObject.name=${podName}` });
    expect(events.items.map((event) => [event.reason, event.type, event.message])).to.deep.equal([
      ['FailedScheduling', 'Warning', '0/3 nodes are available: 3 Insufficient cpu.'],
    ]);
    const pod = await core.readNamespacedPod({ name: podName, namespace: NAMESPACE });
    expect(pod.status?.conditions?.[0]).to.include({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' });
    const unsupported = await apiFailure(core.listNamespacedEvent({ namespace: NAMESPACE, fieldSelector: 'spec.bogus=1' }));
    expect(unsupported.code).to.equal(400);
    expect(unsupported.status.message).to.equal('field label not supported: spec.bogus');
  });

  it('answers SelfSubjectAccessReviews and enforces the same denials with RBAC 403s', async () => {
    await server.close();
    server = await startServer({ deniedAccess: [{ verb: 'delete', resource: 'persistentvolumeclaims' }] });
    clients = clientsFor(server);
    const review = (verb: string, resource: string) => clients.authorization.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { namespace: NAMESPACE, verb, resource } } },
    });
    expect((await review('create', 'persistentvolumeclaims')).status?.allowed).to.equal(true);
    expect((await review('delete', 'persistentvolumeclaims')).status?.allowed).to.equal(false);

    await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody('job-data-42-jdoe12') });
    const denied = await apiFailure(clients.core.deleteNamespacedPersistentVolumeClaim({ name: 'job-data-42-jdoe12', namespace: NAMESPACE }));
    expect(denied.code).to.equal(403);
    expect(denied.status.message).to.equal(`persistentvolumeclaims "job-data-42-jdoe12" is forbidden: User "system:serviceaccount:${NAMESPACE}:lando" cannot delete resource "persistentvolumeclaims" in API group "" in the namespace "${NAMESPACE}"`);
  });

  it('answers requests without the bearer token with a 401 Status', async () => {
    const response = await http(server, 'GET', `/api/v1/namespaces/${NAMESPACE}/pods`, undefined, { authorization: 'Bearer wrong' });
    expect(response.status).to.equal(401);
    expect(response.json()).to.deep.equal({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  });

  it('records every call with its operation, and fails injected calls', async () => {
    server.failNext('create configmaps', { code: 500, times: 1 });
    const injected = await apiFailure(clients.core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'x' } } }));
    expect(injected.code).to.equal(500);
    await clients.core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'x' } } });
    await clients.core.listNamespacedConfigMap({ namespace: NAMESPACE, labelSelector: 'a=b' });

    expect(server.calls.count('create configmaps')).to.equal(2);
    expect(server.calls.count('list configmaps')).to.equal(1);
    const [failed, created] = server.calls.of('create configmaps');
    expect(failed.status).to.equal(500);
    expect(created).to.deep.include({ method: 'POST', path: `/api/v1/namespaces/${NAMESPACE}/configmaps`, status: 201 });
    expect(created.body).to.deep.include({ metadata: { name: 'x' } });
    expect(created.at).to.be.greaterThan(failed.at);
    expect(server.calls.of('list configmaps')[0].query).to.deep.equal({ labelSelector: 'a=b' });
  });
});
