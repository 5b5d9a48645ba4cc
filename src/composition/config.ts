/**
 * Loads the YAML configuration file shared by lando and the watcher (config.md), validates it
 * against CONFIG_SCHEMA and returns it frozen and camelCase. Every problem found is reported at
 * once in a ConfigError whose message names the file and the key and never shows a secret.
 */
import { readFileSync } from 'node:fs';
import convict from 'convict';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import type { LandoSettings, WatcherSettings } from '../domain/settings.js';
import {
  CONFIG_SCHEMA,
  describeValue,
  forEachSetting,
  formatProblem,
  isSettingSpec,
  parseLabel,
  pythonLogLevel,
  type MessageFormat,
  type RawConfig,
  type SettingSpec,
  type SettingsSection,
} from './config-schema.js';
import type { LogLevel } from './logger.js';

export interface WorkQueueConfig {
  /** RabbitMQ host name. */
  readonly host: string;
  /** RabbitMQ port (5672 unless configured). */
  readonly port: number;
  /** RabbitMQ virtual host ('/' unless configured). */
  readonly vhost: string;
  /** AMQP user of lando and the watcher. */
  readonly username: string;
  /** Secret: AMQP password. */
  readonly password: string;
  /** Unused by the k8s services; kept because the original format has it. */
  readonly workerUsername?: string;
  /** Secret, unused by the k8s services. */
  readonly workerPassword?: string;
  /** lando's command queue, which the watcher publishes to. */
  readonly listenQueue: string;
  /** Connect with AMQPS. */
  readonly tls: boolean;
  /** CA bundle path for the broker's certificate; undefined means the system CAs. */
  readonly tlsCaCert?: string;
  /** Requested AMQP heartbeat; 0 disables it. */
  readonly heartbeatSeconds: number;
  /** Unacknowledged deliveries lando holds at once. */
  readonly prefetch: number;
  /** Where undeliverable commands go; `<listenQueue>.dead-letter` unless configured. */
  readonly deadLetterQueue: string;
  /** Encoding of the bodies lando and the watcher publish. */
  readonly messageFormat: MessageFormat;
  /** Attempts at one delivery before it is dead-lettered. */
  readonly maxAttempts: number;
  /** Wait before a failed delivery is tried again the first time; doubles per failure. */
  readonly retryDelayMs: number;
  /** The longest wait between two attempts. */
  readonly maxRetryDelayMs: number;
}

export interface ClusterApiConfig {
  /** API server URL; undefined (with `token`) means in-cluster service account or kubeconfig. */
  readonly host?: string;
  /** Secret: bearer token; present exactly when `host` is. */
  readonly token?: string;
  /** Namespace of every object and of the watch. */
  readonly namespace: string;
  /** Verify the API server's certificate. */
  readonly verifySsl: boolean;
  /** CA bundle path for the API server's certificate. */
  readonly sslCaCert?: string;
}

export interface LandoConfig {
  /** Commands handled at the same time. */
  readonly concurrency: number;
  /** A command running longer is abandoned and retried. */
  readonly handlerTimeoutSeconds: number;
  /** On SIGTERM, how long commands in flight may still take. */
  readonly shutdownGraceSeconds: number;
  /** Take a per-job Lease so two replicas never work on one job at once. */
  readonly leases: boolean;
  /** Duration of those Leases. */
  readonly leaseDurationSeconds: number;
  /** Extra label on every object and selector, shared with the watcher (W20). */
  readonly installationLabel?: { readonly key: string; readonly value: string };
}

export interface WatcherConfig {
  /** Failed pods' logs are cut to their last this-many bytes (W19). */
  readonly maxLogBytes: number;
  /** An image that cannot be pulled for this long fails the job. */
  readonly imagePullGraceSeconds: number;
  /** A pod unschedulable for this long fails the job. */
  readonly unschedulableGraceSeconds: number;
  /** Interval of the scan for pods that cannot start. */
  readonly stuckPodScanSeconds: number;
  /** Interval of the full re-list that catches missed events. */
  readonly resyncSeconds: number;
  /** A watch silent for this long is restarted. */
  readonly watchIdleTimeoutSeconds: number;
  /** Only the holder of the Lease acts; the other replicas wait. */
  readonly leaderElection: boolean;
  /** Leader election timing; lease > renew deadline > retry period. */
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
}

