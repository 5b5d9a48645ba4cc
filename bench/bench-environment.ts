import amqp from 'amqplib';
import { startBespinApiTestServer, type BespinApiTestServer, type RecordedHttpRequest } from '../testservers/bespin-api-test-server.js';
import { startK8sApiTestServer, type AutoCompleteOptions, type K8sApiTestServer } from '../testservers/k8s/k8s-api-test-server.js';
import { SeedConfigFile } from '../test/support/config-files.js';
import { RABBITMQ, RabbitTestBroker, uniqueQueueName } from '../test/support/rabbitmq.js';
import { deployedNodeOptions } from './deployed-node-options.js';
import { RoleProcess } from './role-process.js';

export const NAMESPACE = 'lando-job-runner';
const CLUSTER_TOKEN = 'bench-cluster-token';
const BESPIN_TOKEN = 'bench-bespin-token';

export interface BenchEnvironmentOptions {
  readonly autoComplete: AutoCompleteOptions;
  /** Keys merged into the seed-format configuration file, e.g. `{ lando: { concurrency: 16 } }`. */
  readonly config?: Record<string, Record<string, unknown>>;
  readonly onBespinRequest?: (request: RecordedHttpRequest) => void;
  /** Node flags for the role processes (profiling). */
  readonly nodeArgs?: readonly string[];
}

/**
 * What one scenario runs against, as the e2e tests set it up (test/support/end-to-end.ts) but
 * tuned to measure lando rather than the test servers: the Kubernetes API test server keeps
 * only call counters and Warning Events, its Jobs finish as soon as their pod runs, and
 * bespin-api serves generated jobs. Everything it starts, stop() stops, failure or not.
 */
export class BenchEnvironment {
  private readonly roles: RoleProcess[] = [];

  private constructor(
    readonly k8s: K8sApiTestServer,
    readonly bespin: BespinApiTestServer,
    readonly broker: RabbitTestBroker,
    readonly queue: string,
    private readonly config: SeedConfigFile,
    private readonly nodeArgs: readonly string[],
  ) {}

  static async start(options: BenchEnvironmentOptions): Promise<BenchEnvironment> {
    const k8s = await startK8sApiTestServer({
      token: CLUSTER_TOKEN,
      namespace: NAMESPACE,
      autoComplete: options.autoComplete,
      callLog: 'counts-only',
      events: 'warnings',
      objects: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: 'system-data', namespace: NAMESPACE },
          spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
    });
    const bespin = await startBespinApiTestServer({
      token: BESPIN_TOKEN,
      seedFixtures: false,
      ...(options.onBespinRequest ? { onRequest: options.onBespinRequest } : {}),
    });
    const broker = await RabbitTestBroker.connect();
    const queue = uniqueQueueName('lando-bench');
    broker.track(queue, `${queue}.dead-letter`);
    const config = new SeedConfigFile({
      queue,
      clusterHost: k8s.url,
      clusterToken: CLUSTER_TOKEN,
      namespace: NAMESPACE,
      bespinUrl: bespin.url,
      bespinToken: BESPIN_TOKEN,
      extra: options.config ?? {},
    });
    return new BenchEnvironment(k8s, bespin, broker, queue, config, options.nodeArgs ?? []);
  }

  /** Spawns a role process, stopped by stop(); see RoleProcess.started() to wait for it. */
  spawnRole(role: 'lando' | 'watcher'): RoleProcess {
    const spawned = RoleProcess.spawn(role, this.config.path, { nodeArgs: [...deployedNodeOptions(role), ...this.nodeArgs] });
    this.roles.push(spawned);
    return spawned;
  }

  /** Spawns a role and waits until it has started; returns it with how long that took. */
  async startRole(role: 'lando' | 'watcher'): Promise<{ process: RoleProcess; startMs: number }> {
    const spawned = this.spawnRole(role);
    return { process: spawned, startMs: await spawned.started() };
  }

  /** Publishes every body to lando's queue, persistent and confirmed, as bespin-api would one by one. */
  async publishAll(bodies: readonly Buffer[]): Promise<void> {
    await this.broker.declareAsBespinApi(this.queue);
    const connection = await amqp.connect({ hostname: RABBITMQ.host, port: RABBITMQ.port, username: RABBITMQ.username, password: RABBITMQ.password });
    try {
      const channel = await connection.createConfirmChannel();
      for (const body of bodies) {
        if (!channel.sendToQueue(this.queue, body, { deliveryMode: 2 })) await new Promise((resolve) => channel.once('drain', resolve));
      }
      await channel.waitForConfirms();
      await channel.close();
    } finally {
      await connection.close();
    }
  }

  /** Messages waiting in lando's queue. */
  async queuedMessages(): Promise<number> {
    return this.broker.withChannel(async (channel) => (await channel.checkQueue(this.queue)).messageCount);
  }

  async stop(): Promise<void> {
    await Promise.all(this.roles.map((role) => role.stop()));
    await this.broker.close();
    await this.k8s.close();
    await this.bespin.close();
    this.config.remove();
  }
}
