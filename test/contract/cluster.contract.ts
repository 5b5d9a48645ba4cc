import assert from 'node:assert/strict';
import type {
  ClusterObject,
  ConfigMapObject,
  JobObject,
  Labels,
  ObjectKind,
  PodView,
  PvcObject,
} from '../../src/domain/cluster-objects.js';
import { AlreadyExistsError, NotFoundError, PermanentError } from '../../src/domain/errors.js';
import type { Cluster, JobWatchEvent, JobWatchListener, WatchHandle } from '../../src/ports/cluster.js';

/**
 * What every Cluster adapter must do, stated through the port alone plus the few controls a
 * test needs to play the Job controller's and the containers' part.
 */
export interface ClusterContractHarness {
  readonly cluster: Cluster;
  /** The Job's pod succeeds; the Job gets Complete=True. */
  completeJob(name: string): Promise<void>;
  /** The Job's pod fails with this log; the Job gets Failed=True. */
  failJob(name: string, log: string): Promise<void>;
  /** What `kubectl annotate pod` does. */
  annotatePod(podName: string, annotations: Readonly<Record<string, string>>): Promise<void>;
  teardown(): Promise<void>;
}

const OBJECT_KINDS: readonly ObjectKind[] = ['PersistentVolumeClaim', 'ConfigMap', 'Job'];

/** How long a test waits for a watch event before failing with what it saw instead. */
const WATCH_WAIT_LIMIT_MS = 5000;

export function jobSelector(jobId: number): Labels {
  return { 'bespin-job': 'true', 'bespin-job-id': String(jobId) };
}

/**
 * Objects shaped as lando creates them for one bespin job (kubernetes.md §5–7): the stage
 * data claim, the stage ConfigMap, and the stage and record Jobs.
 */
export function objectsForJob(jobId: number, username = 'jdoe12') {
  const suffix = `${jobId}-${username}`;
  const labels = jobSelector(jobId);
  const jobData = `job-data-${suffix}`;
  const stageData = `stage-data-${suffix}`;
  const outputData = `output-data-${suffix}`;
  const record = `record-output-project-${suffix}`;

  const pvc: PvcObject = {
    kind: 'PersistentVolumeClaim',
    metadata: { name: jobData, labels },
    accessModes: ['ReadWriteMany'],
    storage: '7Gi',
    storageClassName: 'glusterfs-storage',
  };
  const configMap: ConfigMapObject = {
    kind: 'ConfigMap',
    metadata: { name: stageData, labels },
    data: {
      'stagedata.json':
        '{"items": [{"type": "url", "source": "https://example.org/workflows/someurl.cwl", "dest": "/bespin/job-data/workflow/someurl.cwl"}]}',
    },
  };
  const stageLabels = { ...labels, 'bespin-job-step': 'stage_data' };
  const stageJob: JobObject = {
    kind: 'Job',
    metadata: { name: stageData, labels: stageLabels },
    template: {
      metadata: { name: `${stageData}spec`, labels: stageLabels },
      container: {
        name: stageData,
        image: 'dukegcb/lando-util:0.5.4',
        command: ['python', '-m', 'lando_util.stagedata'],
        args: ['/bespin/config/stagedata.json', '/bespin/job-data/workflow-input-files-metadata.json'],
        env: [{ name: 'DDSCLIENT_CONF', value: '/etc/ddsclient/config' }],
        requests: { cpu: 1, memory: '1Gi' },
        volumeMounts: [
          { name: jobData, mountPath: '/bespin/job-data' },
          { name: stageData, mountPath: '/bespin/config' },
          { name: `data-store-${suffix}`, mountPath: '/etc/ddsclient' },
        ],
      },
      volumes: [
        { name: jobData, source: { type: 'pvc', claimName: jobData, readOnly: false } },
        { name: stageData, source: { type: 'configMap', configMapName: stageData, items: [{ key: 'stagedata.json', path: 'stagedata.json' }] } },
        { name: `data-store-${suffix}`, source: { type: 'secret', secretName: 'ddsclient-agent' } },
      ],
    },
  };
  const recordLabels = { ...labels, 'bespin-job-step': 'record_output_project' };
  const recordJob: JobObject = {
    kind: 'Job',
    metadata: { name: record, labels: recordLabels },
    template: {
      metadata: { name: `${record}spec`, labels: recordLabels },
      container: {
        name: record,
        image: 'dukegcb/lando-util:0.5.4',
        command: ['sh'],
        args: ['/bespin/output-data/annotate_project_details.sh'],
        workingDir: '/bespin/output-data/results',
        env: [{ name: 'MY_POD_NAME', fieldPath: 'metadata.name' }],
        requests: { cpu: 1, memory: '1Gi' },
        volumeMounts: [{ name: outputData, mountPath: '/bespin/output-data' }],
      },
      volumes: [{ name: outputData, source: { type: 'pvc', claimName: outputData, readOnly: true } }],
      serviceAccountName: 'annotate-uploaded-project',
    },
  };
  const byKind: Readonly<Record<ObjectKind, ClusterObject>> = { PersistentVolumeClaim: pvc, ConfigMap: configMap, Job: stageJob };
  return { pvc, configMap, stageJob, recordJob, byKind };
}

