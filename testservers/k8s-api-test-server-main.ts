import { startK8sApiTestServer } from './k8s/k8s-api-test-server.js';
import { existingClaim, recordStepAnnotations } from './k8s/lando-namespace.js';

/**
 * Runs the Kubernetes API test server standalone:
 *   tsx testservers/k8s-api-test-server-main.ts [--port N] [--token T] [--namespace NS] [--auto-complete] [--claim NAME]...
 * --auto-complete completes every Job as soon as its pod runs (the record step's pod annotating
 * itself first); --claim creates a pre-existing PVC such as lando's system data volume. Prints `K8S_API_URL=...` and `K8S_API_TOKEN=...` (shell-friendly) and serves until interrupted.
 */
interface CliOptions {
  port: number;
  token?: string;
  namespace?: string;
  autoComplete: boolean;
  claims: string[];
}

function parseArguments(argv: readonly string[]): CliOptions {
  const options: CliOptions = { port: 0, autoComplete: false, claims: [] };
  for (let position = 0; position < argv.length; position += 1) {
    const argument = argv[position];
    const value = (): string => {
      const next = argv[position + 1];
      if (next === undefined || next.startsWith('--')) throw new Error(`${argument} needs a value`);
      position += 1;
      return next;
    };
    switch (argument) {
      case '--port': {
        const text = value();
        const port = Number(text);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer from 0 to 65535, got ${text}`);
        options.port = port;
        break;
      }
      case '--token':
        options.token = value();
        break;
      case '--namespace':
        options.namespace = value();
        break;
      case '--auto-complete':
        options.autoComplete = true;
        break;
      case '--claim':
        options.claims.push(value());
        break;
      default:
        throw new Error(`unknown argument ${argument}; usage: [--port N] [--token T] [--namespace NS] [--auto-complete] [--claim NAME]...`);
    }
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  const server = await startK8sApiTestServer({
    port: options.port,
    token: options.token,
    namespace: options.namespace,
    autoComplete: options.autoComplete ? { mode: 'immediate', annotations: recordStepAnnotations } : undefined,
    objects: options.claims.map((name) => existingClaim(name, options.namespace ?? 'default')),
  });
  process.stdout.write(`K8S_API_URL=${server.url}\nK8S_API_TOKEN=${server.token ?? ''}\nK8S_NAMESPACE=${server.namespace}\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
