import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import fc from 'fast-check';
import { parseDocument, type Document } from 'yaml';
import {
  ConfigError,
  landoSettingsFrom,
  loadConfig,
  watcherSettingsFrom,
  type AppConfig,
} from '../../src/composition/config.js';
import { CONFIG_SCHEMA, forEachSetting, formatProblem } from '../../src/composition/config-schema.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);

/** Loads a fixture with an empty environment, so the test machine's variables play no part. */
const loadFixture = (name: string, env: NodeJS.ProcessEnv = {}): AppConfig => loadConfig(fixture(name), env);

function configError(path: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadConfig(path, env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  expect.fail(`${path} loaded although it should not`);
}

describe('loadConfig', () => {
  let workDir: string;
  let variants = 0;

  before(() => {
    workDir = mkdtempSync(join(tmpdir(), 'lando-config-test-'));
  });

  after(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  /** Writes a copy of a fixture changed by `edit` and returns its path. */
  function variant(edit: (document: Document) => void, base = 'minimal.yaml'): string {
    const document = parseDocument(readFileSync(fixture(base), 'utf8'));
    edit(document);
    return writeText(String(document));
  }

  function writeText(text: string): string {
    variants += 1;
    const path = join(workDir, `config-${variants}.yaml`);
    writeFileSync(path, text);
    return path;
  }

  /** A copy of minimal.yaml with one setting (or section) replaced. */
  const withSetting = (path: string, value: unknown): string =>
    variant((document) => document.setIn(path.split('.'), value));

  const loadWith = (path: string, value: unknown): AppConfig => loadConfig(withSetting(path, value), {});

  describe('valid files', () => {
    it('loads the complete 0.11.3 example verbatim, with every new setting at its default', () => {
      const expected: AppConfig = {
        workQueue: {
          host: 'rabbitmq.bespin.internal',
          port: 5672,
          vhost: '/',
          username: 'lando',
          password: 's3cret',
          workerUsername: 'lando_worker',
          workerPassword: 's3cret2',
          listenQueue: 'lando',
          tls: false,
          tlsCaCert: undefined,
          heartbeatSeconds: 30,
          prefetch: 128,
          deadLetterQueue: 'lando.dead-letter',
          messageFormat: 'pickle',
          maxAttempts: 8,
          retryDelayMs: 1000,
          maxRetryDelayMs: 60_000,
        },
        clusterApiSettings: {
          host: 'https://api.k8s.example.org:6443',
          token: 'eyJhbGciOi...',
          namespace: 'lando-job-runner',
          verifySsl: true,
          sslCaCert: '/etc/lando/k8s-ca.crt',
        },
        bespinApi: {
          url: 'https://bespin.example.org/api/v2',
          token: '0123456789abcdef0123456789abcdef01234567',
        },
        dataStoreSettings: { secretName: 'ddsclient-agent' },
        runWorkflowSettings: {
          systemDataVolume: { volumeClaimName: 'system-data', mountPath: '/bespin/system/' },
        },
        recordOutputProjectSettings: { serviceAccountName: 'annotation-writer-sa' },
        storageClassName: 'glusterfs-storage',
        baseStageDataVolumeSizeInG: 1,
        logLevel: 'info',
        healthPort: 0,
        lando: {
          concurrency: 8,
          handlerTimeoutSeconds: 300,
          shutdownGraceSeconds: 30,
          leases: false,
          leaseDurationSeconds: 30,
          installationLabel: undefined,
        },
        watcher: {
          maxLogBytes: 65536,
          imagePullGraceSeconds: 300,
          unschedulableGraceSeconds: 900,
          stuckPodScanSeconds: 30,
          resyncSeconds: 300,
          watchIdleTimeoutSeconds: 600,
          leaderElection: false,
          leaseDurationSeconds: 15,
          renewDeadlineSeconds: 10,
          retryPeriodSeconds: 2,
        },
        unknownKeys: [],
      };
      expect(loadFixture('complete-0.11.3.yaml')).to.deep.equal(expected);
    });

    it("loads the seed README's example, defaulting the record_output_project service account (W25)", () => {
      const config = loadFixture('seed-readme-example.yaml');
      expect(config.recordOutputProjectSettings.serviceAccountName).to.equal('lando-record-output-project');
      expect(config.clusterApiSettings.verifySsl).to.equal(false);
      expect(config.clusterApiSettings.host).to.equal('TODO');
      expect(config.runWorkflowSettings.systemDataVolume).to.deep.equal({
        volumeClaimName: 'system-data',
        mountPath: '/bespin/system/',
      });
      expect(config.storageClassName).to.equal('glusterfs-storage');
      expect(config.logLevel).to.equal('info');
      expect(config.unknownKeys).to.deep.equal([]);
    });

    it("loads the original's minimal configuration", () => {
      const config = loadFixture('python-minimal.yaml');
      expect(config.workQueue.workerUsername).to.equal('lando_worker');
      expect(config.clusterApiSettings.token).to.equal('cluster-token');
      expect(config.runWorkflowSettings.systemDataVolume).to.equal(undefined);
      expect(config.recordOutputProjectSettings.serviceAccountName).to.equal('annotation-writer-sa');
    });

    it('loads a file with only the required keys and fills in the defaults', () => {
      const config = loadFixture('minimal.yaml');
      expect(config.workQueue.workerUsername).to.equal(undefined);
      expect(config.workQueue.workerPassword).to.equal(undefined);
      expect(config.clusterApiSettings.host).to.equal(undefined);
      expect(config.clusterApiSettings.token).to.equal(undefined);
      expect(config.clusterApiSettings.verifySsl).to.equal(true);
      expect(config.storageClassName).to.equal(undefined);
      expect(config.baseStageDataVolumeSizeInG).to.equal(1);
      expect(config.logLevel).to.equal('warn');
      expect(config.recordOutputProjectSettings.serviceAccountName).to.equal('lando-record-output-project');
    });

    it('returns a deeply frozen object', () => {
      const config = loadFixture('complete-0.11.3.yaml');
      expect(Object.isFrozen(config)).to.equal(true);
      expect(Object.isFrozen(config.workQueue)).to.equal(true);
      expect(Object.isFrozen(config.runWorkflowSettings.systemDataVolume)).to.equal(true);
      expect(Object.isFrozen(config.unknownKeys)).to.equal(true);
    });

    it('ignores unknown keys, including the historical tmp_volume_size_in_g, and lists them', () => {
      const path = variant((document) => {
        document.set('tmp_volume_size_in_g', 3);
        document.setIn(['work_queue', 'colour'], 'blue');
        document.set('extras', { nested: { deeper: 1 } });
      });
      expect(loadConfig(path, {}).unknownKeys).to.deep.equal([
        'work_queue.colour',
        'tmp_volume_size_in_g',
        'extras',
      ]);
    });

    it('reads YAML 1.1 booleans as PyYAML does (verify_ssl: no)', () => {
      const path = writeText(
        readFileSync(fixture('minimal.yaml'), 'utf8').replace(
          'namespace: lando-job-runner',
          'namespace: lando-job-runner\n  verify_ssl: no',
        ),
      );
      expect(loadConfig(path, {}).clusterApiSettings.verifySsl).to.equal(false);
    });

    it('reads a date-like value as text', () => {
      const path = writeText(
        readFileSync(fixture('minimal.yaml'), 'utf8').replace('username: lando', 'username: 2019-05-17'),
      );
      expect(loadConfig(path, {}).workQueue.username).to.equal('2019-05-17');
    });

    it('accepts an empty run_workflow_settings section, or none at all', () => {
      expect(loadWith('run_workflow_settings', {}).runWorkflowSettings).to.deep.equal({
        systemDataVolume: undefined,
      });
      expect(loadWith('run_workflow_settings', null).runWorkflowSettings.systemDataVolume).to.equal(undefined);
    });

    it('gives a key present with no value its default', () => {
      expect(loadWith('storage_class_name', null).storageClassName).to.equal(undefined);
      expect(loadWith('cluster_api_settings.verify_ssl', null).clusterApiSettings.verifySsl).to.equal(true);
    });

    it('loads every new setting from the file', () => {
      const path = variant((document) => {
        document.setIn(['work_queue', 'port'], 5671);
        document.setIn(['work_queue', 'vhost'], 'bespin');
        document.setIn(['work_queue', 'tls'], true);
        document.setIn(['work_queue', 'tls_ca_cert'], '/etc/lando/amqp-ca.crt');
        document.setIn(['work_queue', 'heartbeat_seconds'], 0);
        document.setIn(['work_queue', 'prefetch'], 4);
        document.setIn(['work_queue', 'dead_letter_queue'], 'lando-failed');
        document.setIn(['work_queue', 'message_format'], 'json');
        document.setIn(['work_queue', 'max_attempts'], 3);
        document.setIn(['work_queue', 'retry_delay_ms'], 0);
        document.set('health_port', 8080);
        document.set('lando', {
          concurrency: 2,
          handler_timeout_seconds: 60,
          shutdown_grace_seconds: 0,
          leases: true,
          lease_duration_seconds: 20,
          installation_label: 'bespin.example.org/installation=blue',
        });
        document.set('watcher', {
          max_log_bytes: 1024,
          image_pull_grace_seconds: 0,
          unschedulable_grace_seconds: 60,
          stuck_pod_scan_seconds: 5,
          resync_seconds: 30,
          watch_idle_timeout_seconds: 120,
          leader_election: true,
          lease_duration_seconds: 30,
          renew_deadline_seconds: 20,
          retry_period_seconds: 5,
        });
      });
      const config = loadConfig(path, {});
      expect(config.workQueue).to.include({
        port: 5671,
        vhost: 'bespin',
        tls: true,
        tlsCaCert: '/etc/lando/amqp-ca.crt',
        heartbeatSeconds: 0,
        prefetch: 4,
        deadLetterQueue: 'lando-failed',
        messageFormat: 'json',
        maxAttempts: 3,
        retryDelayMs: 0,
      });
      expect(config.healthPort).to.equal(8080);
      expect(config.lando).to.deep.equal({
        concurrency: 2,
        handlerTimeoutSeconds: 60,
        shutdownGraceSeconds: 0,
        leases: true,
        leaseDurationSeconds: 20,
        installationLabel: { key: 'bespin.example.org/installation', value: 'blue' },
      });
      expect(config.watcher).to.deep.equal({
        maxLogBytes: 1024,
        imagePullGraceSeconds: 0,
        unschedulableGraceSeconds: 60,
        stuckPodScanSeconds: 5,
        resyncSeconds: 30,
        watchIdleTimeoutSeconds: 120,
        leaderElection: true,
        leaseDurationSeconds: 30,
        renewDeadlineSeconds: 20,
        retryPeriodSeconds: 5,
      });
    });
  });

  describe('dead-letter queue', () => {
    it('defaults to <listen_queue>.dead-letter', () => {
      expect(loadWith('work_queue.listen_queue', 'jobs').workQueue.deadLetterQueue).to.equal('jobs.dead-letter');
    });

    it('must differ from listen_queue', () => {
      const error = configError(withSetting('work_queue.dead_letter_queue', 'lando'));
      expect(error.problems).to.deep.equal(['work_queue.dead_letter_queue must differ from work_queue.listen_queue']);
    });
  });

  describe('retry back-off', () => {
    it('refuses a longest wait shorter than the first one', () => {
      const error = configError(withSetting('work_queue.max_retry_delay_ms', 500));
      expect(error.problems).to.deep.equal(['work_queue.max_retry_delay_ms (500) must be at least work_queue.retry_delay_ms (1000)']);
    });
  });

  describe('log_level', () => {
    const levels: ReadonlyArray<[unknown, string]> = [
      ['DEBUG', 'debug'],
      ['info', 'info'],
      ['WARNING', 'warn'],
      ['Warn', 'warn'],
      ['ERROR', 'error'],
      ['critical', 'fatal'],
      ['FATAL', 'fatal'],
      [10, 'debug'],
      [20, 'info'],
      [30, 'warn'],
      [40, 'error'],
      [50, 'fatal'],
    ];
    for (const [python, bunyan] of levels) {
      it(`maps ${JSON.stringify(python)} to ${bunyan}`, () => {
        expect(loadWith('log_level', python).logLevel).to.equal(bunyan);
      });
    }

    for (const bad of ['LOUD', 25, '20', true]) {
      it(`rejects ${JSON.stringify(bad)}`, () => {
        const [problem] = configError(withSetting('log_level', bad)).problems;
        expect(problem).to.match(/^log_level must be a Python log level name \(DEBUG, INFO, WARNING, .*\), got /);
        expect(problem).to.include(`got ${JSON.stringify(bad)}`);
      });
    }
  });

  describe('installation_label', () => {
    const valid: ReadonlyArray<[string, { key: string; value: string }]> = [
      ['installation=blue', { key: 'installation', value: 'blue' }],
      ['bespin.example.org/installation=prod-1', { key: 'bespin.example.org/installation', value: 'prod-1' }],
      ['team=', { key: 'team', value: '' }],
      ['A_b.c=X.y_z', { key: 'A_b.c', value: 'X.y_z' }],
    ];
    for (const [text, label] of valid) {
      it(`accepts ${text}`, () => {
        expect(loadWith('lando.installation_label', text).lando.installationLabel).to.deep.equal(label);
      });
    }

    const invalid: ReadonlyArray<[string, string]> = [
      ['blue', 'must be key=value, got "blue"'],
      ['=blue', 'has a label key name "" that is not up to 63 letters'],
      ['bad key=blue', 'has a label key name "bad key" that is not'],
      ['-installation=blue', 'has a label key name "-installation" that is not'],
      [`${'k'.repeat(64)}=blue`, `has a label key name "${'k'.repeat(64)}" that is not`],
      ['Example.org/installation=blue', 'has a label key prefix "Example.org" that is not a DNS subdomain'],
      ['a/b/c=blue', 'has a label key prefix "a/b" that is not a DNS subdomain'],
      ['installation=blue green', 'has a label value "blue green" that is not'],
      [`installation=${'v'.repeat(64)}`, `has a label value "${'v'.repeat(64)}" that is not`],
      ['installation=blue-', 'has a label value "blue-" that is not'],
    ];
    for (const [text, problem] of invalid) {
      it(`rejects ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`, () => {
        const [reported] = configError(withSetting('lando.installation_label', text)).problems;
        const expected = `lando.installation_label ${problem}`;
        expect(reported?.slice(0, expected.length)).to.equal(expected);
      });
    }

    it('is handed to both services', () => {
      const config = loadWith('lando.installation_label', 'installation=blue');
      expect(landoSettingsFrom(config).installationLabel).to.deep.equal({ key: 'installation', value: 'blue' });
      expect(watcherSettingsFrom(config).installationLabel).to.deep.equal({ key: 'installation', value: 'blue' });
    });
  });

  describe('missing keys', () => {
    // A setting is required when it has neither a default nor permission to be absent.
    const required: Array<{ path: string; env?: string }> = [];
    forEachSetting(CONFIG_SCHEMA, (path, spec) => {
      if (spec.default === null && !spec.nullable) required.push({ path, env: spec.env });
    });

    it('are the keys of the original that stayed required', () => {
      expect(required.map(({ path }) => path)).to.have.members([
        'work_queue.host',
        'work_queue.username',
        'work_queue.password',
        'work_queue.listen_queue',
        'cluster_api_settings.namespace',
        'bespin_api.url',
        'bespin_api.token',
        'data_store_settings.secret_name',
      ]);
    });

    for (const { path, env } of required) {
      it(`names ${path}`, () => {
        const file = variant((document) => document.deleteIn(path.split('.')));
        const hint = env === undefined ? '' : ` (it may also be given in ${env})`;
        expect(configError(file).message).to.equal(`${file}: ${path} is required but missing${hint}`);
      });
    }

    it('reports every missing key at once, one per line, and a key with no value as such', () => {
      const file = fixture('broken-missing.yaml');
      expect(configError(file).message.split('\n')).to.deep.equal([
        `${file}: work_queue.host is required but missing`,
        `${file}: work_queue.listen_queue is required but missing`,
        `${file}: cluster_api_settings.namespace is required but has no value`,
        `${file}: bespin_api.token is required but missing (it may also be given in LANDO_BESPIN_TOKEN)`,
      ]);
    });

    it('requires both keys of system_data_volume once it is given', () => {
      const file = withSetting('run_workflow_settings.system_data_volume', { mount_path: '/bespin/system/' });
      expect(configError(file).problems).to.deep.equal([
        'run_workflow_settings.system_data_volume.volume_claim_name is required when run_workflow_settings.system_data_volume is given',
      ]);
    });

    it('requires cluster host and token together', () => {
      expect(configError(withSetting('cluster_api_settings.host', 'https://k8s:6443')).problems).to.deep.equal([
        'cluster_api_settings.host is given but cluster_api_settings.token is not; give both, or neither to use the in-cluster service account or kubeconfig',
      ]);
      expect(configError(fixture('minimal.yaml'), { LANDO_CLUSTER_TOKEN: 'env-token' }).problems).to.deep.equal([
        'cluster_api_settings.token (from LANDO_CLUSTER_TOKEN) is given but cluster_api_settings.host is not; give both, or neither to use the in-cluster service account or kubeconfig',
      ]);
    });
  });

  describe('wrong values', () => {
    const cases: ReadonlyArray<[string, unknown, string]> = [
      ['cluster_api_settings.verify_ssl', 'maybe', 'must be true or false, got "maybe"'],
      ['base_stage_data_volume_size_in_g', -1, 'must be a non-negative integer, got -1'],
      ['base_stage_data_volume_size_in_g', 1.5, 'must be a non-negative integer, got 1.5'],
      ['work_queue.message_format', 'xml', 'must be one of pickle, json, got "xml"'],
      ['work_queue.prefetch', 'ten', 'must be a positive integer, got "ten"'],
      ['work_queue.prefetch', 0, 'must be a positive integer, got 0'],
      ['work_queue.port', 70000, 'must be a port number from 1 to 65535, got 70000'],
      ['work_queue.port', '5672', 'must be a port number from 1 to 65535, got "5672"'],
      ['health_port', -1, 'must be a port number from 1 to 65535, or 0, got -1'],
      ['work_queue.host', 'rabbitmq:5672', 'must be a host name without scheme or port (the port is work_queue.port), got "rabbitmq:5672"'],
      ['work_queue.host', 'amqp://rabbitmq', 'must be a host name without scheme or port (the port is work_queue.port), got "amqp://rabbitmq"'],
      ['work_queue.username', 12345, 'must be text, got 12345 (put it in quotes to make it text)'],
      ['work_queue.username', '  ', 'must not be empty'],
      ['work_queue.listen_queue', 'q'.repeat(256), `must be an AMQP queue name of at most 255 bytes, got "${'q'.repeat(256)}"`],
      ['cluster_api_settings.namespace', 'Lando_Jobs', 'must be a Kubernetes name of at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit, got "Lando_Jobs"'],
      ['data_store_settings.secret_name', ['a', 'b'], 'must be text, got a list'],
      ['storage_class_name', 'Fast Disks', 'must be a Kubernetes name of at most 253 lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, got "Fast Disks"'],
      ['watcher.max_log_bytes', 0, 'must be a positive integer, got 0'],
      ['lando.leases', 'yes please', 'must be true or false, got "yes please"'],
    ];
    for (const [path, value, problem] of cases) {
      it(`names ${path}: ${JSON.stringify(value).slice(0, 30)}`, () => {
        const file = withSetting(path, value);
        expect(configError(file).message).to.equal(`${file}: ${path} ${problem}`);
      });
    }

    it('names a relative mount path', () => {
      const file = withSetting('run_workflow_settings.system_data_volume', {
        volume_claim_name: 'system-data',
        mount_path: 'bespin/system',
      });
      expect(configError(file).problems).to.deep.equal([
        'run_workflow_settings.system_data_volume.mount_path must be an absolute path, got "bespin/system"',
      ]);
    });

    it('names a section that is not a mapping', () => {
      expect(configError(withSetting('work_queue', 'rabbitmq')).problems).to.deep.equal([
        'work_queue must be a mapping of settings, got text',
      ]);
    });

    it('reports several wrong values at once, one per line', () => {
      const file = fixture('broken-types.yaml');
      expect(configError(file).message.split('\n')).to.deep.equal([
        `${file}: work_queue.password must be text, got a number (put it in quotes to make it text)`,
        `${file}: work_queue.prefetch must be a positive integer, got "ten"`,
        `${file}: work_queue.message_format must be one of pickle, json, got "xml"`,
        `${file}: cluster_api_settings.verify_ssl must be true or false, got "maybe"`,
        `${file}: bespin_api.token must be text, got a list`,
        `${file}: base_stage_data_volume_size_in_g must be a non-negative integer, got -1`,
      ]);
    });

    it('rejects tls_ca_cert without tls', () => {
      expect(configError(withSetting('work_queue.tls_ca_cert', '/etc/ca.crt')).problems).to.deep.equal([
        'work_queue.tls_ca_cert is given but work_queue.tls is false',
      ]);
    });

    it('rejects leader-election timings that are not lease > renew deadline > retry period', () => {
      const file = variant((document) => {
        document.setIn(['watcher', 'lease_duration_seconds'], 10);
        document.setIn(['watcher', 'retry_period_seconds'], 10);
      });
      expect(configError(file).problems).to.deep.equal([
        'watcher.lease_duration_seconds (10) must be greater than watcher.renew_deadline_seconds (10)',
        'watcher.renew_deadline_seconds (10) must be greater than watcher.retry_period_seconds (10)',
      ]);
    });
  });

  describe('unusable files', () => {
    it('gives the position of a YAML syntax error and does not quote the line', () => {
      const file = fixture('broken-syntax.yaml');
      const { message } = configError(file);
      expect(message).to.equal(`${file}: not valid YAML at line 5, column 1: Missing closing "quote`);
      expect(message).not.to.include('syntax-secret-value');
    });

    it('gives the position of a misplaced mapping', () => {
      const file = writeText('work_queue:\n  host: rabbitmq\n  username: lando: x\n');
      expect(configError(file).message).to.equal(
        `${file}: not valid YAML at line 3, column 13: Nested mappings are not allowed in compact mappings`,
      );
    });

    it('rejects a file of several YAML documents', () => {
      const file = writeText('work_queue: {}\n---\nbespin_api: {}\n');
      expect(configError(file).message).to.equal(
        `${file}: not valid YAML at line 2, column 1: the file holds more than one YAML document`,
      );
    });

    it('rejects an alias to an unknown anchor', () => {
      const file = writeText('work_queue: *queue\n');
      expect(configError(file).message).to.match(/: not valid YAML: Unresolved alias .*queue$/);
    });

    for (const name of ['empty.yaml', 'comments-only.yaml']) {
      it(`says ${name} is empty`, () => {
        expect(configError(fixture(name)).message).to.equal(`${fixture(name)}: the file is empty`);
      });
    }

    it('says a missing file cannot be read', () => {
      const file = join(workDir, 'absent.yaml');
      expect(configError(file).message).to.equal(
        `${file}: cannot read file: ENOENT: no such file or directory, open '${file}'`,
      );
    });

    it('says a directory cannot be read', () => {
      const directory = join(workDir, 'a-directory');
      mkdirSync(directory);
      expect(configError(directory).message).to.match(/: cannot read file: EISDIR/);
    });

    it('rejects a list at the top level', () => {
      expect(configError(fixture('top-level-list.yaml')).problems).to.deep.equal([
        'the top level must be a mapping of settings, got a list',
      ]);
    });

    it('never puts a stack trace in the message', () => {
      for (const name of ['broken-syntax.yaml', 'broken-types.yaml', 'broken-missing.yaml', 'empty.yaml', 'absent.yaml']) {
        expect(configError(fixture(name)).message).not.to.match(/^\s+at /m);
      }
    });
  });

  describe('environment overrides', () => {
    const env = {
      LANDO_WORK_QUEUE_PASSWORD: 'env-amqp-password',
      LANDO_WORK_QUEUE_WORKER_PASSWORD: 'env-worker-password',
      LANDO_CLUSTER_TOKEN: 'env-cluster-token',
      LANDO_BESPIN_TOKEN: 'env-bespin-token',
    };

    it('win over the file for every secret', () => {
      const config = loadFixture('complete-0.11.3.yaml', env);
      expect(config.workQueue.password).to.equal('env-amqp-password');
      expect(config.workQueue.workerPassword).to.equal('env-worker-password');
      expect(config.clusterApiSettings.token).to.equal('env-cluster-token');
      expect(config.bespinApi.token).to.equal('env-bespin-token');
    });

    it('supply required secrets the file leaves out', () => {
      const file = variant((document) => {
        document.deleteIn(['work_queue', 'password']);
        document.deleteIn(['bespin_api', 'token']);
      });
      const config = loadConfig(file, { LANDO_WORK_QUEUE_PASSWORD: 'p', LANDO_BESPIN_TOKEN: 't' });
      expect(config.workQueue.password).to.equal('p');
      expect(config.bespinApi.token).to.equal('t');
    });

    it('name the variable when its value is wrong', () => {
      expect(configError(fixture('minimal.yaml'), { LANDO_BESPIN_TOKEN: '' }).problems).to.deep.equal([
        'bespin_api.token (from LANDO_BESPIN_TOKEN) must not be empty',
      ]);
    });

    it('do not touch settings that are not secrets', () => {
      const config = loadFixture('minimal.yaml', { LANDO_WORK_QUEUE_HOST: 'elsewhere', LANDO_LOG_LEVEL: 'DEBUG' });
      expect(config.workQueue.host).to.equal('rabbitmq');
      expect(config.logLevel).to.equal('warn');
    });
  });

  describe('secrets in errors', () => {
    it('never shows a secret given with the wrong type', () => {
      const { message } = configError(fixture('broken-types.yaml'));
      expect(message).not.to.include('12345678');
      expect(message).not.to.include('listed-bespin-secret');
    });

    it('never shows a secret written where a section belongs', () => {
      const { message } = configError(withSetting('bespin_api', 'section-secret-token'));
      expect(message).not.to.include('section-secret-token');
    });

    it('never shows a secret, whatever is wrong with it or around it', () => {
      const secretSettings: Array<{ path: string; env: string }> = [];
      forEachSetting(CONFIG_SCHEMA, (path, spec) => {
        if (spec.sensitive) secretSettings.push({ path, env: spec.env as string });
      });
      const marker = fc.stringMatching(/^[a-z0-9]{6,12}$/).map((text) => `SECRET-${text}`);
      const secretValue = fc.oneof(
        marker,
        fc.integer({ min: 10_000_000, max: 2_000_000_000 }),
        fc.array(marker, { minLength: 1, maxLength: 3 }),
        fc.dictionary(marker, marker, { minKeys: 1, maxKeys: 2 }),
      );
      fc.assert(
        fc.property(
          fc.constantFrom(...secretSettings),
          secretValue,
          fc.constantFrom<[string, unknown]>(
            ['work_queue.prefetch', 'ten'],
            ['cluster_api_settings.verify_ssl', 'maybe'],
            ['work_queue.host', null],
          ),
          fc.boolean(),
          ({ path, env }, secret, [brokenPath, brokenValue], viaEnv) => {
            // The environment holds only text; other values go in the file.
            const inEnv = viaEnv && typeof secret === 'string';
            const file = variant((document) => {
              document.setIn(brokenPath.split('.'), brokenValue);
              if (!inEnv) document.setIn(path.split('.'), secret);
            }, 'complete-0.11.3.yaml');
            const { message } = configError(file, inEnv ? { [env]: secret } : {});
            const texts = typeof secret === 'object' ? JSON.stringify(secret).match(/SECRET-[a-z0-9]+/g) ?? [] : [String(secret)];
            for (const text of texts) expect(message).not.to.include(text);
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  describe('settings for the domain', () => {
    it('hands lando its settings', () => {
      expect(landoSettingsFrom(loadFixture('complete-0.11.3.yaml'))).to.deep.equal({
        storageClassName: 'glusterfs-storage',
        baseStageDataVolumeSizeInG: 1,
        dataStoreSecretName: 'ddsclient-agent',
        systemDataVolume: { volumeClaimName: 'system-data', mountPath: '/bespin/system/' },
        recordOutputProjectServiceAccount: 'annotation-writer-sa',
        installationLabel: undefined,
      });
    });

    it('hands the watcher its settings', () => {
      expect(watcherSettingsFrom(loadWith('watcher', { max_log_bytes: 4096 }))).to.deep.equal({
        maxLogBytes: 4096,
        imagePullGraceMs: 300_000,
        unschedulableGraceMs: 900_000,
        stuckPodScanMs: 30_000,
        installationLabel: undefined,
      });
    });
  });

  describe('schema', () => {
    it('has defaults that pass their own formats', () => {
      forEachSetting(CONFIG_SCHEMA, (path, spec) => {
        if (spec.default !== null) expect(formatProblem(spec, spec.default), path).to.equal(undefined);
      });
    });

    it('documents every setting', () => {
      forEachSetting(CONFIG_SCHEMA, (path, spec) => {
        expect(spec.doc, path).to.match(/\w{3,}/);
      });
    });

    it('lets every secret be overridden from the environment', () => {
      forEachSetting(CONFIG_SCHEMA, (path, spec) => {
        if (spec.sensitive) expect(spec.env, path).to.match(/^LANDO_[A-Z_]+$/);
      });
    });
  });
});