/** The validated configuration file; field names mirror the YAML keys in camelCase. */
export interface AppConfig {
  readonly workQueue: WorkQueueConfig;
  readonly clusterApiSettings: ClusterApiConfig;
  readonly bespinApi: {
    /** bespin-api v2 root, e.g. https://bespin.example.org/api/v2. */
    readonly url: string;
    /** Secret: DRF token of a staff user. */
    readonly token: string;
  };
  readonly dataStoreSettings: {
    /** Secret object holding the DukeDS client config, mounted in stage and save pods. */
    readonly secretName: string;
  };
  readonly runWorkflowSettings: {
    /** Existing PVC mounted read-only in the run_workflow pod; undefined for none. */
    readonly systemDataVolume?: { readonly volumeClaimName: string; readonly mountPath: string };
  };
  readonly recordOutputProjectSettings: {
    /** Service account of the record_output_project pod. */
    readonly serviceAccountName: string;
  };
  /** storageClassName of created PVCs; undefined means the cluster default. */
  readonly storageClassName?: string;
  /** GiB added to the summed input size for the job-data PVC. */
  readonly baseStageDataVolumeSizeInG: number;
  /** bunyan level mapped from the Python level in the file. */
  readonly logLevel: LogLevel;
  /** Port of the health and metrics endpoint; 0 means disabled. */
  readonly healthPort: number;
  readonly lando: LandoConfig;
  readonly watcher: WatcherConfig;
  /** Dotted paths of keys the schema does not know; ignored, as the original does, but worth a warning. */
  readonly unknownKeys: readonly string[];
}

/** The configuration file cannot be used; the message lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(problems.map((problem) => `${file}: ${problem}`).join('\n'));
  }
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const selection = selectKnownKeys(path, readYaml(path));
  const settings = convict<unknown>(CONFIG_SCHEMA, { env, args: [] }).load(selection.known).getProperties();
  const problems = [...selection.problems, ...settingProblems(settings, selection, env)];
  // Rules across settings are checked only on values that are valid on their own.
  if (problems.length === 0) problems.push(...crossSettingProblems(settings as RawConfig, env));
  if (problems.length > 0) throw new ConfigError(path, problems);
  return deepFreeze(toAppConfig(settings as RawConfig, selection.unknownKeys));
}

export function landoSettingsFrom(config: AppConfig): LandoSettings {
  return {
    storageClassName: config.storageClassName,
    baseStageDataVolumeSizeInG: config.baseStageDataVolumeSizeInG,
    dataStoreSecretName: config.dataStoreSettings.secretName,
    systemDataVolume: config.runWorkflowSettings.systemDataVolume,
    recordOutputProjectServiceAccount: config.recordOutputProjectSettings.serviceAccountName,
    installationLabel: config.lando.installationLabel,
  };
}

export function watcherSettingsFrom(config: AppConfig): WatcherSettings {
  return {
    maxLogBytes: config.watcher.maxLogBytes,
    installationLabel: config.lando.installationLabel,
    imagePullGraceMs: config.watcher.imagePullGraceSeconds * 1000,
    unschedulableGraceMs: config.watcher.unschedulableGraceSeconds * 1000,
    stuckPodScanMs: config.watcher.stuckPodScanSeconds * 1000,
  };
}

const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp';

function readYaml(path: string): unknown {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read file: ${(error as Error).message}`]);
  }
  const lineCounter = new LineCounter();
  // YAML 1.1 as PyYAML reads it (yes/no are booleans), except that date-like values stay text:
  // no setting is a date, and convict would turn a Date into an empty mapping. No pretty
  // errors: they quote the offending source line, which may hold a secret.
  const document = parseDocument(source, {
    version: '1.1',
    customTags: (tags) => tags.filter((tag) => typeof tag === 'string' || tag.tag !== TIMESTAMP_TAG),
    prettyErrors: false,
    lineCounter,
    logLevel: 'error',
  });
  const syntaxProblems = [...document.errors, ...document.warnings].map((error) =>
    yamlProblem(error, lineCounter),
  );
  if (syntaxProblems.length > 0) throw new ConfigError(path, syntaxProblems);
  let content: unknown;
  try {
    content = document.toJS();
  } catch (error) {
    // Unresolved aliases and alias bombs are found only while building the values.
    throw new ConfigError(path, [`not valid YAML: ${(error as Error).message}`]);
  }
  if (content === null || content === undefined) throw new ConfigError(path, ['the file is empty']);
  return content;
}

function yamlProblem(error: YAMLError, lineCounter: LineCounter): string {
  const reason =
    error.code === 'MULTIPLE_DOCS' ? 'the file holds more than one YAML document' : error.message;
  const offset = error.pos[0];
  if (offset < 0) return `not valid YAML: ${reason}`;
  const { line, col } = lineCounter.linePos(offset);
  return `not valid YAML at line ${line}, column ${col}: ${reason}`;
}

interface KeySelection {
  /** The document restricted to the schema's keys, without null values. */
  readonly known: Record<string, unknown>;
  readonly unknownKeys: string[];
  /** Keys present with no value, so "missing" can say "has no value" instead. */
  readonly emptyKeys: Set<string>;
  /** Sections present as mappings. */
  readonly givenSections: Set<string>;
  /** Sections given something other than a mapping; their settings are not reported again. */
  readonly malformedSections: Set<string>;
  readonly problems: string[];
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Splits the document into the keys the schema knows and those it does not, so convict only
 * sees the former. A key with no value counts as absent, so an optional one takes its default.
 */
