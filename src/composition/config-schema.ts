/**
 * The configuration file's schema (config.md §2 plus this service's additions), as a convict
 * schema whose every setting carries a doc string, so a documentation generator can read it.
 *
 * Keys are snake_case exactly as the Python service reads them. A setting with `default: null`
 * and no `nullable` is required; `nullable: true` makes it optional with no value. Values are
 * checked by the named formats below, which are also registered with convict.
 */
import convict from 'convict';
import type { LogLevel } from './logger.js';

/** How the work queue's message bodies are encoded. */
export type MessageFormat = 'pickle' | 'json';

/**
 * The value type each format accepts; the settings' types are derived from it. The names avoid
 * convict's own (boolean, port, int, ...), for which convict would coerce text: it reads
 * `verify_ssl: maybe` as true.
 */
interface FormatValues {
  readonly text: string;
  readonly 'host-name': string;
  readonly 'dns-label': string;
  readonly 'dns-subdomain': string;
  readonly 'absolute-path': string;
  readonly 'queue-name': string;
  readonly 'true-or-false': boolean;
  readonly 'positive-integer': number;
  readonly 'non-negative-integer': number;
  readonly 'port-number': number;
  readonly 'port-number-or-zero': number;
  readonly 'message-format': MessageFormat;
  /** A Python level name or number, as the original accepts; see `pythonLogLevel`. */
  readonly 'log-level': string | number;
  /** `key=value`; see `parseLabel`. */
  readonly label: string;
}

export type FormatName = keyof FormatValues;

export interface SettingSpec {
  readonly doc: string;
  readonly format: FormatName;
  readonly default: string | number | boolean | null;
  /** Optional setting without a default. */
  readonly nullable?: boolean;
  /** Never shown in error messages, and masked by convict's `toString`. */
  readonly sensitive?: boolean;
  /** Environment variable that overrides the file's value. */
  readonly env?: string;
  /** Optional as long as its section is absent, required once the section is given. */
  readonly requiredInSection?: boolean;
}

export interface SettingsSection {
  readonly [key: string]: SettingSpec | SettingsSection;
}

const MESSAGE_FORMATS: readonly MessageFormat[] = ['pickle', 'json'];

const PYTHON_LEVEL_NAMES: ReadonlyMap<string, LogLevel> = new Map([
  ['DEBUG', 'debug'],
  ['INFO', 'info'],
  ['WARNING', 'warn'],
  ['WARN', 'warn'],
  ['ERROR', 'error'],
  ['CRITICAL', 'fatal'],
  ['FATAL', 'fatal'],
]);

const PYTHON_LEVEL_NUMBERS: ReadonlyMap<number, LogLevel> = new Map([
  [10, 'debug'],
  [20, 'info'],
  [30, 'warn'],
  [40, 'error'],
  [50, 'fatal'],
]);

/** The bunyan level for a Python logging level name (any case) or number; undefined if unknown. */
export function pythonLogLevel(value: unknown): LogLevel | undefined {
  if (typeof value === 'string') return PYTHON_LEVEL_NAMES.get(value.toUpperCase());
  if (typeof value === 'number') return PYTHON_LEVEL_NUMBERS.get(value);
  return undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_NAME_RULE =
  'up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';

function isDnsSubdomain(text: string): boolean {
  return text.length <= 253 && DNS_SUBDOMAIN.test(text);
}

/** Problem with a Kubernetes label key (optional DNS-subdomain prefix and "/", then a name). */
function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = key.slice(slash + 1);
  if (prefix !== undefined && !isDnsSubdomain(prefix)) {
    return `has a label key prefix "${prefix}" that is not a DNS subdomain (lower-case letters, digits, "-" and ".", at most 253 characters)`;
  }
  if (name.length > 63 || !LABEL_NAME.test(name)) {
    return `has a label key name "${name}" that is not ${LABEL_NAME_RULE}`;
  }
  return undefined;
}

function labelValueProblem(value: string): string | undefined {
  if (value === '' || (value.length <= 63 && LABEL_NAME.test(value))) return undefined;
  return `has a label value "${value}" that is not ${LABEL_NAME_RULE}`;
}

