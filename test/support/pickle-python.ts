import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./pickle-check.py', import.meta.url));

/** A WorkRequest as Python's pickle sees it: `{class, attributes: [[name, value], ...]}`. */
export interface PythonInstance {
  readonly class: string;
  readonly attributes: [string, PythonValue][];
}
export type PythonValue = string | number | null | boolean | PythonInstance;

export type PythonLoadResult = { readonly ok: true; readonly value: PythonValue } | { readonly ok: false; readonly error: string };

export interface PythonDumpRequest {
  readonly protocol: number;
  readonly command: string;
  readonly payload_class: string;
  readonly payload: Readonly<Record<string, string | number | null>>;
  readonly version: string;
}

/** Unpickles each body with Python's own unpickler, restricted to lando-messaging's classes. */
export function pythonLoad(bodies: readonly Uint8Array[]): PythonLoadResult[] {
  return run('load', bodies.map((body) => Buffer.from(body).toString('hex'))) as PythonLoadResult[];
}

/** Pickles each WorkRequest with Python's pickle at the requested protocol. */
export function pythonDump(requests: readonly PythonDumpRequest[]): Buffer[] {
  return (run('dump', requests) as string[]).map((hex) => Buffer.from(hex, 'hex'));
}

/**
 * `pickle.dumps(value, protocol=2)` of each value, given as JSON texts so that integers of any
 * size reach Python exactly (its json module reads them as int).
 */
export function pythonDumps(jsonTexts: readonly string[]): Buffer[] {
  return (runText('dumps', `[${jsonTexts.join(',')}]`) as string[]).map((hex) => Buffer.from(hex, 'hex'));
}

function run(mode: string, input: unknown): unknown {
  return runText(mode, JSON.stringify(input));
}

function runText(mode: string, input: string): unknown {
  const result = spawnSync('python3', [SCRIPT, mode], { input, encoding: 'utf8', timeout: 15_000 });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`pickle-check.py ${mode} failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}