function selectKnownKeys(path: string, document: unknown): KeySelection {
  if (!isMapping(document)) {
    throw new ConfigError(path, [
      `the top level must be a mapping of settings, got ${describeValue(document, true)}`,
    ]);
  }
  const selection: KeySelection = {
    known: {},
    unknownKeys: [],
    emptyKeys: new Set(),
    givenSections: new Set(),
    malformedSections: new Set(),
    problems: [],
  };
  const visit = (
    schema: SettingsSection,
    mapping: Record<string, unknown>,
    into: Record<string, unknown>,
    prefix: string,
  ) => {
    for (const [key, value] of Object.entries(mapping)) {
      const keyPath = prefix + key;
      const node = Object.hasOwn(schema, key) ? schema[key] : undefined;
      if (node === undefined) {
        selection.unknownKeys.push(keyPath);
      } else if (value === null) {
        selection.emptyKeys.add(keyPath);
      } else if (isSettingSpec(node)) {
        into[key] = value;
      } else if (isMapping(value)) {
        selection.givenSections.add(keyPath);
        const section: Record<string, unknown> = {};
        into[key] = section;
        visit(node, value, section, `${keyPath}.`);
      } else {
        selection.malformedSections.add(keyPath);
        // The value is not shown: a misplaced secret may sit where a section belongs.
        selection.problems.push(`${keyPath} must be a mapping of settings, got ${describeValue(value, true)}`);
      }
    }
  };
  visit(CONFIG_SCHEMA, document, selection.known, '');
  return selection;
}

function valueAt(settings: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], settings);
}

/** A setting's name in problems, saying when its value came from the environment. */
function settingName(path: string, spec: SettingSpec, env: NodeJS.ProcessEnv): string {
  return spec.env !== undefined && env[spec.env] !== undefined ? `${path} (from ${spec.env})` : path;
}

function settingProblems(settings: unknown, selection: KeySelection, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const isInMalformedSection = (path: string): boolean =>
    [...selection.malformedSections].some((section) => path.startsWith(`${section}.`));
  forEachSetting(CONFIG_SCHEMA, (path, spec) => {
    if (isInMalformedSection(path)) return;
    const value = valueAt(settings, path);
    if (value !== null) {
      const problem = formatProblem(spec, value);
      if (problem !== undefined) problems.push(`${settingName(path, spec, env)} ${problem}`);
      return;
    }
    const section = path.slice(0, path.lastIndexOf('.'));
    if (!spec.nullable) {
      const absence = selection.emptyKeys.has(path) ? 'has no value' : 'missing';
      const alternative = spec.env === undefined ? '' : ` (it may also be given in ${spec.env})`;
      problems.push(`${path} is required but ${absence}${alternative}`);
    } else if (spec.requiredInSection && selection.givenSections.has(section)) {
      problems.push(`${path} is required when ${section} is given`);
    }
  });
  return problems;
}

