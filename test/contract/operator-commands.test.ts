import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { parseAllDocuments } from 'yaml';
import { parseBespinJob, parseMethodsDocument, parseShareGroup, parseStageGroup } from '../../src/adapters/bespin/bespin-json.js';
import { toApiBody } from '../../src/adapters/k8s/object-bodies.js';
import { accessName, REQUIRED_ACCESS } from '../../src/adapters/k8s/required-access.js';
import type { ClusterObject } from '../../src/domain/cluster-objects.js';
import { StageSequencer } from '../../src/domain/stage-sequencer.js';
import { ClientInputError, ClientUsageError, runClient, type ClientOptions } from '../../src/composition/client-role.js';
import { landoSettingsFrom, loadConfig, type AppConfig } from '../../src/composition/config.js';
import { manifestOf } from '../../src/composition/render-command.js';
import { startBespinApiTestServer, type BespinApiTestServer } from '../../testservers/bespin-api-test-server.js';
import { startK8sApiTestServer, type AccessRule, type K8sApiTestServer, type KubeObject } from '../../testservers/k8s/k8s-api-test-server.js';
import { SeedConfigFile, type SeedConfigValues } from '../support/config-files.js';
import { MemoryLogger } from '../support/memory-logger.js';
import { RabbitTestBroker, uniqueQueueName } from '../support/rabbitmq.js';

const NAMESPACE = 'lando-job-runner';
const BESPIN_TOKEN = 'staff-token';
const fixturePath = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const fixture = (name: string): unknown => JSON.parse(readFileSync(fixturePath(name), 'utf8'));

/** kubectl's view of the kinds lando creates: the official schema, through kubernetes-models. */
const MODELS: Readonly<Record<string, new (data: never) => { validate(): void }>> = { Job, ConfigMap, PersistentVolumeClaim };

/** What the data-store settings of SeedConfigFile point at, as a healthy cluster holds them. */
const CLUSTER_PREREQUISITES: readonly KubeObject[] = [
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ddsclient-agent' }, stringData: { config: 'agent_key: abc\n' } },
  { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'glusterfs-storage' }, provisioner: 'kubernetes.io/glusterfs' },
  {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'system-data' },
    spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '10Gi' } } },
  },
];

function output(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Things a test starts, stopped in reverse order however the test ends. */
class Cleanup {
  private readonly steps: Array<() => Promise<void> | void> = [];

  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }
}

function linesOf(text: string): string[] {
  return text.trimEnd().split('\n');
}

async function run(config: AppConfig, words: string[], options: ClientOptions = {}): Promise<{ status: number; text: string }> {
  const out = output();
  const status = await runClient(config, words, options, new MemoryLogger(), out.stream);
  return { status, text: out.text() };
}

