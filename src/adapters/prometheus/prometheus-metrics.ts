/**
 * The Metrics port over prom-client. Every metric the services report is declared up front in
 * METRIC_CATALOGUE, with its help text and label names, so the exposition is stable from the
 * first scrape and the README and a source check can be driven from one table.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { describeError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import type { MetricLabels, Metrics } from '../../ports/metrics.js';

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition {
  readonly kind: MetricKind;
  readonly help: string;
  /** Every report must carry exactly these labels (an empty list: no labels at all). */
  readonly labelNames: readonly string[];
}

/**
 * Handler durations run from a millisecond (an ignored command) to a minute (a slow Kubernetes
 * or bespin-api call); anything longer is counted in the implicit +Inf bucket.
 */
export const HANDLER_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The one list of metrics lando and the watcher report; a name missing here is rejected. */
export const METRIC_CATALOGUE = {
  lando_messages_handled_total: {
    kind: 'counter',
    help: 'Commands lando finished handling, by command and outcome (ack, retry or reject).',
    labelNames: ['command', 'outcome'],
  },
  lando_messages_ignored_total: {
    kind: 'counter',
    help: 'Commands lando acknowledged without acting, because the job was not in a state the command applies to.',
    labelNames: ['command'],
  },
  lando_handler_duration_seconds: {
    kind: 'histogram',
    help: 'How long lando took to handle one command, in seconds.',
    labelNames: ['command'],
  },
  lando_handler_timeouts_total: {
    kind: 'counter',
    help: 'Commands abandoned for a retry because their handler ran past handler_timeout_seconds.',
    labelNames: ['command'],
  },
  lando_jobs_errored_total: {
    kind: 'counter',
    help: 'Jobs lando put into the error state, by the command that was being handled.',
    labelNames: ['command'],
  },
  lando_progress_publish_failures_total: {
    kind: 'counter',
    help: 'Job progress notifications that could not be published.',
    labelNames: [],
  },
  lando_retries_total: {
    kind: 'counter',
    help: 'Deliveries put back on the work queue for another attempt, by kind of reason.',
    labelNames: ['reason_kind'],
  },
  lando_dead_lettered_total: {
    kind: 'counter',
    help: 'Deliveries moved to the dead-letter queue, by kind of reason.',
    labelNames: ['reason_kind'],
  },
  lando_active_jobs: {
    kind: 'gauge',
    help: 'Jobs with a command queued or being handled in this lando process.',
    labelNames: [],
  },
  lando_commands_waiting: {
    kind: 'gauge',
    help: 'Commands this lando process holds that wait for a free handler (lando.concurrency); step outcomes and cancels go first.',
    labelNames: [],
  },
  lando_amqp_connected: {
    kind: 'gauge',
    help: '1 while lando holds a connection to RabbitMQ, else 0.',
    labelNames: [],
  },
  lando_amqp_connection_attempts_total: {
    kind: 'counter',
    help: 'Attempts to connect to RabbitMQ, by outcome (connected or failed).',
    labelNames: ['outcome'],
  },
  lando_lease_conflicts_total: {
    kind: 'counter',
    help: 'Commands deferred because another lando replica held the job\'s Lease.',
    labelNames: [],
  },
  lando_lease_lost_total: {
    kind: 'counter',
    help: 'Renewals of a job\'s Lease refused because another lando replica had taken it while a command of the job was still running.',
    labelNames: [],
  },
  watcher_outcomes_reported_total: {
    kind: 'counter',
    help: 'Finished Kubernetes Jobs the watcher reported to lando, by step and outcome (complete or failed).',
    labelNames: ['step', 'outcome'],
  },
  watcher_watch_restarts_total: {
    kind: 'counter',
    help: 'Times the watcher restarted its Kubernetes watch, by reason.',
    labelNames: ['reason'],
  },
  watcher_relists_total: {
    kind: 'counter',
    help: 'Full relists of the labelled Jobs the watcher made to catch up after a gap.',
    labelNames: [],
  },
  watcher_running_step_jobs: {
    kind: 'gauge',
    help: 'Step Jobs in the cluster that have neither completed nor failed, by step (the reporting watcher only).',
    labelNames: ['step'],
  },
  watcher_oldest_running_step_job_seconds: {
    kind: 'gauge',
    help: 'Age of the oldest step Job that has neither completed nor failed, by step; 0 when there is none.',
    labelNames: ['step'],
  },
  watcher_leader: {
    kind: 'gauge',
    help: '1 while this watcher replica is the leader that reports outcomes, else 0.',
    labelNames: [],
  },
  watcher_stuck_pods_reported_total: {
    kind: 'counter',
    help: 'Pods reported as failed because they could not start in time, by reason.',
    labelNames: ['reason'],
  },
  watcher_listener_errors_total: {
    kind: 'counter',
    help: 'Errors thrown while handling a watched Job event.',
    labelNames: [],
  },
} as const satisfies Readonly<Record<string, MetricDefinition>>;

/** A report the catalogue does not allow: unknown name, wrong kind, wrong labels or a bad value. */
export class MetricUsageError extends Error {
  override readonly name = 'MetricUsageError';
}

