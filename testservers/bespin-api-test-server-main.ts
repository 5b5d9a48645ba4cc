import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startBespinApiTestServer } from './bespin-api-test-server.js';

/**
 * Runs the bespin-api test server for local use of lando:
 *   npm run testserver:bespin -- --port 8000 [--token T] [--host H] [--generate-jobs 100-199]
 * It serves the fixtures' jobs 42 and 51 and, with --generate-jobs, valid jobs for every id of
 * the range, and prints the URL and token to put in lando's bespin_api configuration.
 */

const USAGE = 'usage: bespin-api-test-server-main [--port N] [--host H] [--token T] [--generate-jobs FIRST-LAST]';

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got ${text}\n${USAGE}`);
  return port;
}

function parseRange(text: string): number[] {
  const match = /^(\d+)-(\d+)$/.exec(text);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || first > last) throw new Error(`--generate-jobs must be FIRST-LAST with FIRST <= LAST, got ${text}\n${USAGE}`);
  return Array.from({ length: last - first + 1 }, (_, index) => first + index);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8000' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
      'generate-jobs': { type: 'string' },
    },
  });
  const token = values.token ?? randomBytes(20).toString('hex');
  const server = await startBespinApiTestServer({
    port: parsePort(values.port),
    host: values.host,
    token,
    onRequest: (call) => console.log(`${call.method} ${call.path} -> ${call.status}`),
  });
  const generated = values['generate-jobs'] === undefined ? [] : parseRange(values['generate-jobs']);
  for (const id of generated) server.generateJob(id);

  console.log(`bespin-api test server listening (jobs 42, 51${generated.length > 0 ? ` and ${generated.length} generated` : ''})`);
  console.log(`url: ${server.url}`);
  console.log(`token: ${token}`);

  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
});
