import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from './role-process.js';

interface ContainerSpec {
  readonly env?: readonly { readonly name: string; readonly value?: string }[];
}

interface Deployment {
  readonly spec?: { readonly template?: { readonly spec?: { readonly containers?: readonly ContainerSpec[] } } };
}

/**
 * The node flags a role's Deployment gives it through NODE_OPTIONS (deploy/deployment-*.yaml),
 * so the benchmark measures each role's memory as it is deployed, not with V8's defaults for a
 * machine with gigabytes free.
 */
export function deployedNodeOptions(role: 'lando' | 'watcher'): string[] {
  const file = join(PROJECT_ROOT, 'deploy', role === 'lando' ? 'deployment-lando.yaml' : 'deployment-watcher.yaml');
  const deployment = parse(readFileSync(file, 'utf8')) as Deployment;
  const containers = deployment.spec?.template?.spec?.containers ?? [];
  const value = containers.flatMap((container) => container.env ?? []).find((variable) => variable.name === 'NODE_OPTIONS')?.value;
  if (value === undefined) throw new Error(`${file} sets no NODE_OPTIONS for its container`);
  return value.split(/\s+/).filter((flag) => flag !== '');
}
