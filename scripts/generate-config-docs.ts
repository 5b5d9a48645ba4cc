/**
 * Writes the generated reference docs: docs/configuration.md from the configuration schema,
 * and the metrics table inside docs/operations.md from METRIC_CATALOGUE.
 *
 *   npm run docs:config             rewrite them
 *   npm run docs:config -- --check  only report whether they are up to date (exit 1 if not)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIGURATION_DOC, OPERATIONS_DOC, renderConfigurationReference, withMetricsTable } from './reference-docs.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function readDoc(path: string): string {
  try {
    return readFileSync(join(ROOT, path), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

const checkOnly = process.argv.includes('--check');
const operations = readDoc(OPERATIONS_DOC);
const wanted: ReadonlyMap<string, string> = new Map([
  [CONFIGURATION_DOC, renderConfigurationReference()],
  [OPERATIONS_DOC, withMetricsTable(operations)],
]);

let stale = 0;
for (const [path, text] of wanted) {
  if (readDoc(path) === text) continue;
  stale += 1;
  if (checkOnly) {
    process.stderr.write(`${path} is out of date; run npm run docs:config\n`);
  } else {
    writeFileSync(join(ROOT, path), text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
process.exitCode = checkOnly && stale > 0 ? 1 : 0;