function crossSettingProblems(raw: RawConfig, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const named = (path: string): string => settingName(path, specAt(path), env);
  const cluster = raw.cluster_api_settings;
  if ((cluster.host === null) !== (cluster.token === null)) {
    const [given, absent] =
      cluster.host === null
        ? ['cluster_api_settings.token', 'cluster_api_settings.host']
        : ['cluster_api_settings.host', 'cluster_api_settings.token'];
    problems.push(
      `${named(given)} is given but ${absent} is not; give both, or neither to use the in-cluster service account or kubeconfig`,
    );
  }
  const queue = raw.work_queue;
  if (queue.tls_ca_cert !== null && !queue.tls) {
    problems.push('work_queue.tls_ca_cert is given but work_queue.tls is false');
  }
  if (queue.dead_letter_queue === queue.listen_queue) {
    problems.push('work_queue.dead_letter_queue must differ from work_queue.listen_queue');
  }
  if (queue.max_retry_delay_ms < queue.retry_delay_ms) {
    problems.push(`work_queue.max_retry_delay_ms (${queue.max_retry_delay_ms}) must be at least work_queue.retry_delay_ms (${queue.retry_delay_ms})`);
  }
  const watcher = raw.watcher;
  type Timing = 'lease_duration_seconds' | 'renew_deadline_seconds' | 'retry_period_seconds';
  const mustExceed = (longer: Timing, shorter: Timing) => {
    if (watcher[longer] <= watcher[shorter]) {
      problems.push(
        `watcher.${longer} (${watcher[longer]}) must be greater than watcher.${shorter} (${watcher[shorter]})`,
      );
    }
  };
  mustExceed('lease_duration_seconds', 'renew_deadline_seconds');
  mustExceed('renew_deadline_seconds', 'retry_period_seconds');
  return problems;
}

function specAt(path: string): SettingSpec {
  return valueAt(CONFIG_SCHEMA, path) as SettingSpec;
}

function orUndefined<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

function toAppConfig(raw: RawConfig, unknownKeys: readonly string[]): AppConfig {
  const queue = raw.work_queue;
  const cluster = raw.cluster_api_settings;
  const volume = raw.run_workflow_settings.system_data_volume;
  const { lando, watcher } = raw;
  return {
    workQueue: {
      host: queue.host,
      port: queue.port,
      vhost: queue.vhost,
      username: queue.username,
      password: queue.password,
      workerUsername: orUndefined(queue.worker_username),
      workerPassword: orUndefined(queue.worker_password),
      listenQueue: queue.listen_queue,
      tls: queue.tls,
      tlsCaCert: orUndefined(queue.tls_ca_cert),
      heartbeatSeconds: queue.heartbeat_seconds,
      prefetch: queue.prefetch,
      deadLetterQueue: queue.dead_letter_queue ?? `${queue.listen_queue}.dead-letter`,
      messageFormat: queue.message_format,
      maxAttempts: queue.max_attempts,
      retryDelayMs: queue.retry_delay_ms,
      maxRetryDelayMs: queue.max_retry_delay_ms,
    },
    clusterApiSettings: {
      host: orUndefined(cluster.host),
      token: orUndefined(cluster.token),
      namespace: cluster.namespace,
      verifySsl: cluster.verify_ssl,
      sslCaCert: orUndefined(cluster.ssl_ca_cert),
    },
    bespinApi: { url: raw.bespin_api.url, token: raw.bespin_api.token },
    dataStoreSettings: { secretName: raw.data_store_settings.secret_name },
    runWorkflowSettings: {
      systemDataVolume:
        volume.volume_claim_name === null || volume.mount_path === null
          ? undefined
          : { volumeClaimName: volume.volume_claim_name, mountPath: volume.mount_path },
    },
    recordOutputProjectSettings: {
      serviceAccountName: raw.record_output_project_settings.service_account_name,
    },
    storageClassName: orUndefined(raw.storage_class_name),
    baseStageDataVolumeSizeInG: raw.base_stage_data_volume_size_in_g,
    // Validated by the log-level format, so the lookup always succeeds.
    logLevel: pythonLogLevel(raw.log_level) as LogLevel,
    healthPort: raw.health_port,
    lando: {
      concurrency: lando.concurrency,
      handlerTimeoutSeconds: lando.handler_timeout_seconds,
      shutdownGraceSeconds: lando.shutdown_grace_seconds,
      leases: lando.leases,
      leaseDurationSeconds: lando.lease_duration_seconds,
      installationLabel:
        lando.installation_label === null ? undefined : parseLabel(lando.installation_label),
    },
    watcher: {
      maxLogBytes: watcher.max_log_bytes,
      imagePullGraceSeconds: watcher.image_pull_grace_seconds,
      unschedulableGraceSeconds: watcher.unschedulable_grace_seconds,
      stuckPodScanSeconds: watcher.stuck_pod_scan_seconds,
      resyncSeconds: watcher.resync_seconds,
      watchIdleTimeoutSeconds: watcher.watch_idle_timeout_seconds,
      leaderElection: watcher.leader_election,
      leaseDurationSeconds: watcher.lease_duration_seconds,
      renewDeadlineSeconds: watcher.renew_deadline_seconds,
      retryPeriodSeconds: watcher.retry_period_seconds,
    },
    unknownKeys,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