describe('operator commands of the client role', () => {
  const cleanup = new Cleanup();

  // check and status load the Kubernetes client when they first need it, which takes seconds; once is enough.
  before(async () => {
    await import('../../src/composition/operator-cluster.js');
  });

  afterEach(async () => {
    await cleanup.run();
  });

  function configFile(values: SeedConfigValues): AppConfig {
    const file = new SeedConfigFile(values);
    cleanup.add(() => file.remove());
    return loadConfig(file.path);
  }

  describe('render', () => {
    const files = {
      job: fixturePath('bespin-job.json'),
      stageGroup: fixturePath('job-file-stage-group.json'),
      shareGroup: fixturePath('share-group.json'),
      methods: fixturePath('workflow-methods-document.json'),
    };

    it('prints every object lando creates, step by step, as kubectl-ready YAML equal to the bodies lando sends', async () => {
      const config = configFile({ queue: 'unused', namespace: NAMESPACE });
      const { status, text } = await run(config, ['render'], { files });
      expect(status).to.equal(0);

      const job = parseBespinJob(fixture('bespin-job.json'));
      const stageGroup = parseStageGroup(fixture('job-file-stage-group.json'), 40);
      const sequencer = new StageSequencer(landoSettingsFrom(config));
      const stage = sequencer.stageData(job, stageGroup);
      const organize = sequencer.organizeOutput(job, parseMethodsDocument(fixture('workflow-methods-document.json'), 5));
      const save = sequencer.saveOutput(job, parseShareGroup(fixture('share-group.json'), 1));
      const expected: Array<[string, ClusterObject]> = [
        ['step 1 stage_data', sequencer.jobDataPvc(job, stageGroup)],
        ['step 1 stage_data', stage.configMap],
        ['step 1 stage_data', stage.job],
        ['step 2 run_workflow', sequencer.outputDataPvc(job)],
        ['step 2 run_workflow', sequencer.runWorkflow(job).job],
        ['step 3 organize_output', organize.configMap],
        ['step 3 organize_output', organize.job],
        ['step 4 save_output', save.configMap],
        ['step 4 save_output', save.job],
        ['step 5 record_output_project', sequencer.recordOutputProject(job).job],
      ];

      const documents = parseAllDocuments(text, { version: '1.1' });
      expect(documents.map((document) => document.errors)).to.deep.equal(expected.map(() => []));
      const [, ...sources] = text.split(/^---\n/m);
      expect(sources.map((source) => source.split('\n', 1)[0])).to.deep.equal(
        expected.map(([step, object], position) => `# ${position + 1}/10: ${step} creates ${object.kind} ${object.metadata.name}`),
      );
      documents.forEach((document, position) => {
        const [, object] = expected[position]!;
        const manifest = document.toJS() as { apiVersion: string; kind: string; metadata: { namespace: string } };
        expect(manifest.apiVersion).to.equal(object.kind === 'Job' ? 'batch/v1' : 'v1');
        expect(manifest.kind).to.equal(object.kind);
        expect(manifest.metadata.namespace).to.equal(NAMESPACE);
        const { apiVersion: _apiVersion, kind: _kind, metadata: { namespace: _namespace, ...metadata }, ...body } = manifest as typeof manifest & Record<string, unknown>;
        expect({ ...body, metadata }).to.deep.equal(toApiBody(object));
        expect(() => new MODELS[object.kind]!(manifest as never).validate(), `${object.kind} ${object.metadata.name}`).to.not.throw();
      });
      expect(text).to.match(/^# Kubernetes objects lando would create for bespin job 42 \("Sample1 exome" of jdoe12@duke\.edu\),\n/);
      expect(text).to.include(`#   stage group: ${files.stageGroup}\n`);
      expect(text).to.include(`#   methods:     ${files.methods}\n`);
      // The inputs are used: 1 GiB base plus the stage group's 5.8 GB of files.
      expect((documents[0]!.toJS() as { spec: { resources: { requests: { storage: string } } } }).spec.resources.requests.storage).to.equal('7Gi');
    });

    it('states in its header what it assumed for the inputs it was not given, and uses placeholders for them', async () => {
      const config = configFile({ queue: 'unused', namespace: NAMESPACE });
      const { text } = await run(config, ['render'], { files: { job: files.job } });
      expect(text).to.include('#   stage group: ASSUMED EMPTY (no --stage-group FILE): the stage command lists no input files and the job-data volume has only its base size\n');
      expect(text).to.include('#   share group: ASSUMED EMPTY (no --share-group FILE): the save command shares the output with nobody\n');
      expect(text).to.include('#   methods:     PLACEHOLDER (no --methods FILE)');
      const manifests = parseAllDocuments(text, { version: '1.1' }).map((document) => document.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: { resources?: { requests: { storage: string } } } });
      expect(manifests[0]!.spec!.resources!.requests.storage).to.equal('1Gi');
      const organize = manifests.find((manifest) => manifest.metadata.name === 'organize-output-42-jdoe12' && manifest.kind === 'ConfigMap');
      expect(organize?.data?.['organizeoutput.json']).to.include('PLACEHOLDER: methods document 5 was not given (render --methods FILE)');
      const save = manifests.find((manifest) => manifest.metadata.name === 'save-output-42-jdoe12' && manifest.kind === 'ConfigMap');
      expect(JSON.parse(save!.data!['saveoutput.json']!).share).to.deep.equal({ dds_user_ids: [] });
    });

    it('quotes values that YAML 1.1 readers such as kubectl would take for booleans', async () => {
      const config = configFile({ queue: 'unused', namespace: NAMESPACE, extra: { lando: { installation_label: 'lando-installation=yes' } } });
      const { text } = await run(config, ['render'], { files: { job: files.job } });
      expect(text).to.include('lando-installation: "yes"');
      for (const document of parseAllDocuments(text, { version: '1.1' })) {
        expect((document.toJS() as { metadata: { labels: Record<string, unknown> } }).metadata.labels['lando-installation']).to.equal('yes');
      }
    });

    it('refuses inputs it cannot use, naming the flag, the file and the problem', async () => {
      const config = configFile({ queue: 'unused', namespace: NAMESPACE });
      const failure = (options: ClientOptions, words: string[] = ['render']) => run(config, words, options).then(() => undefined, (error: unknown) => error as Error);

      const missingJob = await failure({ files: {} });
      expect(missingJob).to.be.instanceOf(ClientUsageError);
      expect(missingJob?.message).to.equal('render needs --job FILE: a bespin job as GET admin/jobs/<id>/ answers it');

      const otherGroup = await failure({ files: { job: files.job, stageGroup: fixturePath('job-file-stage-group-packed.json') } });
      expect(otherGroup).to.be.instanceOf(ClientInputError);
      expect(otherGroup?.message).to.equal(`--stage-group ${fixturePath('job-file-stage-group-packed.json')}: holds id 41, but the job's stage_group is 40`);

      const unusedMethods = await failure({ files: { job: fixturePath('bespin-job-packed.json'), methods: files.methods } });
      expect(unusedMethods?.message).to.equal(`--methods ${files.methods}: the workflow of job 51 has no methods document, so none is used`);

      const notAJob = await failure({ files: { job: files.stageGroup } });
      expect(notAJob).to.be.instanceOf(ClientInputError);
      expect(notAJob?.message).to.equal(`--job ${files.stageGroup}: job 40: user must be an object, got 7`);

      const absent = await failure({ files: { job: '/nonexistent/job.json' } });
      expect(absent?.message).to.match(/^--job \/nonexistent\/job\.json: cannot read the file: ENOENT/);
    });

    it('renders the objects the Kubernetes API test server accepts as lando sends them', async () => {
      const server = await startK8sApiTestServer({ namespace: NAMESPACE, checkPodVolumes: false });
      cleanup.add(() => server.close());
      const config = configFile({ queue: 'unused', namespace: NAMESPACE });
      const { text } = await run(config, ['render'], { files });
      for (const document of parseAllDocuments(text, { version: '1.1' })) server.seed(document.toJS() as KubeObject);
      await server.settle();
      expect(server.listObjects('persistentvolumeclaims')).to.have.lengthOf(2);
      expect(server.listObjects('configmaps')).to.have.lengthOf(3);
      expect(server.listObjects('jobs')).to.have.lengthOf(5);
    });
  });

  describe('check', () => {
    let broker: RabbitTestBroker;
    let queue: string;

    beforeEach(async () => {
      broker = await RabbitTestBroker.connect();
      queue = uniqueQueueName();
      broker.track(queue, `${queue}.dead-letter`);
      cleanup.add(() => broker.close());
    });

    interface World {
      readonly config: AppConfig;
      readonly k8s: K8sApiTestServer;
      readonly bespin: BespinApiTestServer;
    }

    async function world(options: { deniedAccess?: readonly AccessRule[]; objects?: readonly KubeObject[]; bespinToken?: string; extra?: SeedConfigValues['extra'] } = {}): Promise<World> {
      const k8s = await startK8sApiTestServer({ namespace: NAMESPACE, deniedAccess: options.deniedAccess ?? [], objects: options.objects ?? CLUSTER_PREREQUISITES });
      cleanup.add(() => k8s.close());
      const bespin = await startBespinApiTestServer({ token: BESPIN_TOKEN });
      cleanup.add(() => bespin.close());
      const config = configFile({
        queue,
        namespace: NAMESPACE,
        clusterHost: k8s.url,
        clusterToken: k8s.token,
        bespinUrl: bespin.url,
        bespinToken: options.bespinToken ?? BESPIN_TOKEN,
        extra: options.extra ?? {},
      });
      return { config, k8s, bespin };
    }

    it('reports every check ok, one line each, against healthy servers and exits 0', async () => {
      const { config, k8s, bespin } = await world({ extra: { lando: { leases: true }, watcher: { leader_election: true } } });
      const { status, text } = await run(config, ['check']);
      const lines = linesOf(text);
      expect(lines.filter((line) => !line.startsWith('ok    ')), text).to.deep.equal([]);
      expect(status).to.equal(0);
      expect(lines.slice(0, 6)).to.deep.equal([
        'ok    rabbitmq: logged in to 127.0.0.1:5672 as guest',
        `ok    rabbitmq: declared queue ${queue} as bespin-api does (durable, no arguments)`,
        `ok    rabbitmq: declared queue ${queue}.dead-letter as lando does (durable, no arguments)`,
        'ok    rabbitmq: declared exchange job_status as lando-messaging does (fanout, not durable)',
        `ok    bespin-api: ${bespin.url} accepts the token of a staff user`,
        `ok    cluster: the API server ${k8s.url} (v1.31.0) accepts the credentials`,
      ]);
      const reviewed = lines.filter((line) => line.startsWith('ok    rbac: ')).map((line) => line.slice('ok    rbac: '.length));
      expect(reviewed).to.deep.equal(REQUIRED_ACCESS.map((access) => `${accessName(access)} allowed in namespace ${NAMESPACE}`));
      expect(lines.slice(-3)).to.deep.equal([
        `ok    data-store secret: Secret ddsclient-agent in namespace ${NAMESPACE} exists`,
        'ok    storage class: StorageClass glusterfs-storage exists',
        `ok    system data volume: PersistentVolumeClaim system-data in namespace ${NAMESPACE} exists`,
      ]);
      expect(k8s.calls.records.filter((call) => call.operation === 'create selfsubjectaccessreviews')).to.have.lengthOf(REQUIRED_ACCESS.length + 1);
    });

    it('reports a wrong bespin-api token as FAIL with the fix, and exits 1', async () => {
      const { config } = await world({ bespinToken: 'not-the-token' });
      const { status, text } = await run(config, ['check']);
      expect(linesOf(text)).to.include(
        "FAIL  bespin-api: token rejected (401 Invalid token.) — fix: set bespin_api.token (or LANDO_BESPIN_TOKEN) to a staff user's token",
      );
      expect(linesOf(text).filter((line) => line.startsWith('FAIL'))).to.have.lengthOf(1);
      expect(status).to.equal(1);
    });

    it('reports a work queue declared with an x- argument as FAIL with the fix, and still checks the rest', async () => {
      await broker.withChannel(async (channel) => {
        await channel.assertQueue(queue, { durable: true, arguments: { 'x-max-length': 10 } });
      });
      const { config } = await world();
      const { status, text } = await run(config, ['check']);
      const failure = linesOf(text).find((line) => line.startsWith('FAIL'));
      expect(failure).to.match(new RegExp(`^FAIL  rabbitmq: queue ${queue} exists with other flags than bespin-api declares it with \\(durable, no arguments\\): .*PRECONDITION_FAILED.*'x-max-length'`));
      expect(failure).to.include(` — fix: drain and delete queue ${queue} (rabbitmqctl delete_queue ${queue}) and let it be declared again`);
      expect(linesOf(text)).to.include('ok    rabbitmq: declared exchange job_status as lando-messaging does (fanout, not durable)');
      expect(linesOf(text).filter((line) => line.startsWith('FAIL'))).to.have.lengthOf(1);
      expect(status).to.equal(1);
    });

    it('reports a verb RBAC denies, found by a SelfSubjectAccessReview, as FAIL naming the role and its Role file', async () => {
      const { config } = await world({ deniedAccess: [{ verb: 'watch', group: 'batch', resource: 'jobs' }] });
      const { status, text } = await run(config, ['check']);
      expect(linesOf(text).filter((line) => line.startsWith('FAIL'))).to.deep.equal([
        `FAIL  rbac: batch/jobs: watch denied in namespace ${NAMESPACE}; watcher needs it: the watcher follows the labelled Jobs — fix: grant it in the Role bound to the service account (deploy/rbac-watcher.yaml)`,
      ]);
      expect(status).to.equal(1);

      const landoOnly = await run(config, ['check'], { checkFor: 'lando' });
      expect(landoOnly.text).to.not.include('batch/jobs: watch');
      expect(landoOnly.status).to.equal(0);
    });

    it('reports a missing data-store secret as FAIL with the fix, and one it may not read as a warning', async () => {
      const { config, k8s } = await world({ objects: CLUSTER_PREREQUISITES.filter((object) => object.kind !== 'Secret') });
      const missing = await run(config, ['check']);
      expect(linesOf(missing.text).filter((line) => line.startsWith('FAIL'))).to.deep.equal([
        `FAIL  data-store secret: Secret ddsclient-agent in namespace ${NAMESPACE} does not exist — fix: create it from the DukeDS client configuration (kubectl create secret generic ddsclient-agent -n ${NAMESPACE} --from-file=config=<DukeDS config file>), or set data_store_settings.secret_name`,
      ]);
      expect(missing.status).to.equal(1);

      k8s.access.setDenied([{ verb: 'get', resource: 'secrets' }]);
      const forbidden = await run(config, ['check']);
      const warning = linesOf(forbidden.text).find((line) => line.startsWith('warn  data-store secret: '));
      expect(warning).to.match(/^warn {2}data-store secret: cannot tell whether Secret ddsclient-agent in namespace lando-job-runner exists: these credentials may not read it \(403 Forbidden: .*cannot get resource "secrets".*\); ask someone who may: kubectl get secret ddsclient-agent -n lando-job-runner$/);
      expect(forbidden.status).to.equal(0);
    });

    it('reports a missing storage class and system data claim, and rejected cluster credentials', async () => {
      const { config, k8s } = await world({ objects: CLUSTER_PREREQUISITES.filter((object) => object.kind === 'Secret') });
      const missing = await run(config, ['check']);
      expect(linesOf(missing.text).filter((line) => line.startsWith('FAIL'))).to.deep.equal([
        "FAIL  storage class: StorageClass glusterfs-storage does not exist — fix: set storage_class_name to one that `kubectl get storageclass` lists, or remove it to use the cluster's default",
        `FAIL  system data volume: PersistentVolumeClaim system-data in namespace ${NAMESPACE} does not exist — fix: create it in namespace ${NAMESPACE}, or set run_workflow_settings.system_data_volume.volume_claim_name to an existing one`,
      ]);

      const wrongToken = configFile({ queue, namespace: NAMESPACE, clusterHost: k8s.url, clusterToken: 'wrong', bespinUrl: 'http://127.0.0.1:1/api/v2' });
      const rejected = await run(wrongToken, ['check']);
      const clusterLines = linesOf(rejected.text).filter((line) => line.includes('cluster: '));
      expect(clusterLines).to.deep.equal([
        `FAIL  cluster: the API server ${k8s.url} (v1.31.0) rejects the credentials: 401 Unauthorized — fix: set cluster_api_settings.token (or LANDO_CLUSTER_TOKEN) to a valid service account token`,
        'skip  cluster: permissions, the data-store secret, storage class and system data volume were not checked: the credentials were rejected',
      ]);
      expect(rejected.status).to.equal(1);
    });

    it('reports a refused broker login with the fix and skips the declarations', async () => {
      const { config } = await world({ extra: { work_queue: { password: 'wrong-password' } } });
      const { status, text } = await run(config, ['check']);
      const [login, skipped] = linesOf(text);
      expect(login).to.match(/^FAIL {2}rabbitmq: cannot log in to 127\.0\.0\.1:5672 as guest: .*ACCESS_REFUSED.* — fix: check work_queue\.username, password \(or LANDO_WORK_QUEUE_PASSWORD\) and vhost, and that the user may use the vhost$/);
      expect(skipped).to.equal('skip  rabbitmq: queues and the job_status exchange were not checked: no connection');
      expect(status).to.equal(1);
    });
  });

  describe('status', () => {
    /** The object rows, columns joined by ` | `, the random suffix of pod names as `xxxxx`. */
    function rowsOf(text: string): string[] {
      return linesOf(text).slice(2).map((line) => line.trim().replace(/-[a-z0-9]{5}( |$)/, '-xxxxx$1').split(/ {2,}/).join(' | '));
    }

    async function world(): Promise<{ config: AppConfig; k8s: K8sApiTestServer; bespin: BespinApiTestServer }> {
      const k8s = await startK8sApiTestServer({ namespace: NAMESPACE });
      cleanup.add(() => k8s.close());
      const bespin = await startBespinApiTestServer({ token: BESPIN_TOKEN });
      cleanup.add(() => bespin.close());
      const config = configFile({ queue: 'unused', namespace: NAMESPACE, clusterHost: k8s.url, clusterToken: k8s.token, bespinUrl: bespin.url, bespinToken: BESPIN_TOKEN });
      return { config, k8s, bespin };
    }

    /** Job 42 of the fixtures as lando leaves it while staging: its state and step in bespin, its objects in the cluster. */
    function stagingJob(config: AppConfig, k8s: K8sApiTestServer, bespin: BespinApiTestServer): StageSequencer {
      const json = fixture('bespin-job.json') as Record<string, unknown>;
      bespin.addJob({ ...json, state: 'R', step: 'S' });
      const job = parseBespinJob(json);
      const sequencer = new StageSequencer(landoSettingsFrom(config));
      const stage = sequencer.stageData(job, parseStageGroup(fixture('job-file-stage-group.json'), 40));
      for (const object of [sequencer.jobDataPvc(job, { ddsFiles: [], urlFiles: [] }), stage.configMap, stage.job]) {
        k8s.seed(manifestOf(object, NAMESPACE) as KubeObject);
      }
      return sequencer;
    }

    it('shows a job mid-run: its bespin state and step beside its claims, ConfigMaps, Jobs and pods', async () => {
      const { config, k8s, bespin } = await world();
      stagingJob(config, k8s, bespin);
      // Another job's objects are not shown.
      k8s.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'stage-data-51-other', labels: { 'bespin-job': 'true', 'bespin-job-id': '51' } }, data: {} });
      await k8s.settle();

      const { status, text } = await run(config, ['status', '42']);
      expect(status).to.equal(0);
      expect(linesOf(text).slice(0, 2)).to.deep.equal([
        'bespin-api: job 42 "Sample1 exome" of jdoe12@duke.edu: state R (Running), step S (Staging)',
        `cluster: namespace ${NAMESPACE}, objects labelled bespin-job=true,bespin-job-id=42:`,
      ]);
      expect(rowsOf(text)).to.deep.equal([
        'PersistentVolumeClaim | job-data-42-jdoe12 | Bound, 1Gi, storage class glusterfs-storage',
        'ConfigMap | stage-data-42-jdoe12',
        'Job | stage-data-42-jdoe12 | no conditions yet',
        'Pod | stage-data-42-jdoe12-xxxxx | Running',
      ]);
    });

    it('shows failed Jobs with their conditions, and pods that wait or cannot be scheduled, with the reason', async () => {
      const { config, k8s, bespin } = await world();
      const sequencer = stagingJob(config, k8s, bespin);
      const job = parseBespinJob(fixture('bespin-job.json'));
      k8s.seed(manifestOf(sequencer.outputDataPvc(job), NAMESPACE) as KubeObject);
      // Without the system data claim, run_workflow's pod cannot be scheduled; without its ConfigMap, organize_output's waits.
      k8s.seed(manifestOf(sequencer.runWorkflow(job).job, NAMESPACE) as KubeObject);
      k8s.seed(manifestOf(sequencer.organizeOutput(job, null).job, NAMESPACE) as KubeObject);
      await k8s.settle();
      k8s.controller.failJob('stage-data-42-jdoe12', 'staging failed\n');
      await k8s.settle();

      const { status, text } = await run(config, ['status', '42']);
      expect(status).to.equal(0);
      expect(rowsOf(text)).to.deep.equal([
        'PersistentVolumeClaim | job-data-42-jdoe12 | Bound, 1Gi, storage class glusterfs-storage',
        'PersistentVolumeClaim | output-data-42-jdoe12 | Bound, 200Gi, storage class glusterfs-storage',
        'ConfigMap | stage-data-42-jdoe12',
        'Job | organize-output-42-jdoe12 | no conditions yet',
        'Job | run-workflow-42-jdoe12 | no conditions yet',
        'Job | stage-data-42-jdoe12 | FailureTarget=True (BackoffLimitExceeded: Job has reached the specified backoff limit), Failed=True (BackoffLimitExceeded: Job has reached the specified backoff limit)',
        'Pod | organize-output-42-jdoe12-xxxxx | Pending; waiting: organize-output-42-jdoe12 ContainerCreating (MountVolume.SetUp failed for volume "organize-output-42-jdoe12" : configmap "organize-output-42-jdoe12" not found)',
        'Pod | run-workflow-42-jdoe12-xxxxx | Pending; not scheduled: Unschedulable: 0/1 nodes are available: persistentvolumeclaim "system-data" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
        'Pod | stage-data-42-jdoe12-xxxxx | Failed',
      ]);
    });

    it('fails with bespin-api\'s answer for a job it does not have', async () => {
      const { config } = await world();
      const { status, text } = await run(config, ['status', '999']);
      expect(text).to.equal('bespin-api: cannot read job 999: bespin-api GET /admin/jobs/999/ answered 404: Not found.\n');
      expect(status).to.equal(1);
    });

    it('refuses a job id that is not a number', async () => {
      const { config } = await world();
      const failure = await run(config, ['status', 'forty-two']).catch((error: unknown) => error);
      expect(failure).to.be.instanceOf(ClientUsageError);
      expect((failure as Error).message).to.equal('status takes exactly one job id (digits), got "forty-two"');
    });
  });
});