export interface PrometheusMetricsOptions {
  /** Where rejected reports go when not strict; each distinct problem is logged once. */
  readonly logger: Logger;
  /**
   * True: a rejected report throws a MetricUsageError at the call site, which tests want.
   * False (the default, for production): it is logged and dropped, so a metrics mistake
   * never fails a job.
   */
  readonly strict?: boolean;
  /** Also export prom-client's process metrics (CPU, memory, event loop lag, GC); default true. */
  readonly processMetrics?: boolean;
}

/** A registered metric with the label names its reports must carry, sorted for comparison. */
type CatalogueMetric = { readonly labelNames: readonly string[] } & (
  | { readonly kind: 'counter'; readonly metric: Counter }
  | { readonly kind: 'gauge'; readonly metric: Gauge }
  | { readonly kind: 'histogram'; readonly metric: Histogram }
);

/** What each port call may report to. */
const KINDS_FOR: Readonly<Record<keyof Metrics, readonly MetricKind[]>> = {
  increment: ['counter', 'gauge'],
  set: ['gauge'],
  observe: ['histogram'],
};

/**
 * Owns its Registry rather than prom-client's global one, so tests and two roles in one
 * process never collide on metric names.
 */
export class PrometheusMetrics implements Metrics {
  private readonly registry = new Registry();
  /** Built from METRIC_CATALOGUE, so a name is known exactly when it is in this map. */
  private readonly byName = new Map<string, CatalogueMetric>();
  private readonly logger: Logger;
  private readonly strict: boolean;
  private readonly loggedProblems = new Set<string>();

  constructor(options: PrometheusMetricsOptions) {
    this.logger = options.logger;
    this.strict = options.strict ?? false;
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    for (const [name, definition] of Object.entries(METRIC_CATALOGUE)) {
      this.byName.set(name, this.create(name, definition));
    }
  }

  /** The Content-Type header value for `metricsText()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  increment(name: string, labels?: MetricLabels, by = 1): void {
    this.report('increment', name, labels, by);
  }

  set(name: string, value: number, labels?: MetricLabels): void {
    this.report('set', name, labels, value);
  }

  observe(name: string, value: number, labels?: MetricLabels): void {
    this.report('observe', name, labels, value);
  }

  private create(name: string, definition: MetricDefinition): CatalogueMetric {
    const labelNames = [...definition.labelNames].sort();
    const configuration = { name, help: definition.help, labelNames, registers: [this.registry] };
    switch (definition.kind) {
      case 'counter':
        return { kind: 'counter', labelNames, metric: new Counter(configuration) };
      case 'gauge':
        return { kind: 'gauge', labelNames, metric: new Gauge(configuration) };
      case 'histogram':
        return { kind: 'histogram', labelNames, metric: new Histogram({ ...configuration, buckets: [...HANDLER_DURATION_BUCKETS] }) };
    }
  }

  /** Checks a report against the catalogue and records it, applying the strictness policy to any failure. */
  private report(call: keyof Metrics, name: string, labels: MetricLabels | undefined, value: number): void {
    try {
      const target = this.checked(call, name, labels, value);
      const values = { ...labels };
      switch (target.kind) {
        case 'counter':
          target.metric.inc(values, value);
          break;
        case 'gauge':
          if (call === 'set') target.metric.set(values, value);
          else target.metric.inc(values, value);
          break;
        case 'histogram':
          target.metric.observe(values, value);
          break;
      }
    } catch (error) {
      if (this.strict) throw error;
      this.logOnce(call, name, error);
    }
  }

  private checked(call: keyof Metrics, name: string, labels: MetricLabels | undefined, value: number): CatalogueMetric {
    const target = this.byName.get(name);
    if (target === undefined) throw new MetricUsageError(`metric ${JSON.stringify(name)} is not in METRIC_CATALOGUE (${call})`);
    if (!KINDS_FOR[call].includes(target.kind)) throw new MetricUsageError(`metric ${name} is a ${target.kind}; ${call}() cannot report to it`);
    const given = Object.keys(labels ?? {}).sort();
    if (given.join(',') !== target.labelNames.join(',')) {
      throw new MetricUsageError(`metric ${name} takes labels [${target.labelNames.join(', ')}], got [${given.join(', ')}]`);
    }
    if (!Number.isFinite(value)) throw new MetricUsageError(`metric ${name} was given ${value}, which is not a finite number`);
    if (target.kind === 'counter' && value < 0) throw new MetricUsageError(`counter ${name} cannot be decreased (increment by ${value})`);
    return target;
  }

  /** Keyed by call and name, not message, so a bad value repeated per delivery logs one line. */
  private logOnce(call: keyof Metrics, name: string, error: unknown): void {
    const key = `${call}:${name}`;
    if (this.loggedProblems.has(key)) return;
    this.loggedProblems.add(key);
    this.logger.error(
      { metric: name, call, err: describeError(error) },
      'Metric report rejected and dropped; later rejected reports like it are dropped without a log line',
    );
  }
}