/** The same object under another name; nothing else changes (a Job's container keeps its name). */
export function renamed<T extends ClusterObject>(object: T, name: string): T {
  return { ...object, metadata: { ...object.metadata, name } };
}

/** The same object claimed by another bespin job. */
export function relabelled<T extends ClusterObject>(object: T, labels: Labels): T {
  return { ...object, metadata: { ...object.metadata, labels } };
}

function hasCondition(event: JobWatchEvent, type: string): boolean {
  return event.job.conditions.some((condition) => condition.type === type && condition.status === 'True');
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

interface Waiter {
  readonly predicate: (event: JobWatchEvent) => boolean;
  readonly resolve: (event: JobWatchEvent) => void;
}

/** Collects a watch's events and lets a test wait for one without sleeping. */
export class WatchRecorder {
  readonly events: JobWatchEvent[] = [];
  private readonly waiters = new Set<Waiter>();

  readonly listener: JobWatchListener = async (event) => {
    this.events.push(event);
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate(event)) waiter.resolve(event);
    }
  };

  waitFor(description: string, predicate: (event: JobWatchEvent) => boolean): Promise<JobWatchEvent> {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (event) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(event);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no watch event ${description} within ${WATCH_WAIT_LIMIT_MS} ms; saw ${this.summary()}`));
      }, WATCH_WAIT_LIMIT_MS);
      this.waiters.add(waiter);
    });
  }

  /** `ADDED stage-data-1-jdoe12 []`-style lines, for assertions and failure messages. */
  summary(): string[] {
    return this.events.map((event) => {
      const conditions = event.job.conditions.filter((condition) => condition.status === 'True').map((condition) => condition.type);
      return `${event.type} ${event.job.name} [${conditions.join(',')}]`;
    });
  }
}

export function clusterContract(adapterName: string, setup: () => Promise<ClusterContractHarness>): void {
  describe(`Cluster contract: ${adapterName}`, () => {
    let harness: ClusterContractHarness;
    let cluster: Cluster;
    let watches: WatchHandle[];

    beforeEach(async () => {
      harness = await setup();
      cluster = harness.cluster;
      watches = [];
    });

    afterEach(async () => {
      try {
        await Promise.all(watches.map((watch) => watch.stop()));
      } finally {
        await harness.teardown();
      }
    });

    async function watch(selector: Labels): Promise<WatchRecorder> {
      const recorder = new WatchRecorder();
      watches.push(await cluster.watchJobs(selector, recorder.listener));
      return recorder;
    }

    async function onlyPodOf(jobName: string): Promise<PodView> {
      const pods = await cluster.listPods({ 'job-name': jobName });
      assert.equal(pods.length, 1, `expected one pod for Job ${jobName}, got ${pods.map((pod) => pod.name).join(', ')}`);
      return pods[0];
    }

    for (const kind of OBJECT_KINDS) {
      describe(kind, () => {
        it('is created and listed by its own job selector only', async () => {
          const object = objectsForJob(11).byKind[kind];
          assert.equal(await cluster.create(object), 'created');
          const expected = [{ kind, name: object.metadata.name, labels: object.metadata.labels }];
          assert.deepEqual(await cluster.list(kind, jobSelector(11)), expected);
          assert.deepEqual(await cluster.list(kind, { 'bespin-job': 'true' }), expected);
          assert.deepEqual(await cluster.list(kind, jobSelector(12)), []);
          assert.deepEqual(await cluster.list(kind, { ...jobSelector(11), 'bespin-job-step': 'no_such_step' }), []);
        });

        it('is adopted when created again for the same job', async () => {
          const object = objectsForJob(13).byKind[kind];
          assert.equal(await cluster.create(object), 'created');
          assert.equal(await cluster.create(object), 'adopted');
          assert.equal((await cluster.list(kind, jobSelector(13))).length, 1);
        });

        it('refuses a name another job holds with AlreadyExistsError', async () => {
          const object = objectsForJob(14).byKind[kind];
          await cluster.create(object);
          const intruder = relabelled(object, { ...object.metadata.labels, 'bespin-job-id': '15' });
          await assert.rejects(cluster.create(intruder), AlreadyExistsError);
          assert.deepEqual((await cluster.list(kind, jobSelector(14))).map((ref) => ref.name), [object.metadata.name]);
          assert.deepEqual(await cluster.list(kind, jobSelector(15)), []);
        });

        it('is deleted once, then reported absent', async () => {
          const object = objectsForJob(16).byKind[kind];
          await cluster.create(object);
          assert.equal(await cluster.delete(kind, object.metadata.name), 'deleted');
          assert.deepEqual(await cluster.list(kind, jobSelector(16)), []);
          assert.equal(await cluster.delete(kind, object.metadata.name), 'absent');
        });

        it('rejects a name that is not a DNS-1123 subdomain with PermanentError (W8)', async () => {
          const object = objectsForJob(17, 'Jane.Doe_2').byKind[kind];
          await assert.rejects(cluster.create(object), PermanentError);
          assert.deepEqual(await cluster.list(kind, jobSelector(17)), []);
        });

        it('rejects an invalid label value with PermanentError', async () => {
          const object = objectsForJob(18).byKind[kind];
          await assert.rejects(cluster.create(relabelled(object, { ...object.metadata.labels, 'bespin-job-step': 'not a label!' })), PermanentError);
          assert.deepEqual(await cluster.list(kind, jobSelector(18)), []);
        });
      });
    }

    it('rejects a Job name longer than 63 characters with PermanentError', async () => {
      const { stageJob } = objectsForJob(19);
      await assert.rejects(cluster.create(renamed(stageJob, `stage-data-19-${'a'.repeat(50)}`)), PermanentError);
      assert.deepEqual(await cluster.list('Job', jobSelector(19)), []);
    });

    it('runs a created Job in a pod carrying the template labels and job-name', async () => {
      const { stageJob } = objectsForJob(21);
      await cluster.create(stageJob);
      const pod = await onlyPodOf(stageJob.metadata.name);
      assert.ok(pod.name.startsWith(`${stageJob.metadata.name}-`), `pod name ${pod.name}`);
      for (const [key, value] of Object.entries(stageJob.template.metadata.labels)) assert.equal(pod.labels[key], value, `pod label ${key}`);
      assert.equal(pod.labels['job-name'], stageJob.metadata.name);
      assert.ok(['Pending', 'Running'].includes(pod.phase), `phase ${pod.phase}`);
      assert.deepEqual((await cluster.listPods(stageJob.template.metadata.labels)).map((listed) => listed.name), [pod.name]);
      assert.deepEqual(await cluster.listPods({ ...jobSelector(21), 'bespin-job-step': 'record_output_project' }), []);
    });

    it('removes the pods of a deleted Job', async () => {
      const { stageJob } = objectsForJob(22);
      await cluster.create(stageJob);
      await onlyPodOf(stageJob.metadata.name);
      await cluster.delete('Job', stageJob.metadata.name);
      assert.deepEqual(await cluster.listPods({ 'job-name': stageJob.metadata.name }), []);
    });

    it('shows pod annotations through listPods', async () => {
      const { recordJob } = objectsForJob(23);
      await cluster.create(recordJob);
      const pod = await onlyPodOf(recordJob.metadata.name);
      const annotations = { project_id: '4c1f3a52-1a9e-4f0a-9f07-2d0f8c1b7e11', readme_file_id: '7e2b9d14-5c3a-4b8e-a1f0-3d6c9e8b2a47' };
      await harness.annotatePod(pod.name, annotations);
      const [listed] = await cluster.listPods(recordJob.template.metadata.labels);
      assert.equal(listed.annotations.project_id, annotations.project_id);
      assert.equal(listed.annotations.readme_file_id, annotations.readme_file_id);
    });

    it('reports a completed Job to a watch as MODIFIED with Complete=True', async () => {
      const recorder = await watch(jobSelector(24));
      const { stageJob } = objectsForJob(24);
      await cluster.create(stageJob);
      const added = await recorder.waitFor('ADDED for the new Job', (event) => event.type === 'ADDED' && event.job.name === stageJob.metadata.name);
      assert.deepEqual(added.job.conditions.filter((condition) => condition.status === 'True'), []);
      assert.equal(added.job.labels['bespin-job-step'], 'stage_data');
      await harness.completeJob(stageJob.metadata.name);
      const completed = await recorder.waitFor('MODIFIED with Complete=True', (event) => event.type === 'MODIFIED' && hasCondition(event, 'Complete'));
      assert.equal(completed.job.name, stageJob.metadata.name);
      assert.equal(completed.job.uid, added.job.uid);
      assert.equal(hasCondition(completed, 'Failed'), false);
    });

    it('reports a failed Job as Failed=True and serves its pod log', async () => {
      const recorder = await watch(jobSelector(25));
      const { stageJob } = objectsForJob(25);
      await cluster.create(stageJob);
      const log = 'Downloading workflow\nTraceback (most recent call last):\nValueError: input file missing\n';
      await harness.failJob(stageJob.metadata.name, log);
      const failed = await recorder.waitFor('MODIFIED with Failed=True', (event) => event.type === 'MODIFIED' && hasCondition(event, 'Failed'));
      assert.equal(hasCondition(failed, 'Complete'), false);
      const pod = await onlyPodOf(stageJob.metadata.name);
      assert.equal(await cluster.readPodLog(pod.name, 1024 * 1024), log);
      assert.equal(await cluster.readPodLog(pod.name, 31), 'ValueError: input file missing\n');
    });

    it('annotates a Job for the watch to see, and reports a missing Job absent', async () => {
      const recorder = await watch(jobSelector(29));
      const { stageJob } = objectsForJob(29);
      await cluster.create(stageJob);
      assert.equal(await cluster.annotateJob(stageJob.metadata.name, { 'bespin-job/error-recorded': 'true' }), 'annotated');
      const annotated = await recorder.waitFor('MODIFIED with the annotation', (event) => event.job.annotations?.['bespin-job/error-recorded'] === 'true');
      assert.equal(annotated.job.name, stageJob.metadata.name);
      assert.equal(await cluster.annotateJob('stage-data-404-nobody', { 'bespin-job/error-recorded': 'true' }), 'absent');
    });

    it('caps a pod log to its last bytes without splitting a character', async () => {
      const { stageJob } = objectsForJob(26);
      await cluster.create(stageJob);
      const log = 'résumé — fertig ✓ 𝄞';
      await harness.failJob(stageJob.metadata.name, log);
      const pod = await onlyPodOf(stageJob.metadata.name);
      for (let maxBytes = 0; maxBytes <= utf8Length(log) + 1; maxBytes++) {
        const tail = await cluster.readPodLog(pod.name, maxBytes);
        assert.ok(log.endsWith(tail), `${maxBytes} bytes: ${JSON.stringify(tail)} is not a tail of the log`);
        assert.ok(utf8Length(tail) <= maxBytes, `${maxBytes} bytes: got ${utf8Length(tail)}`);
        const longer = [...log].slice(-([...tail].length + 1)).join('');
        if (longer !== tail) assert.ok(utf8Length(longer) > maxBytes, `${maxBytes} bytes: ${JSON.stringify(tail)} dropped a whole character`);
      }
    });

    it('reports a missing pod log as NotFoundError', async () => {
      await assert.rejects(cluster.readPodLog('stage-data-27-jdoe12-zzzzz', 1024), NotFoundError);
    });

    it('lists no events for an object nobody created', async () => {
      assert.deepEqual(await cluster.listEvents('stage-data-28-jdoe12'), []);
    });

    it('starts a watch with ADDED for the existing matching Jobs, then follows new ones only if they match', async () => {
      const mine = objectsForJob(31);
      const other = objectsForJob(32);
      await cluster.create(mine.stageJob);
      await cluster.create(other.stageJob);
      const recorder = await watch(jobSelector(31));
      await recorder.waitFor('ADDED for the existing Job', (event) => event.type === 'ADDED' && event.job.name === mine.stageJob.metadata.name);
      assert.deepEqual(recorder.summary()[0], `ADDED ${mine.stageJob.metadata.name} []`);
      await cluster.create(other.recordJob);
      await cluster.create(mine.recordJob);
      await recorder.waitFor('ADDED for the new Job', (event) => event.type === 'ADDED' && event.job.name === mine.recordJob.metadata.name);
      const names = new Set(recorder.events.map((event) => event.job.name));
      assert.deepEqual([...names].sort(), [mine.recordJob.metadata.name, mine.stageJob.metadata.name]);
      for (const event of recorder.events) assert.equal(event.job.labels['bespin-job-id'], '31');
    });

    it('reports a deleted Job to a watch as DELETED', async () => {
      const recorder = await watch(jobSelector(33));
      const { stageJob } = objectsForJob(33);
      await cluster.create(stageJob);
      await recorder.waitFor('ADDED', (event) => event.type === 'ADDED');
      await cluster.delete('Job', stageJob.metadata.name);
      const deleted = await recorder.waitFor('DELETED', (event) => event.type === 'DELETED');
      assert.equal(deleted.job.name, stageJob.metadata.name);
    });

    it('delivers nothing more after stop()', async () => {
      const { stageJob } = objectsForJob(34);
      await cluster.create(stageJob);
      const stopped = new WatchRecorder();
      const stoppedHandle = await cluster.watchJobs(jobSelector(34), stopped.listener);
      watches.push(stoppedHandle);
      const sentinel = await watch(jobSelector(34));
      await stopped.waitFor('initial ADDED', (event) => event.type === 'ADDED');
      await sentinel.waitFor('initial ADDED', (event) => event.type === 'ADDED');
      await stoppedHandle.stop();
      const seenBeforeStop = stopped.summary();
      await harness.completeJob(stageJob.metadata.name);
      await sentinel.waitFor('Complete on the live watch', (event) => hasCondition(event, 'Complete'));
      assert.deepEqual(stopped.summary(), seenBeforeStop);
      assert.equal(stopped.events.some((event) => hasCondition(event, 'Complete')), false);
    });
  });
}