/** Splits a validated `key=value` label at its first "=". */
export function parseLabel(text: string): { readonly key: string; readonly value: string } {
  const equals = text.indexOf('=');
  return { key: text.slice(0, equals), value: text.slice(equals + 1) };
}

/**
 * How a bad value is shown in a problem: quoted text or the number itself, or only its kind for a
 * secret, whose value must never reach an error message.
 */
export function describeValue(value: unknown, sensitive: boolean): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'object') return 'a mapping';
  if (sensitive) return typeof value === 'string' ? 'text' : `a ${typeof value}`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

type Check = (value: unknown, sensitive: boolean) => string | undefined;

const text: Check = (value, sensitive) => {
  if (typeof value !== 'string') {
    // YAML reads an unquoted 123 or true as a number or boolean.
    const hint = typeof value === 'object' ? '' : ' (put it in quotes to make it text)';
    return `must be text, got ${describeValue(value, sensitive)}${hint}`;
  }
  return value.trim() === '' ? 'must not be empty' : undefined;
};

function textWhere(isValid: (value: string) => boolean, expectation: string): Check {
  return (value, sensitive) => {
    const problem = text(value, sensitive);
    if (problem !== undefined || isValid(value as string)) return problem;
    return `must be ${expectation}, got ${describeValue(value, sensitive)}`;
  };
}

function integerWithin(min: number, max: number, expectation: string): Check {
  return (value, sensitive) =>
    Number.isInteger(value) && (value as number) >= min && (value as number) <= max
      ? undefined
      : `must be ${expectation}, got ${describeValue(value, sensitive)}`;
}

