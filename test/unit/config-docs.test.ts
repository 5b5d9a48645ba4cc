/**
 * The documentation agrees with the code: the generated references are current (so CI
 * catches drift), every configuration key is documented with its default, environment
 * variable and secrecy, the example alert rules use real metrics, the permission table is
 * what deploy/ grants, and every link and source file the docs name exists.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { METRIC_CATALOGUE } from '../../src/adapters/prometheus/prometheus-metrics.js';
import { CONFIG_SCHEMA, forEachSetting, type SettingSpec } from '../../src/composition/config-schema.js';
import {
  CONFIGURATION_DOC,
  defaultText,
  envText,
  generatedMetricsBlock,
  OPERATIONS_DOC,
  REGENERATE_COMMAND,
  renderConfigurationReference,
  renderMetricsTable,
  secretText,
  SETTINGS_HEADER,
} from '../../scripts/reference-docs.js';
import { deployedObjects, isRecord, kustomizationNamespace, serviceAccountPermissions } from '../support/deploy-manifests.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = ['README.md', 'docs/operations.md', 'docs/architecture.md', 'docs/configuration.md'] as const;

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** The cells of a Markdown table row, `\|` kept inside its cell. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/** The rows of every table whose first cell is exactly `firstCell`. */
function rowsStartingWith(document: string, firstCell: string): string[][] {
  return document
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map(cells)
    .filter((row) => row[0] === firstCell);
}

function allSettings(): [string, SettingSpec][] {
  const settings: [string, SettingSpec][] = [];
  forEachSetting(CONFIG_SCHEMA, (path, spec) => settings.push([path, spec]));
  return settings;
}

/** The YAML code block that follows `heading` in a document. */
function yamlBlockAfter(document: string, heading: string): unknown {
  const start = document.indexOf(heading);
  assert.notEqual(start, -1, `the document has no "${heading}"`);
  const block = /```yaml\n([\s\S]*?)```/.exec(document.slice(start));
  assert.ok(block?.[1] !== undefined, `no YAML block after "${heading}"`);
  return parse(block[1]);
}

/** Histograms are scraped as `<name>_bucket`, `_sum` and `_count`. */
function catalogueMetricOf(series: string): string | undefined {
  const catalogue: Readonly<Record<string, { kind: string }>> = METRIC_CATALOGUE;
  if (catalogue[series] !== undefined) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return catalogue[base]?.kind === 'histogram' ? base : undefined;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : [relative(ROOT, path)];
  });
}

