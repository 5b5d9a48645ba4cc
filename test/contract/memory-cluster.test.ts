import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Container } from 'inversify';
import { MemoryCluster, type MemoryClusterOptions } from '../../src/adapters/memory/memory-cluster.js';
import { FaultPlan } from '../../src/adapters/memory/fault-plan.js';
import type { ClusterObject, JobObject, Labels } from '../../src/domain/cluster-objects.js';
import { AlreadyExistsError, ConflictError, NotFoundError, PermanentError, TransientError } from '../../src/domain/errors.js';
import { CLUSTER, type Cluster, type JobWatchEvent, type WatchHandle } from '../../src/ports/cluster.js';
import { clusterContract, jobSelector, objectsForJob, relabelled, renamed, WatchRecorder } from './cluster.contract.js';

clusterContract('MemoryCluster', async () => {
  const cluster = new MemoryCluster();
  return {
    cluster,
    completeJob: async (name) => cluster.completeJob(name),
    failJob: async (name, log) => cluster.failJob(name, log),
    annotatePod: async (podName, annotations) => cluster.annotatePod(podName, annotations),
    teardown: async () => cluster.reset(),
  };
});

/** A clock the test moves by hand, starting 2019-06-07T12:00:00.250Z. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let current = Date.UTC(2019, 5, 7, 12, 0, 0, 250);
  return { now: () => current, advance: (ms) => (current += ms) };
}

/** Lets queued promise callbacks run (no timing involved: one macrotask turn). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('MemoryCluster simulation and inspection', () => {
  let cluster: MemoryCluster;
  const watches: WatchHandle[] = [];

  function makeCluster(options: MemoryClusterOptions = {}): MemoryCluster {
    cluster = new MemoryCluster(options);
    return cluster;
  }

  async function watch(selector: Labels = { 'bespin-job': 'true' }): Promise<WatchRecorder> {
    const recorder = new WatchRecorder();
    watches.push(await cluster.watchJobs(selector, recorder.listener));
    return recorder;
  }

  function onlyPodName(jobName: string): Promise<string> {
    return cluster.listPods({ 'job-name': jobName }).then((pods) => {
      assert.equal(pods.length, 1);
      return pods[0].name;
    });
  }

  beforeEach(() => makeCluster());

  afterEach(async () => {
    await Promise.all(watches.splice(0).map((handle) => handle.stop()));
    cluster.reset();
  });

  describe('dependency injection', () => {
    it('is resolvable from an inversify container without options', () => {
      const container = new Container();
      container.bind<Cluster>(CLUSTER).to(MemoryCluster);
      assert.ok(container.get<Cluster>(CLUSTER) instanceof MemoryCluster);
    });
  });

  describe('call log and faults', () => {
    it('records every port call in order with its outcome or error', async () => {
      const { pvc, stageJob } = objectsForJob(42);
      await cluster.create(pvc);
      await cluster.create(stageJob);
      await cluster.create(stageJob);
      await assert.rejects(cluster.create(relabelled(pvc, jobSelector(43))), AlreadyExistsError);
      await cluster.list('Job', jobSelector(42));
      await cluster.delete('Job', stageJob.metadata.name);
      await cluster.delete('Job', stageJob.metadata.name);
      await cluster.listEvents(stageJob.metadata.name);
      await assert.rejects(cluster.readPodLog('gone', 10), NotFoundError);

      const summary = cluster.calls.map((call) => [call.verb, call.kind, call.name, call.outcome, call.error?.name]);
      assert.deepEqual(summary, [
        ['create', 'PersistentVolumeClaim', 'job-data-42-jdoe12', 'created', undefined],
        ['create', 'Job', 'stage-data-42-jdoe12', 'created', undefined],
        ['create', 'Job', 'stage-data-42-jdoe12', 'adopted', undefined],
        ['create', 'PersistentVolumeClaim', 'job-data-42-jdoe12', undefined, 'AlreadyExistsError'],
        ['list', 'Job', undefined, undefined, undefined],
        ['delete', 'Job', 'stage-data-42-jdoe12', 'deleted', undefined],
        ['delete', 'Job', 'stage-data-42-jdoe12', 'absent', undefined],
        ['listEvents', undefined, 'stage-data-42-jdoe12', undefined, undefined],
        ['readPodLog', undefined, 'gone', undefined, 'NotFoundError'],
      ]);
      assert.deepEqual(cluster.calls[0].object, pvc);
      assert.deepEqual(cluster.calls[4].selector, jobSelector(42));
    });

    it('fails the calls the fault plan names and stores nothing for them', async () => {
      const faults = new FaultPlan().failNext(1, 'transient', 'create:Job').failNext(1, 'permanent', 'listPods');
      makeCluster({ faults });
      const { configMap, stageJob } = objectsForJob(42);
      await assert.rejects(cluster.create(stageJob), TransientError);
      assert.deepEqual(cluster.names('Job'), []);
      assert.equal(await cluster.create(configMap), 'created');
      assert.equal(await cluster.create(stageJob), 'created');
      await assert.rejects(cluster.listPods({}), PermanentError);
      assert.equal((await cluster.listPods({})).length, 1);
      assert.equal(cluster.calls[0].error?.message, 'injected transient fault in create:Job');
    });

    it('names the watch operation watchJobs for faults', async () => {
      cluster.faults.failNext(1, 'transient', 'watchJobs');
      await assert.rejects(cluster.watchJobs({}, async () => undefined), TransientError);
      assert.deepEqual(cluster.calls.map((call) => call.verb), ['watch']);
    });
  });

  describe('stored objects', () => {
    it('gives each object a uid, a rising resourceVersion and a whole-second creationTimestamp from the clock', async () => {
      const clock = manualClock();
      makeCluster({ now: clock.now });
      const { pvc, configMap } = objectsForJob(42);
      await cluster.create(pvc);
      clock.advance(2000);
      await cluster.create(configMap);
      const claim = cluster.metadataOf('PersistentVolumeClaim', pvc.metadata.name);
      const map = cluster.metadataOf('ConfigMap', configMap.metadata.name);
      assert.ok(claim && map);
      assert.equal(claim.creationTimestamp, '2019-06-07T12:00:00Z');
      assert.equal(map.creationTimestamp, '2019-06-07T12:00:02Z');
      assert.ok(Number(map.resourceVersion) > Number(claim.resourceVersion));
      assert.notEqual(claim.uid, map.uid);
      assert.equal(claim.terminating, false);
    });

    it('leaves an adopted object exactly as it was', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      const before = cluster.metadataOf('Job', stageJob.metadata.name);
      const changed: JobObject = { ...stageJob, template: { ...stageJob.template, container: { ...stageJob.template.container, image: 'other:1' } } };
      assert.equal(await cluster.create(changed), 'adopted');
      assert.deepEqual(cluster.metadataOf('Job', stageJob.metadata.name), before);
      assert.deepEqual(cluster.objects('Job'), [stageJob]);
      assert.equal((await cluster.listPods({ 'job-name': stageJob.metadata.name })).length, 1);
    });

    it('refuses adoption when the stored object carries no job id', async () => {
      const { configMap } = objectsForJob(42);
      await cluster.create(relabelled(configMap, { 'bespin-job': 'true' }));
      await assert.rejects(cluster.create(configMap), (error: unknown) => {
        assert.ok(error instanceof AlreadyExistsError);
        assert.equal(error.message, 'configmaps "stage-data-42-jdoe12" already exists');
        return true;
      });
    });

    it('keeps its own copy of a created object and lists descriptions by kind and name', async () => {
      const { pvc, configMap, stageJob, recordJob } = objectsForJob(42);
      const data: Record<string, string> = { 'stagedata.json': '{}' };
      await cluster.create({ ...configMap, data });
      data['stagedata.json'] = 'changed afterwards';
      await cluster.create(recordJob);
      await cluster.create(stageJob);
      await cluster.create(pvc);
      assert.deepEqual(cluster.objects('ConfigMap'), [{ ...configMap, data: { 'stagedata.json': '{}' } }]);
      assert.deepEqual(cluster.names('Job'), [recordJob.metadata.name, stageJob.metadata.name]);
      assert.deepEqual(cluster.objects('PersistentVolumeClaim'), [pvc]);
      assert.equal(cluster.metadataOf('Job', 'nothing-here'), undefined);
    });
  });

  describe('validation', () => {
    const { pvc, configMap, stageJob } = objectsForJob(42);
    const container = stageJob.template.container;
    const withContainer = (changes: Partial<JobObject['template']['container']>): JobObject => ({
      ...stageJob,
      template: { ...stageJob.template, container: { ...container, ...changes } },
    });
    const withVolumes = (volumes: JobObject['template']['volumes']): JobObject => ({ ...stageJob, template: { ...stageJob.template, volumes } });

    const cases: { readonly title: string; readonly object: ClusterObject; readonly message: string }[] = [
      {
        title: 'an upper-case name',
        object: objectsForJob(42, 'Jane.Doe_2').pvc,
        message: 'PersistentVolumeClaim "job-data-42-Jane.Doe_2" is invalid: metadata.name: Invalid value: "job-data-42-Jane.Doe_2": a lowercase RFC 1123 subdomain',
      },
      {
        title: 'a Job name longer than 63 characters',
        object: renamed(stageJob, `stage-data-42-${'j'.repeat(50)}`),
        message: `metadata.name: Invalid value: "stage-data-42-${'j'.repeat(50)}": must be no more than 63 characters`,
      },
      {
        title: 'a label value with an @',
        object: relabelled(configMap, { 'bespin-job': 'true', 'bespin-job-id': 'jdoe@duke.edu' }),
        message: 'metadata.labels: Invalid value: "jdoe@duke.edu": a valid label must be an empty string',
      },
      {
        title: 'a label key with two slashes',
        object: relabelled(configMap, { 'a/b/c': 'x' }),
        message: 'metadata.labels: Invalid value: "a/b/c": name part must consist of alphanumeric characters',
      },
      {
        title: 'invalid template labels',
        object: { ...stageJob, template: { ...stageJob.template, metadata: { ...stageJob.template.metadata, labels: { step: '-x' } } } },
        message: 'spec.template.metadata.labels: Invalid value: "-x"',
      },
      {
        title: 'a container name that is not a DNS label',
        object: withContainer({ name: 'stage.data' }),
        message: 'spec.template.spec.containers[0].name: Invalid value: "stage.data": a lowercase RFC 1123 label',
      },
      { title: 'an empty image', object: withContainer({ image: '' }), message: 'spec.template.spec.containers[0].image: Required value' },
      {
        title: 'an env var name starting with a digit',
        object: withContainer({ env: [{ name: '1BAD', value: 'x' }] }),
        message: 'spec.template.spec.containers[0].env[0].name: Invalid value: "1BAD"',
      },
      {
        title: 'a negative cpu request',
        object: withContainer({ requests: { cpu: -1, memory: '1Gi' } }),
        message: 'spec.template.spec.containers[0].resources.requests[cpu]: Invalid value: "-1"',
      },
      {
        title: 'a memory request that is no quantity',
        object: withContainer({ requests: { cpu: 1, memory: '1 GB' } }),
        message: 'spec.template.spec.containers[0].resources.requests[memory]: Invalid value: "1 GB": quantities must match',
      },
      {
        title: 'a mount of an unknown volume',
        object: withContainer({ volumeMounts: [{ name: 'nowhere', mountPath: '/x' }] }),
        message: 'spec.template.spec.containers[0].volumeMounts[0].name: Not found: "nowhere"',
      },
      {
        title: 'two mounts at one path',
        object: withContainer({ volumeMounts: [container.volumeMounts[0], { ...container.volumeMounts[1], mountPath: container.volumeMounts[0].mountPath }] }),
        message: 'spec.template.spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/bespin/job-data": must be unique',
      },
      {
        title: 'a duplicate volume name',
        object: withVolumes([...stageJob.template.volumes, stageJob.template.volumes[0]]),
        message: 'spec.template.spec.volumes[3].name: Duplicate value: "job-data-42-jdoe12"',
      },
      {
        title: 'a volume name that is not a DNS label',
        object: withVolumes([{ ...stageJob.template.volumes[0], name: 'Job_Data' }, ...stageJob.template.volumes.slice(1)]),
        message: 'spec.template.spec.volumes[0].name: Invalid value: "Job_Data"',
      },
      {
        title: 'a ConfigMap item path climbing out',
        object: withVolumes([
          stageJob.template.volumes[0],
          { name: 'stage-data-42-jdoe12', source: { type: 'configMap', configMapName: 'stage-data-42-jdoe12', items: [{ key: 'k', path: '../k' }] } },
          stageJob.template.volumes[2],
        ]),
        message: `spec.template.spec.volumes[1].configMap.items[0].path: Invalid value: "../k": must not contain '..'`,
      },
      {
        title: 'an empty claim name',
        object: withVolumes([{ name: 'job-data-42-jdoe12', source: { type: 'pvc', claimName: '', readOnly: false } }, ...stageJob.template.volumes.slice(1)]),
        message: 'spec.template.spec.volumes[0].persistentVolumeClaim.claimName: Required value',
      },
      {
        title: 'a service account name with upper case',
        object: { ...stageJob, template: { ...stageJob.template, serviceAccountName: 'Annotator' } },
        message: 'spec.template.spec.serviceAccountName: Invalid value: "Annotator"',
      },
      {
        title: 'a ConfigMap key with a space',
        object: { ...configMap, data: { 'stage data.json': '{}' } },
        message: 'data[stage data.json]: Invalid value: "stage data.json": a valid config key',
      },
      {
        title: 'a ConfigMap over 1 MiB',
        object: { ...configMap, data: { 'stagedata.json': 'x'.repeat(1024 * 1024) } },
        message: 'data: Too long: must have at most 1048576 bytes',
      },
      {
        title: 'a PVC size with a space',
        object: { ...pvc, storage: '7 Gi' },
        message: 'spec.resources[storage]: Invalid value: "7 Gi": quantities must match',
      },
      { title: 'a PVC of size zero', object: { ...pvc, storage: '0Gi' }, message: 'spec.resources[storage]: Invalid value: "0Gi": must be greater than zero' },
      {
        title: 'an unknown access mode',
        object: { ...pvc, accessModes: ['ReadWriteAll'] },
        message: 'spec.accessModes: Unsupported value: "ReadWriteAll": supported values: "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"',
      },
      { title: 'no access mode', object: { ...pvc, accessModes: [] }, message: 'spec.accessModes: Required value: at least 1 access mode is required' },
    ];

    for (const { title, object, message } of cases) {
      it(`rejects ${title} naming the field`, async () => {
        await assert.rejects(cluster.create(object), (error: unknown) => {
          assert.ok(error instanceof PermanentError, String(error));
          assert.ok(error.message.includes(message), `${error.message}\n  does not include\n${message}`);
          return true;
        });
        assert.deepEqual(cluster.names(object.kind), []);
      });
    }

    it('lists several problems in brackets after the object', async () => {
      await assert.rejects(cluster.create(withContainer({ name: 'Bad', image: '' })), (error: unknown) => {
        assert.ok(error instanceof PermanentError);
        assert.match(error.message, /^Job\.batch "stage-data-42-jdoe12" is invalid: \[spec\.template\.spec\.containers\[0\]\.name: .*, spec\.template\.spec\.containers\[0\]\.image: Required value\]$/);
        return true;
      });
    });

    it('accepts every object lando builds', async () => {
      const objects = objectsForJob(42);
      for (const object of [objects.pvc, objects.configMap, objects.stageJob, objects.recordJob]) assert.equal(await cluster.create(object), 'created');
    });

    it('rejects a selector no API server would accept', async () => {
      await assert.rejects(cluster.list('Job', { 'bespin-job-id': 'a b' }), /labelSelector: Invalid value: "a b"/);
      await assert.rejects(cluster.listPods({ 'job name': 'x' }), PermanentError);
    });
  });

  describe('Job lifecycle', () => {
    it('names pods like generateName does, truncating a long Job name to 58 characters', async () => {
      const { stageJob } = objectsForJob(42);
      const longName = `stage-data-42-${'u'.repeat(49)}`;
      await cluster.create(stageJob);
      await cluster.create(renamed({ ...stageJob, template: { ...stageJob.template, container: { ...stageJob.template.container, name: longName } } }, longName));
      assert.match(await onlyPodName(stageJob.metadata.name), /^stage-data-42-jdoe12-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      const longPod = await onlyPodName(longName);
      assert.equal(longPod.length, 63);
      assert.ok(longPod.startsWith(longName.slice(0, 58)));
    });

    it('labels the pod with the controller uid and starts it Running and scheduled', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      const [pod] = await cluster.listPods({ 'job-name': stageJob.metadata.name });
      const uid = cluster.metadataOf('Job', stageJob.metadata.name)?.uid;
      assert.equal(pod.labels['controller-uid'], uid);
      assert.equal(pod.labels['batch.kubernetes.io/job-name'], stageJob.metadata.name);
      assert.equal(pod.phase, 'Running');
      assert.deepEqual(pod.waiting, []);
      assert.equal(pod.scheduled?.status, 'True');
      assert.deepEqual(pod.annotations, {});
    });

    it('reports creation as ADDED then a MODIFIED without conditions, and records SuccessfulCreate', async () => {
      const recorder = await watch();
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      await cluster.settled();
      assert.deepEqual(recorder.summary(), ['ADDED stage-data-42-jdoe12 []', 'MODIFIED stage-data-42-jdoe12 []']);
      assert.deepEqual(recorder.events[1].job.conditions, []);
      const pod = await onlyPodName(stageJob.metadata.name);
      assert.deepEqual(
        (await cluster.listEvents(stageJob.metadata.name)).map((event) => [event.type, event.reason, event.message]),
        [['Normal', 'SuccessfulCreate', `Created pod: ${pod}`]],
      );
    });

    it('completes a Job: pod Succeeded, Complete=True, event Completed', async () => {
      const clock = manualClock();
      makeCluster({ now: clock.now });
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      clock.advance(7000);
      cluster.completeJob(stageJob.metadata.name);
      const [pod] = await cluster.listPods({ 'job-name': stageJob.metadata.name });
      assert.equal(pod.phase, 'Succeeded');
      assert.deepEqual(cluster.jobStatus(stageJob.metadata.name)?.conditions, [{ type: 'Complete', status: 'True' }]);
      assert.deepEqual((await cluster.listEvents(stageJob.metadata.name)).at(-1), {
        type: 'Normal',
        reason: 'Completed',
        message: 'Job completed',
        lastTimestamp: '2019-06-07T12:00:07Z',
      });
    });

    it('fails a Job the way the controller does after its back-off limit', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      cluster.failJob(stageJob.metadata.name, 'boom');
      const [pod] = await cluster.listPods({ 'job-name': stageJob.metadata.name });
      assert.equal(pod.phase, 'Failed');
      assert.equal(await cluster.readPodLog(pod.name, 100), 'boom');
      assert.deepEqual(cluster.jobStatus(stageJob.metadata.name)?.conditions, [
        { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
      ]);
      assert.equal((await cluster.listEvents(stageJob.metadata.name)).at(-1)?.type, 'Warning');
    });

    it('refuses to end a Job twice or one that does not exist', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      cluster.completeJob(stageJob.metadata.name);
      assert.throws(() => cluster.failJob(stageJob.metadata.name, 'late'), PermanentError);
      assert.throws(() => cluster.completeJob('stage-data-43-jdoe12'), NotFoundError);
      assert.throws(() => cluster.annotatePod('stage-data-43-jdoe12-abcde', { a: 'b' }), NotFoundError);
      assert.equal(cluster.jobStatus('stage-data-43-jdoe12'), undefined);
    });

    it('holds a pod waiting on its container (ImagePullBackOff) without ending the Job (W10)', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      cluster.holdPodWaiting(stageJob.metadata.name, 'ImagePullBackOff', 'Back-off pulling image "dukegcb/lando-util:0.5.4"');
      const [pod] = await cluster.listPods({ 'job-name': stageJob.metadata.name });
      assert.equal(pod.phase, 'Pending');
      assert.deepEqual(pod.waiting, [{ container: stageJob.template.container.name, reason: 'ImagePullBackOff', message: 'Back-off pulling image "dukegcb/lando-util:0.5.4"' }]);
      assert.equal(pod.scheduled?.status, 'True');
      assert.deepEqual(cluster.jobStatus(stageJob.metadata.name)?.conditions, []);
      assert.deepEqual(
        (await cluster.listEvents(pod.name)).map((event) => [event.type, event.reason, event.message]),
        [['Warning', 'Failed', 'Error: Back-off pulling image "dukegcb/lando-util:0.5.4"']],
      );
    });

    it('reports a waiting reason without a message as just the reason', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      cluster.holdPodWaiting(stageJob.metadata.name, 'CreateContainerConfigError');
      const [pod] = await cluster.listPods({ 'job-name': stageJob.metadata.name });
      assert.deepEqual(pod.waiting, [{ container: stageJob.template.container.name, reason: 'CreateContainerConfigError' }]);
    });

    it('holds a pod the scheduler cannot place (W10)', async () => {
      const clock = manualClock();
      makeCluster({ now: clock.now });
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      clock.advance(5000);
      const message = '0/3 nodes are available: 3 Insufficient cpu.';
      cluster.holdPodUnschedulable(stageJob.metadata.name, message);
      const [pod] = await cluster.listPods({ 'job-name': stageJob.metadata.name });
      assert.equal(pod.phase, 'Pending');
      assert.deepEqual(pod.scheduled, { status: 'False', reason: 'Unschedulable', message, since: '2019-06-07T12:00:05Z' });
      assert.deepEqual((await cluster.listEvents(pod.name)).map((event) => event.reason), ['FailedScheduling']);
    });

    it('adds a retry pod after failing the current attempt (W11, W12)', async () => {
      const clock = manualClock();
      makeCluster({ now: clock.now });
      const { recordJob } = objectsForJob(42);
      await cluster.create(recordJob);
      const first = await onlyPodName(recordJob.metadata.name);
      clock.advance(10_000);
      const second = cluster.addPod(recordJob.metadata.name);
      const pods = await cluster.listPods(recordJob.template.metadata.labels);
      const byName = new Map(pods.map((pod) => [pod.name, pod]));
      assert.equal(pods.length, 2);
      assert.equal(byName.get(first)?.phase, 'Failed');
      assert.equal(byName.get(second)?.phase, 'Running');
      assert.equal(byName.get(second)?.labels['job-name'], recordJob.metadata.name);
      assert.ok((byName.get(first)?.creationTimestamp ?? '') < (byName.get(second)?.creationTimestamp ?? ''));
      cluster.failJob(recordJob.metadata.name, 'second attempt failed');
      assert.equal(await cluster.readPodLog(second, 1000), 'second attempt failed');
      assert.equal(await cluster.readPodLog(first, 1000), '');
      await cluster.delete('Job', recordJob.metadata.name);
      assert.deepEqual(await cluster.listPods({}), []);
    });

    it('keeps the pods of other Jobs when one Job is deleted', async () => {
      const { stageJob, recordJob } = objectsForJob(42);
      await cluster.create(stageJob);
      await cluster.create(recordJob);
      await cluster.delete('Job', stageJob.metadata.name);
      assert.deepEqual((await cluster.listPods({})).map((pod) => pod.labels['job-name']), [recordJob.metadata.name]);
    });
  });

  describe('pod logs and events', () => {
    it('returns the longest UTF-8-safe tail within maxBytes for any log', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      const pod = await onlyPodName(stageJob.metadata.name);
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.nat({ max: 200 }), async (log, maxBytes) => {
          cluster.setPodLog(pod, log);
          const tail = await cluster.readPodLog(pod, maxBytes);
          const characters = [...log];
          const tailLength = [...tail].length;
          assert.equal(tail, characters.slice(characters.length - tailLength).join(''));
          assert.ok(Buffer.byteLength(tail) <= maxBytes);
          if (tailLength < characters.length) assert.ok(Buffer.byteLength(characters.slice(-(tailLength + 1)).join('')) > maxBytes);
        }),
      );
    });

    it('replaces bytes that are not UTF-8 and keeps a byte order mark', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      const pod = await onlyPodName(stageJob.metadata.name);
      cluster.setPodLog(pod, Uint8Array.from([0xef, 0xbb, 0xbf, 0x6f, 0x6b, 0xff, 0x21]));
      assert.equal(await cluster.readPodLog(pod, 100), '\ufeffok\ufffd!');
    });

    it('refuses a maxBytes that is not a non-negative integer', async () => {
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      const pod = await onlyPodName(stageJob.metadata.name);
      await assert.rejects(cluster.readPodLog(pod, -1), /maxBytes must be a non-negative integer, got -1/);
      await assert.rejects(cluster.readPodLog(pod, 1.5), PermanentError);
    });

    it('lists recorded events of one object, oldest first', async () => {
      cluster.recordEvent('run-workflow-42-jdoe12-abcde', 'Scheduled', 'Successfully assigned', 'Normal');
      cluster.recordEvent('other', 'Pulled', 'Container image already present');
      cluster.recordEvent('run-workflow-42-jdoe12-abcde', 'BackOff', 'Back-off pulling image', 'Warning');
      assert.deepEqual(
        (await cluster.listEvents('run-workflow-42-jdoe12-abcde')).map((event) => `${event.type} ${event.reason}`),
        ['Normal Scheduled', 'Warning BackOff'],
      );
      assert.equal((await cluster.listEvents('other'))[0].type, 'Normal');
    });
  });

  describe('asynchronous PVC deletion (W14)', () => {
    it('keeps a deleted claim Terminating, blocking its name, until the finalizers finish', async () => {
      makeCluster({ deletePvcAsync: true });
      const { pvc, configMap } = objectsForJob(42);
      await cluster.create(pvc);
      await cluster.create(configMap);
      assert.equal(await cluster.delete('PersistentVolumeClaim', pvc.metadata.name), 'deleted');
      assert.equal(await cluster.delete('ConfigMap', configMap.metadata.name), 'deleted');
      assert.deepEqual(cluster.names('ConfigMap'), []);
      assert.equal(cluster.metadataOf('PersistentVolumeClaim', pvc.metadata.name)?.terminating, true);
      assert.deepEqual((await cluster.list('PersistentVolumeClaim', jobSelector(42))).map((ref) => ref.name), [pvc.metadata.name]);
      await assert.rejects(cluster.create(pvc), (error: unknown) => {
        assert.ok(error instanceof ConflictError, 'retryable, as the Kubernetes adapter reports it');
        assert.equal(error.message, 'create PersistentVolumeClaim job-data-42-jdoe12: PersistentVolumeClaim job-data-42-jdoe12 is still terminating');
        return true;
      });
      assert.equal(await cluster.delete('PersistentVolumeClaim', pvc.metadata.name), 'deleted');
      cluster.finishTerminations();
      assert.deepEqual(cluster.names('PersistentVolumeClaim'), []);
      assert.equal(await cluster.create(pvc), 'created');
    });
  });

  describe('automatic completion (sandbox)', () => {
    it('completes or fails every created Job by itself', async () => {
      const fail = (job: JobObject): string | undefined =>
        job.metadata.labels['bespin-job-step'] === 'record_output_project' ? 'kubectl: forbidden' : undefined;
      makeCluster({ autoComplete: { afterMs: 0, fail } });
      const recorder = await watch();
      const { stageJob, recordJob } = objectsForJob(42);
      await cluster.create(stageJob);
      await cluster.create(recordJob);
      await recorder.waitFor('stage Complete', (event) => event.job.name === stageJob.metadata.name && event.job.conditions.some((c) => c.type === 'Complete'));
      await recorder.waitFor('record Failed', (event) => event.job.name === recordJob.metadata.name && event.job.conditions.some((c) => c.type === 'Failed'));
      assert.equal(await cluster.readPodLog(await onlyPodName(recordJob.metadata.name), 1000), 'kubectl: forbidden');
    });

    it('leaves held pods and deleted Jobs alone', async () => {
      makeCluster({ autoComplete: { afterMs: 0 } });
      const recorder = await watch();
      const first = objectsForJob(42);
      const second = objectsForJob(43);
      await cluster.create(first.stageJob);
      cluster.holdPodWaiting(first.stageJob.metadata.name, 'ErrImagePull');
      await cluster.create(first.recordJob);
      await cluster.delete('Job', first.recordJob.metadata.name);
      await cluster.create(second.stageJob);
      // Equal delays fire in creation order, so once the last Job completed the others' timers ran.
      await recorder.waitFor('last Job Complete', (event) => event.job.name === second.stageJob.metadata.name && event.job.conditions.length > 0);
      assert.deepEqual(cluster.jobStatus(first.stageJob.metadata.name)?.conditions, []);
      assert.equal(cluster.jobStatus(first.recordJob.metadata.name), undefined);
    });

    it('cancels pending completions on reset', async () => {
      makeCluster({ autoComplete: { afterMs: 0 } });
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      cluster.reset();
      await cluster.create(stageJob);
      cluster.holdPodUnschedulable(stageJob.metadata.name, 'no nodes');
      const recorder = await watch();
      await cluster.create(objectsForJob(43).stageJob);
      await recorder.waitFor('other Job Complete', (event) => event.job.name === 'stage-data-43-jdoe12' && event.job.conditions.length > 0);
      assert.deepEqual(cluster.jobStatus(stageJob.metadata.name)?.conditions, []);
    });
  });

  describe('watches', () => {
    it('delivers events one at a time, each after the listener finished the previous one', async () => {
      const log: string[] = [];
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      watches.push(
        await cluster.watchJobs({}, async (event) => {
          log.push(`start ${event.type}`);
          if (event.type === 'ADDED') await gate;
          log.push(`end ${event.type}`);
        }),
      );
      await cluster.create(objectsForJob(42).stageJob);
      await turn();
      assert.deepEqual(log, ['start ADDED']);
      release();
      await cluster.settled();
      assert.deepEqual(log, ['start ADDED', 'end ADDED', 'start MODIFIED', 'end MODIFIED']);
    });

    it('counts listener failures and keeps delivering', async () => {
      const seen: string[] = [];
      watches.push(
        await cluster.watchJobs({}, async (event) => {
          seen.push(event.type);
          if (event.type === 'ADDED') throw new Error('broker unreachable');
        }),
      );
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      cluster.completeJob(stageJob.metadata.name);
      await cluster.settled();
      assert.deepEqual(seen, ['ADDED', 'MODIFIED', 'MODIFIED']);
      assert.equal(cluster.listenerErrors.length, 1);
      assert.equal((cluster.listenerErrors[0] as Error).message, 'broker unreachable');
    });

    it('replays the current Jobs as ADDED on restartWatches, finished ones with their conditions', async () => {
      const { stageJob, recordJob } = objectsForJob(42);
      await cluster.create(stageJob);
      await cluster.create(recordJob);
      cluster.completeJob(stageJob.metadata.name);
      const recorder = await watch(jobSelector(42));
      const unrelated = await watch(jobSelector(43));
      await cluster.settled();
      cluster.restartWatches();
      await cluster.settled();
      const initial = ['ADDED record-output-project-42-jdoe12 []', 'ADDED stage-data-42-jdoe12 [Complete]'];
      assert.deepEqual(recorder.summary(), [...initial, ...initial]);
      assert.deepEqual(unrelated.events, []);
    });

    it('lets a listener stop its own watch', async () => {
      const seen: JobWatchEvent[] = [];
      let handle: WatchHandle | undefined;
      handle = await cluster.watchJobs({}, async (event) => {
        seen.push(event);
        await handle?.stop();
      });
      watches.push(handle);
      const { stageJob } = objectsForJob(42);
      await cluster.create(stageJob);
      cluster.completeJob(stageJob.metadata.name);
      // settled() no longer follows the stopped watch; one turn lets anything it still queued run.
      await turn();
      assert.deepEqual(seen.map((event) => event.type), ['ADDED']);
    });

    it('stops every watch on reset', async () => {
      const recorder = await watch();
      cluster.reset();
      await cluster.create(objectsForJob(42).stageJob);
      await cluster.settled();
      assert.deepEqual(recorder.events, []);
      assert.deepEqual(cluster.calls.map((call) => call.verb), ['create']);
    });
  });
});