const CHECKS: { readonly [F in FormatName]: Check } = {
  text,
  'host-name': textWhere(
    (value) => !/[\s/]/.test(value) && !/^[^:]+:\d+$/.test(value),
    'a host name without scheme or port (the port is work_queue.port)',
  ),
  'dns-label': textWhere(
    (value) => value.length <= 63 && DNS_LABEL.test(value),
    'a Kubernetes name of at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit',
  ),
  'dns-subdomain': textWhere(
    isDnsSubdomain,
    'a Kubernetes name of at most 253 lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
  ),
  'absolute-path': textWhere((value) => value.startsWith('/'), 'an absolute path'),
  'queue-name': textWhere(
    (value) => Buffer.byteLength(value, 'utf8') <= 255,
    'an AMQP queue name of at most 255 bytes',
  ),
  'true-or-false': (value, sensitive) =>
    typeof value === 'boolean' ? undefined : `must be true or false, got ${describeValue(value, sensitive)}`,
  'positive-integer': integerWithin(1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
  'non-negative-integer': integerWithin(0, Number.MAX_SAFE_INTEGER, 'a non-negative integer'),
  'port-number': integerWithin(1, 65535, 'a port number from 1 to 65535'),
  'port-number-or-zero': integerWithin(0, 65535, 'a port number from 1 to 65535, or 0'),
  'message-format': (value, sensitive) =>
    MESSAGE_FORMATS.includes(value as MessageFormat)
      ? undefined
      : `must be one of ${MESSAGE_FORMATS.join(', ')}, got ${describeValue(value, sensitive)}`,
  'log-level': (value, sensitive) =>
    pythonLogLevel(value) !== undefined
      ? undefined
      : `must be a Python log level name (${[...PYTHON_LEVEL_NAMES.keys()].join(', ')}, any case) ` +
        `or number (${[...PYTHON_LEVEL_NUMBERS.keys()].join(', ')}), got ${describeValue(value, sensitive)}`,
  label: (value, sensitive) => {
    const problem = text(value, sensitive);
    if (problem !== undefined) return problem;
    if (!(value as string).includes('=')) return `must be key=value, got ${describeValue(value, sensitive)}`;
    const { key, value: labelValue } = parseLabel(value as string);
    return labelKeyProblem(key) ?? labelValueProblem(labelValue);
  },
};

/** What is wrong with a (non-null) value of a setting, or undefined when it is fine. */
export function formatProblem(spec: SettingSpec, value: unknown): string | undefined {
  return CHECKS[spec.format](value, spec.sensitive === true);
}

convict.addFormats(
  Object.fromEntries(
    Object.entries(CHECKS).map(([name, check]): [string, convict.Format] => [
      name,
      {
        validate(value: unknown, schema: convict.SchemaObj) {
          const problem = check(value, schema.sensitive === true);
          if (problem !== undefined) throw new Error(problem);
        },
      },
    ]),
  ),
);

/**
 * Handlers lando runs at once. Near the API servers lando is CPU-bound at about 8: more only
 * makes every handler share the core with more others (N = 100 benchmark: step transition p95
 * 120-140 ms at 8, 170-250 ms at 16, the same throughput). Far from them, more hides latency.
 */
export const DEFAULT_CONCURRENCY = 8;
/** Deliveries lando holds: a backlog deep enough that the jobs in flight are moved on before new ones start (see CommandDispatcher). */
export const DEFAULT_PREFETCH = 128;

export const DEFAULT_RECORD_OUTPUT_PROJECT_SERVICE_ACCOUNT = 'lando-record-output-project';

export const CONFIG_SCHEMA = {
  work_queue: {
    host: {
      doc: 'RabbitMQ host name (no scheme, no port).',
      format: 'host-name',
      default: null,
    },
    port: {
      doc: 'RabbitMQ port. The original always uses 5672; AMQPS brokers usually listen on 5671.',
      format: 'port-number',
      default: 5672,
    },
    vhost: { doc: 'RabbitMQ virtual host.', format: 'text', default: '/' },
    username: { doc: 'AMQP user of lando and the watcher.', format: 'text', default: null },
    password: {
      doc: 'AMQP password of `username`.',
      format: 'text',
      default: null,
      sensitive: true,
      env: 'LANDO_WORK_QUEUE_PASSWORD',
    },
    worker_username: {
      doc: 'Credential of the VM-based worker. Required by the original, unused by the k8s services; accepted and optional.',
      format: 'text',
      default: null,
      nullable: true,
    },
    worker_password: {
      doc: 'Password of `worker_username`; unused by the k8s services, accepted and optional.',
      format: 'text',
      default: null,
      nullable: true,
      sensitive: true,
      env: 'LANDO_WORK_QUEUE_WORKER_PASSWORD',
    },
    listen_queue: {
      doc: "Queue lando consumes and the watcher publishes to; must equal bespin-api's LandoConnection.queue_name.",
      format: 'queue-name',
      default: null,
    },
    tls: {
      doc: 'Connect to RabbitMQ over TLS (AMQPS). The original has no TLS.',
      format: 'true-or-false',
      default: false,
    },
    tls_ca_cert: {
      doc: "Path to a CA bundle to verify RabbitMQ's certificate; only with `tls: true`. Default: the system CAs.",
      format: 'text',
      default: null,
      nullable: true,
    },
    heartbeat_seconds: {
      doc: 'AMQP heartbeat interval requested from the broker; 0 disables heartbeats.',
      format: 'non-negative-integer',
      default: 30,
    },
    prefetch: {
      doc: 'How many unacknowledged deliveries lando holds at once (the original takes 1); `lando.concurrency` of them are handled at a time, step outcomes and cancels before new jobs. At least `lando.concurrency` is used.',
      format: 'positive-integer',
      default: DEFAULT_PREFETCH,
    },
    dead_letter_queue: {
      doc: 'Queue that receives deliveries which cannot be handled. Default: `<listen_queue>.dead-letter`.',
      format: 'queue-name',
      default: null,
      nullable: true,
    },
    message_format: {
      doc: 'Encoding of the message bodies lando and the watcher publish: `pickle` as the original, or `json`.',
      format: 'message-format',
      default: 'pickle',
    },
    max_attempts: {
      doc: 'How many times a delivery is tried. A command still failing on its last attempt errors its job with the reason; one that cannot be handled at all is dead-lettered.',
      format: 'positive-integer',
      default: 8,
    },
    retry_delay_ms: {
      doc: 'Wait in milliseconds before a failed delivery is tried again the first time; it doubles with each failure (with jitter), up to `max_retry_delay_ms`. The defaults ride out about two minutes of trouble, such as a claim still terminating after a cancel.',
      format: 'non-negative-integer',
      default: 1000,
    },
    max_retry_delay_ms: {
      doc: 'The longest wait between two attempts of a delivery, in milliseconds. At least `retry_delay_ms`.',
      format: 'non-negative-integer',
      default: 60_000,
    },
  },
  cluster_api_settings: {
    host: {
      doc:
        'Kubernetes API server URL. Give both `host` and `token`, or neither: then the in-cluster ' +
        'service account or the kubeconfig is used. Not checked for URL syntax, so the README ' +
        "example's placeholder loads; a bad URL fails on the first request.",
      format: 'text',
      default: null,
      nullable: true,
    },
    token: {
      doc: "Bearer token of lando's service account; see `host`.",
      format: 'text',
      default: null,
      nullable: true,
      sensitive: true,
      env: 'LANDO_CLUSTER_TOKEN',
    },
    namespace: {
      doc: 'Namespace of every object lando creates and of the watch.',
      format: 'dns-label',
      default: null,
    },
    verify_ssl: {
      doc: "Verify the API server's TLS certificate.",
      format: 'true-or-false',
      default: true,
    },
    ssl_ca_cert: {
      doc: 'Path to a CA bundle to verify the API server with.',
      format: 'text',
      default: null,
      nullable: true,
    },
  },
  bespin_api: {
    url: {
      doc: 'bespin-api v2 root without trailing slash, e.g. https://bespin.example.org/api/v2. Not checked for URL syntax (see cluster_api_settings.host).',
      format: 'text',
      default: null,
    },
    token: {
      doc: 'DRF token of a bespin-api staff user.',
      format: 'text',
      default: null,
      sensitive: true,
      env: 'LANDO_BESPIN_TOKEN',
    },
  },
  data_store_settings: {
    secret_name: {
      doc: 'Secret holding the DukeDS client config under key `config`; mounted in the stage and save pods.',
      format: 'dns-subdomain',
      default: null,
    },
  },
  run_workflow_settings: {
    system_data_volume: {
      volume_claim_name: {
        doc:
          'Existing PVC mounted read-only in the run_workflow pod; required when system_data_volume is given. ' +
          'The original also requires the (possibly empty) run_workflow_settings section; here it is optional.',
        format: 'dns-subdomain',
        default: null,
        nullable: true,
        requiredInSection: true,
      },
      mount_path: {
        doc: 'Where that PVC is mounted in the run_workflow container, e.g. /bespin/system/; required when system_data_volume is given.',
        format: 'absolute-path',
        default: null,
        nullable: true,
        requiredInSection: true,
      },
    },
  },
  record_output_project_settings: {
    service_account_name: {
      doc:
        'Service account of the record_output_project pod (it must be allowed to annotate pods). ' +
        `Required by the original; here it defaults to ${DEFAULT_RECORD_OUTPUT_PROJECT_SERVICE_ACCOUNT}, ` +
        "so the seed README's example, which lacks it, loads (W25).",
      format: 'dns-subdomain',
      default: DEFAULT_RECORD_OUTPUT_PROJECT_SERVICE_ACCOUNT,
    },
  },
  storage_class_name: {
    doc: 'storageClassName of the created PVCs. Default: the cluster default class.',
    format: 'dns-subdomain',
    default: null,
    nullable: true,
  },
  base_stage_data_volume_size_in_g: {
    doc: 'GiB added to the summed input size for the job-data PVC.',
    format: 'non-negative-integer',
    default: 1,
  },
  log_level: {
    doc: 'Python logging level name (DEBUG, INFO, WARNING/WARN, ERROR, CRITICAL/FATAL, any case) or number (10 to 50); mapped to the bunyan level.',
    format: 'log-level',
    default: 'WARNING',
  },
  health_port: {
    doc: 'Port of the HTTP health and metrics endpoint; 0 disables it.',
    format: 'port-number-or-zero',
    default: 0,
  },
  lando: {
    concurrency: {
      doc: 'How many commands lando handles at the same time (different jobs only). Each command makes about six requests to bespin-api and the API server one after another: raise it when those are far away (tens of milliseconds per request).',
      format: 'positive-integer',
      default: DEFAULT_CONCURRENCY,
    },
    handler_timeout_seconds: {
      doc: 'A command still running after this long is abandoned and retried.',
      format: 'positive-integer',
      default: 300,
    },
    shutdown_grace_seconds: {
      doc: 'On SIGTERM, how long commands in flight may take to finish before lando exits.',
      format: 'non-negative-integer',
      default: 30,
    },
    leases: {
      doc: 'Take a per-job Lease in the namespace so two lando replicas never work on one job at once.',
      format: 'true-or-false',
      default: false,
    },
    lease_duration_seconds: {
      doc: 'Duration of those per-job Leases.',
      format: 'positive-integer',
      default: 30,
    },
    installation_label: {
      doc:
        'Extra Kubernetes label `key=value` put on every object and into every selector, so two ' +
        'installations can share a namespace (W20). Used by lando and the watcher. Default: none.',
      format: 'label',
      default: null,
      nullable: true,
    },
  },
  watcher: {
    max_log_bytes: {
      doc: "A failed pod's log is cut to its last this-many bytes before it is sent (W19).",
      format: 'positive-integer',
      default: 65536,
    },
    image_pull_grace_seconds: {
      doc: 'A pod that cannot pull its image for this long fails its job.',
      format: 'non-negative-integer',
      default: 300,
    },
    unschedulable_grace_seconds: {
      doc: 'A pod that stays unschedulable for this long fails its job.',
      format: 'non-negative-integer',
      default: 900,
    },
    stuck_pod_scan_seconds: {
      doc: 'Interval of the scan for pods that cannot start (image pull, missing Secret, unschedulable); a stuck pod is reported up to this long after its grace.',
      format: 'positive-integer',
      default: 30,
    },
    resync_seconds: {
      doc: 'Interval of the full re-list of jobs, which catches events missed by the watch.',
      format: 'positive-integer',
      default: 300,
    },
    watch_idle_timeout_seconds: {
      doc: 'A watch that delivers nothing for this long is restarted.',
      format: 'positive-integer',
      default: 600,
    },
    leader_election: {
      doc: 'Run several watcher replicas of which only the Lease holder acts.',
      format: 'true-or-false',
      default: false,
    },
    lease_duration_seconds: {
      doc: 'Leader election: how long a Lease is valid; must exceed renew_deadline_seconds.',
      format: 'positive-integer',
      default: 15,
    },
    renew_deadline_seconds: {
      doc: 'Leader election: the leader gives up if it cannot renew within this; must exceed retry_period_seconds.',
      format: 'positive-integer',
      default: 10,
    },
    retry_period_seconds: {
      doc: 'Leader election: interval between attempts to take or renew the Lease.',
      format: 'positive-integer',
      default: 2,
    },
  },
} satisfies SettingsSection;

type SettingValue<S extends SettingSpec> =
  | FormatValues[S['format']]
  | (S extends { readonly nullable: true } ? null : never);

/** The settings of a schema section once validated and completed with defaults. */
export type SettingsOf<S> = {
  readonly [K in keyof S]: S[K] extends SettingSpec ? SettingValue<S[K]> : SettingsOf<S[K]>;
};

/** The configuration file's content, snake_case as in the file, after validation. */
export type RawConfig = SettingsOf<typeof CONFIG_SCHEMA>;

export function isSettingSpec(node: SettingSpec | SettingsSection): node is SettingSpec {
  return 'default' in node;
}

/** Calls `visit` with the dotted path of every setting, depth first in schema order. */
export function forEachSetting(
  section: SettingsSection,
  visit: (path: string, spec: SettingSpec) => void,
  prefix = '',
): void {
  for (const [key, node] of Object.entries(section)) {
    const path = prefix + key;
    if (isSettingSpec(node)) visit(path, node);
    else forEachSetting(node, visit, `${path}.`);
  }
}