describe('docs', () => {
  describe(CONFIGURATION_DOC, () => {
    let document: string;

    before(() => {
      document = read(CONFIGURATION_DOC);
    });

    it(`is what ${REGENERATE_COMMAND} generates from the schema now`, () => {
      assert.ok(document === renderConfigurationReference(), `${CONFIGURATION_DOC} is out of date: run ${REGENERATE_COMMAND}`);
    });

    it('documents every key with its default, environment variable and whether it is secret', () => {
      const column = (name: (typeof SETTINGS_HEADER)[number]) => SETTINGS_HEADER.indexOf(name);
      for (const [path, spec] of allSettings()) {
        const rows = rowsStartingWith(document, `\`${path}\``);
        assert.equal(rows.length, 1, `${path} must have exactly one row`);
        const [row] = rows as [string[]];
        assert.equal(row[column('default')], defaultText(path, spec), `${path}: default`);
        assert.equal(row[column('environment variable')], envText(spec), `${path}: environment variable`);
        assert.equal(row[column('secret')], secretText(spec), `${path}: secret`);
        assert.equal(row[column('meaning')], spec.doc.replace(/\s*\n\s*/g, ' '), `${path}: meaning`);
      }
    });

    it('says a required key is required and a secret is secret', () => {
      const [host] = rowsStartingWith(document, '`work_queue.host`');
      const [token] = rowsStartingWith(document, '`bespin_api.token`');
      assert.equal(host?.[SETTINGS_HEADER.indexOf('default')], '**required**');
      assert.equal(token?.[SETTINGS_HEADER.indexOf('secret')], 'yes');
      assert.equal(token?.[SETTINGS_HEADER.indexOf('environment variable')], '`LANDO_BESPIN_TOKEN`');
    });

    it(`is written by the package script ${REGENERATE_COMMAND}`, () => {
      const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
      assert.equal(scripts['docs:config'], 'tsx scripts/generate-config-docs.ts');
    });
  });

  describe(OPERATIONS_DOC, () => {
    let document: string;

    before(() => {
      document = read(OPERATIONS_DOC);
    });

    it(`holds the metrics table ${REGENERATE_COMMAND} generates from METRIC_CATALOGUE now`, () => {
      assert.ok(generatedMetricsBlock(document) === renderMetricsTable(), `the metrics table of ${OPERATIONS_DOC} is out of date: run ${REGENERATE_COMMAND}`);
      for (const name of Object.keys(METRIC_CATALOGUE)) assert.equal(rowsStartingWith(document, `\`${name}\``).length, 1, name);
    });

    it('gives alert rules that are well formed and use only metrics the services report', () => {
      const rules = yamlBlockAfter(document, 'Example alert rules');
      assert.ok(isRecord(rules) && Array.isArray(rules['groups']), 'the alert rules must be a rule file with groups');
      const alerts = rules['groups'].flatMap((group: unknown) => (isRecord(group) && Array.isArray(group['rules']) ? group['rules'] : []));
      assert.ok(alerts.length > 0, 'no alert rules');
      for (const alert of alerts) {
        assert.ok(isRecord(alert) && typeof alert['alert'] === 'string' && typeof alert['expr'] === 'string', `malformed rule ${JSON.stringify(alert)}`);
        const name = alert['alert'];
        assert.ok(isRecord(alert['labels']) && typeof alert['labels']['severity'] === 'string', `${name}: no severity label`);
        assert.ok(isRecord(alert['annotations']) && typeof alert['annotations']['summary'] === 'string', `${name}: no summary`);
        const series = (alert['expr'] as string).match(/\b(?:lando|watcher)_[a-z_]+\b/g) ?? [];
        assert.ok(series.length > 0, `${name} uses none of the services' metrics`);
        for (const metric of series) assert.ok(catalogueMetricOf(metric) !== undefined, `${name} uses ${metric}, which is not in METRIC_CATALOGUE`);
      }
    });

    it('lists exactly the permissions deploy/ grants each service account', () => {
      const objects = deployedObjects();
      const namespace = kustomizationNamespace();
      const documented = new Map<string, Set<string>>();
      for (const line of document.split('\n').filter((text) => /^\| `[a-z-]+` \|/.test(text))) {
        const [account = '', group = '', resources = '', verbs = ''] = cells(line).map((cell) => cell.replace(/`/g, ''));
        const permissions = documented.get(account) ?? new Set<string>();
        for (const resource of resources.split(/,\s*/)) {
          for (const verb of verbs.split(/,\s*/)) permissions.add(`${group}/${resource}: ${verb}`);
        }
        documented.set(account, permissions);
      }
      assert.deepEqual([...documented.keys()].sort(), ['annotation-writer-sa', 'lando', 'lando-watcher']);
      for (const [account, permissions] of documented) {
        assert.deepEqual([...permissions].sort(), [...serviceAccountPermissions(objects, account, namespace)].sort(), `the table's rows for ${account}`);
      }
    });
  });

  describe('links and file names', () => {
    for (const doc of DOCS) {
      it(`${doc} links only to files that exist`, () => {
        const links = [...read(doc).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((match) => match[1] as string).filter((target) => !/^[a-z]+:/.test(target));
        for (const target of links) assert.ok(existsSync(join(ROOT, dirname(doc), target)), `${doc} links to ${target}, which does not exist`);
      });
    }

    it('README.md links to the operations, configuration and architecture docs', () => {
      const readme = read('README.md');
      for (const doc of ['docs/operations.md', 'docs/configuration.md', 'docs/architecture.md']) assert.ok(readme.includes(`](${doc})`), `README.md does not link ${doc}`);
    });

    it('architecture.md names only source files that exist', () => {
      const sources = sourceFiles(join(ROOT, 'src'));
      const named = new Set(read('docs/architecture.md').match(/[\w./-]+\.ts\b/g) ?? []);
      assert.ok(named.size > 10, 'the architecture doc names too few files');
      for (const name of named) assert.ok(sources.some((source) => `/${source}`.endsWith(`/${name}`)), `docs/architecture.md names ${name}, which is not under src/`);
    });
  });
});
