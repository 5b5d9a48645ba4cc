import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { HANDLER_DURATION_BUCKETS, METRIC_CATALOGUE, MetricUsageError, PrometheusMetrics } from '../../src/adapters/prometheus/prometheus-metrics.js';
import { MemoryLogger } from '../support/memory-logger.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of an exposition; enough of the format for the values prom-client writes. */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not an exposition sample: ${line}`);
      const labels: Record<string, string> = {};
      for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = pair[2] as string;
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return samples(text).find((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted)?.value;
}

describe('PrometheusMetrics', function () {
  function strictMetrics(): PrometheusMetrics {
    return new PrometheusMetrics({ logger: new MemoryLogger(), strict: true, processMetrics: false });
  }

  it('adds up counter increments per label set', async function () {
    const metrics = strictMetrics();
    metrics.increment('lando_messages_handled_total', { command: 'run_job', outcome: 'ack' });
    metrics.increment('lando_messages_handled_total', { outcome: 'ack', command: 'run_job' }, 2);
    metrics.increment('lando_messages_handled_total', { command: 'run_job', outcome: 'retry' });
    metrics.increment('lando_progress_publish_failures_total');

    const text = await metrics.metricsText();
    expect(sampleValue(text, 'lando_messages_handled_total', { command: 'run_job', outcome: 'ack' })).to.equal(3);
    expect(sampleValue(text, 'lando_messages_handled_total', { command: 'run_job', outcome: 'retry' })).to.equal(1);
    expect(sampleValue(text, 'lando_progress_publish_failures_total')).to.equal(1);
  });

  it('keeps the last value set on a gauge and lets increments move it both ways', async function () {
    const metrics = strictMetrics();
    metrics.set('lando_amqp_connected', 1);
    metrics.set('lando_amqp_connected', 0);
    metrics.set('watcher_running_step_jobs', 4, { step: 'run_workflow' });
    metrics.increment('lando_active_jobs', undefined, 3);
    metrics.increment('lando_active_jobs', undefined, -1);

    const text = await metrics.metricsText();
    expect(sampleValue(text, 'lando_amqp_connected')).to.equal(0);
    expect(sampleValue(text, 'watcher_running_step_jobs', { step: 'run_workflow' })).to.equal(4);
    expect(sampleValue(text, 'lando_active_jobs')).to.equal(2);
  });

  it('counts histogram observations into the duration buckets', async function () {
    const metrics = strictMetrics();
    metrics.observe('lando_handler_duration_seconds', 0.002, { command: 'stage_job' });
    metrics.observe('lando_handler_duration_seconds', 2, { command: 'stage_job' });
    metrics.observe('lando_handler_duration_seconds', 120, { command: 'stage_job' });

    const text = await metrics.metricsText();
    const labels = { command: 'stage_job' };
    expect(sampleValue(text, 'lando_handler_duration_seconds_count', labels)).to.equal(3);
    expect(sampleValue(text, 'lando_handler_duration_seconds_sum', labels)).to.be.closeTo(122.002, 1e-9);
    expect(sampleValue(text, 'lando_handler_duration_seconds_bucket', { ...labels, le: '0.001' })).to.equal(0);
    expect(sampleValue(text, 'lando_handler_duration_seconds_bucket', { ...labels, le: '0.005' })).to.equal(1);
    expect(sampleValue(text, 'lando_handler_duration_seconds_bucket', { ...labels, le: '60' })).to.equal(2);
    expect(sampleValue(text, 'lando_handler_duration_seconds_bucket', { ...labels, le: '+Inf' })).to.equal(3);
    expect(HANDLER_DURATION_BUCKETS[0]).to.equal(0.001);
    expect(HANDLER_DURATION_BUCKETS.at(-1)).to.equal(60);
  });

  it('declares every catalogue metric with its help text and type before anything is reported', async function () {
    const text = await strictMetrics().metricsText();
    for (const [name, definition] of Object.entries(METRIC_CATALOGUE)) {
      expect(text).to.include(`# HELP ${name} ${definition.help}\n`);
      expect(text).to.include(`# TYPE ${name} ${definition.kind}\n`);
    }
  });

  it('keeps each instance\'s metrics apart, so two roles can share a process', async function () {
    const lando = strictMetrics();
    const watcher = strictMetrics();
    lando.increment('lando_lease_conflicts_total');
    watcher.set('watcher_leader', 1);

    expect(sampleValue(await lando.metricsText(), 'lando_lease_conflicts_total')).to.equal(1);
    expect(sampleValue(await watcher.metricsText(), 'lando_lease_conflicts_total')).to.equal(0);
    expect(sampleValue(await lando.metricsText(), 'watcher_leader')).to.equal(0);
  });

  it('exports the process metrics unless told not to', async function () {
    const withProcess = await new PrometheusMetrics({ logger: new MemoryLogger() }).metricsText();
    expect(sampleValue(withProcess, 'process_cpu_user_seconds_total')).to.be.a('number');
    expect(await strictMetrics().metricsText()).not.to.include('process_cpu_user_seconds_total');
  });

  it('names the Prometheus text format as its content type', function () {
    expect(strictMetrics().contentType).to.match(/^text\/plain; version=0\.0\.4/);
  });

  describe('a report the catalogue does not allow', function () {
    const misuses: { readonly what: string; readonly report: (metrics: PrometheusMetrics) => void; readonly message: RegExp }[] = [
      { what: 'an unknown name', report: (m) => m.increment('lando_typo_total'), message: /"lando_typo_total" is not in METRIC_CATALOGUE/ },
      {
        what: 'a missing label',
        report: (m) => m.increment('lando_messages_handled_total', { command: 'run_job' }),
        message: /lando_messages_handled_total takes labels \[command, outcome\], got \[command\]/,
      },
      {
        what: 'an extra label',
        report: (m) => m.increment('lando_progress_publish_failures_total', { command: 'run_job' }),
        message: /takes labels \[\], got \[command\]/,
      },
      { what: 'set() on a counter', report: (m) => m.set('lando_retries_total', 1, { reason_kind: 'x' }), message: /is a counter; set\(\) cannot report to it/ },
      { what: 'observe() on a gauge', report: (m) => m.observe('lando_active_jobs', 1), message: /is a gauge; observe\(\) cannot report to it/ },
      { what: 'a counter decrease', report: (m) => m.increment('watcher_relists_total', undefined, -1), message: /cannot be decreased/ },
      { what: 'a value that is not a number', report: (m) => m.set('watcher_leader', Number.NaN), message: /was given NaN/ },
    ];

    for (const { what, report, message } of misuses) {
      it(`throws a MetricUsageError for ${what} when strict`, function () {
        expect(() => report(strictMetrics())).to.throw(MetricUsageError, message);
      });
    }

    it('is logged once and dropped when not strict', async function () {
      const logger = new MemoryLogger();
      const metrics = new PrometheusMetrics({ logger, processMetrics: false });
      metrics.increment('lando_typo_total');
      metrics.increment('lando_typo_total');
      metrics.increment('lando_messages_handled_total', { command: 'run_job' });
      metrics.increment('lando_lease_conflicts_total');

      expect(logger.lines.filter((line) => line.level === 'error').map((line) => line.fields['metric'])).to.deep.equal([
        'lando_typo_total',
        'lando_messages_handled_total',
      ]);
      expect(String(logger.lines[0]?.fields['err'])).to.include('not in METRIC_CATALOGUE');
      const text = await metrics.metricsText();
      expect(text).not.to.include('lando_typo_total');
      expect(sampleValue(text, 'lando_messages_handled_total', { command: 'run_job' })).to.equal(undefined);
      expect(sampleValue(text, 'lando_lease_conflicts_total')).to.equal(1);
    });
  });

  describe('the catalogue and the source', function () {
    const srcRoot = fileURLToPath(new URL('../../src/', import.meta.url));
    const sources = readdirSync(srcRoot, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => ({ file, text: readFileSync(join(srcRoot, file), 'utf8') }));
    // A call on anything named `metrics` (this.metrics, options.metrics?...) whose first argument is a string or a constant.
    const reportCall = /\bmetrics\??\.(?:increment|set|observe)\(\s*(?:(['"`])([^'"`]*)\1|([A-Za-z_$][\w$]*))/g;
    const stringConstant = (name: string): RegExp => new RegExp(`\\bconst ${name}\\s*=\\s*(['"\`])([^'"\`]*)\\1`);

    function reportedNames(): Map<string, string> {
      const named = new Map<string, string>();
      for (const { file, text } of sources) {
        for (const call of text.matchAll(reportCall)) {
          const constant = call[3];
          const name = constant === undefined ? call[2] : sources.map((source) => stringConstant(constant).exec(source.text)?.[2]).find((found) => found !== undefined);
          if (name === undefined) throw new Error(`${file} reports a metric named by ${constant}, which is not a string constant in src/; use a literal or a const`);
          named.set(name, file);
        }
      }
      return named;
    }

    it('lists every metric name src/ reports', function () {
      const named = reportedNames();
      expect(named.size, 'no metric reports found: the scan is broken').to.be.greaterThan(0);
      const missing = [...named].filter(([name]) => !Object.hasOwn(METRIC_CATALOGUE, name)).map(([name, file]) => `${name} (${file})`);
      expect(missing, 'reported but not in METRIC_CATALOGUE').to.deep.equal([]);
    });
  });
});
