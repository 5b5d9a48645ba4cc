import { encodeMessage } from '../../src/adapters/amqp/message-codec.js';
import { startBespinApiTestServer, type BespinApiTestServer } from '../../testservers/bespin-api-test-server.js';
import { startK8sApiTestServer, type K8sApiTestServer } from '../../testservers/k8s/k8s-api-test-server.js';
import { SeedConfigFile } from './config-files.js';
import { RABBITMQ, RabbitTestBroker, uniqueQueueName } from './rabbitmq.js';
import { ServiceProcess } from './service-process.js';
import { existingClaim, recordStepAnnotations } from '../../testservers/k8s/lando-namespace.js';
import { TcpProxy } from './tcp-proxy.js';

const NAMESPACE = 'lando-job-runner';
const LABELLED = ['jobs', 'configmaps', 'persistentvolumeclaims'] as const;
/** Enough tokens for every replica a test starts, restarts included; each replica gets its own. */
const REPLICA_TOKENS = Array.from({ length: 12 }, (_, index) => `e2e-replica-token-${index + 1}`);
const BESPIN_TOKEN = 'e2e-bespin-token';
const ENDED = ['F', 'E', 'C'];

export type Role = 'lando' | 'watcher';

export interface ReplicaWorldOptions {
  /** How long each step's pod runs before its Job completes (default 20 ms). */
  readonly stepMs?: number;
  /** Configuration sections merged into every replica's file, e.g. `{ lando: { leases: true } }`. */
  readonly config?: Record<string, Record<string, unknown>>;
  /** Every replica reaches RabbitMQ through one TcpProxy, which the test can cut. */
  readonly brokerProxy?: boolean;
}

/**
 * One started lando or watcher process, with its own cluster token so its API calls can be
 * told apart. Run by `npm start` as an operator runs it, or by node directly (see Launcher)
 * when the test reads its exit status.
 */
export interface Replica {
  /** `lando-1`, `watcher-2`, ...: in failure messages and audits. */
  readonly name: string;
  readonly role: Role;
  readonly token: string;
  readonly process: ServiceProcess;
}

/**
 * Several lando and watcher processes, each configured by its own seed-format file, against
 * this machine's RabbitMQ (optionally through a TcpProxy) and the project's Kubernetes API and
 * bespin-api test servers. Everything it starts, it stops.
 */
export class ReplicaWorld {
  private readonly started: Replica[] = [];
  private readonly configFiles: SeedConfigFile[] = [];
  private tokensUsed = 0;
  private readonly startedPerRole = new Map<Role, number>();

  private constructor(
    readonly k8s: K8sApiTestServer,
    readonly bespin: BespinApiTestServer,
    readonly broker: RabbitTestBroker,
    readonly queue: string,
    readonly proxy: TcpProxy | undefined,
    private readonly config: Record<string, Record<string, unknown>>,
  ) {}

  static async start(options: ReplicaWorldOptions = {}): Promise<ReplicaWorld> {
    const opened: { close(): Promise<void> }[] = [];
    try {
      return await ReplicaWorld.open(options, opened);
    } catch (error) {
      // Whatever was started before the failure is stopped, or it would outlive the test.
      for (const part of opened.reverse()) await part.close();
      throw error;
    }
  }

  private static async open(options: ReplicaWorldOptions, opened: { close(): Promise<void> }[]): Promise<ReplicaWorld> {
    const k8s = await startK8sApiTestServer({
      token: REPLICA_TOKENS,
      namespace: NAMESPACE,
      autoComplete: {
        mode: 'immediate',
        delayMs: options.stepMs ?? 20,
        annotations: recordStepAnnotations,
      },
      objects: [
        existingClaim('system-data', NAMESPACE),
      ],
    });
    opened.push(k8s);
    const bespin = await startBespinApiTestServer({ token: BESPIN_TOKEN });
    opened.push(bespin);
    const broker = await RabbitTestBroker.connect();
    opened.push(broker);
    const queue = uniqueQueueName('lando-e2e-replicas');
    broker.track(queue, `${queue}.dead-letter`);
    const proxy = options.brokerProxy ? await TcpProxy.start({ host: RABBITMQ.host, port: RABBITMQ.port }) : undefined;
    const config = {
      ...options.config,
      work_queue: { retry_delay_ms: 200, max_retry_delay_ms: 1000, ...(proxy ? { port: proxy.port } : {}), ...options.config?.work_queue },
      watcher: { resync_seconds: 5, watch_idle_timeout_seconds: 10, ...options.config?.watcher },
    };
    return new ReplicaWorld(k8s, bespin, broker, queue, proxy, config);
  }

  /** Starts one more replica of the role with `npm start`. */
  startReplica(role: Role): Promise<Replica> {
    return this.launch(role, (path) => ServiceProcess.start(role, path));
  }

  /** Starts one more replica of the role with node directly, so its exit status can be read. */
  startNodeReplica(role: Role): Promise<Replica> {
    return this.launch(role, (path) => ServiceProcess.start(role, path, 'node'));
  }

  async startReplicas(role: Role, count: number): Promise<Replica[]> {
    return Promise.all(Array.from({ length: count }, () => this.startReplica(role)));
  }

  /** Writes the replica's configuration file, with the next unused cluster token, and starts it. */
  private async launch(role: Role, start: (configPath: string) => Promise<ServiceProcess>): Promise<Replica> {
    const token = REPLICA_TOKENS[this.tokensUsed];
    if (token === undefined) throw new Error(`a ReplicaWorld runs at most ${REPLICA_TOKENS.length} replicas`);
    this.tokensUsed += 1;
    const ordinal = (this.startedPerRole.get(role) ?? 0) + 1;
    this.startedPerRole.set(role, ordinal);
    const file = new SeedConfigFile({
      queue: this.queue,
      clusterHost: this.k8s.url,
      clusterToken: token,
      namespace: NAMESPACE,
      bespinUrl: this.bespin.url,
      bespinToken: BESPIN_TOKEN,
      extra: this.config,
    });
    this.configFiles.push(file);
    const replica: Replica = { name: `${role}-${ordinal}`, role, token, process: await start(file.path) };
    this.started.push(replica);
    return replica;
  }

  /** Token → name of every lando replica started so far. */
  landoReplicasByToken(): Map<string, string> {
    return new Map(this.started.filter((replica) => replica.role === 'lando').map((replica) => [replica.token, replica.name]));
  }

  /** Bespin jobs in state A, as before a user presses start; returns their owners' user names. */
  addJobs(ids: readonly number[]): Map<number, string> {
    return new Map(ids.map((id) => [id, (this.bespin.records.generateJob(id, { state: 'A', step: '' }).user as { username: string }).username]));
  }

  /** Starts the jobs as bespin-api does: state S, then a pickled start_job each. */
  async startJobs(ids: readonly number[]): Promise<void> {
    for (const id of ids) this.bespin.records.handle({ method: 'PUT', path: `/admin/jobs/${id}/`, body: JSON.stringify({ state: 'S' }) });
    await this.broker.declareAsBespinApi(this.queue);
    for (const id of ids) {
      await this.broker.publish(this.queue, encodeMessage({ command: 'start_job', jobId: String(id), version: '2.0.0' }, 'pickle').body, { deliveryMode: 2 });
    }
  }

  stateOf(id: number): { state: string; step: string } {
    const job = this.bespin.records.job(id) as { state: string; step: string } | undefined;
    return { state: job?.state ?? '?', step: job?.step ?? '?' };
  }

  /** Jobs that have not reached `state`, with where they are. */
  private notYet(ids: readonly number[], state: string): string[] {
    return ids.filter((id) => this.stateOf(id).state !== state).map((id) => `${id} at ${this.stateOf(id).state}/${this.stateOf(id).step}`);
  }

  ended(ids: readonly number[]): number[] {
    return ids.filter((id) => ENDED.includes(this.stateOf(id).state));
  }

  async waitForStates(ids: readonly number[], state: string, timeoutMs: number): Promise<void> {
    await this.waitUntil(() => this.notYet(ids, state).length === 0, () => `jobs to reach ${state}; not yet: ${this.notYet(ids, state).join(', ')}`, timeoutMs);
  }

  /** The Jobs, ConfigMaps and PVCs labelled with the bespin job id, terminating ones included. */
  labelledObjects(id: number): string[] {
    return LABELLED.flatMap((plural) => this.k8s.listObjects(plural, { labelSelector: `bespin-job-id=${id}` }).map((object) => `${plural}/${object.metadata.name}`));
  }

  async waitForNoObjects(ids: readonly number[], timeoutMs = 20_000): Promise<void> {
    const left = (): string[] => ids.flatMap((id) => this.labelledObjects(id));
    await this.waitUntil(() => left().length === 0, () => `the jobs' objects to go; left: ${left().join(', ')}`, timeoutMs);
  }

  async deadLetters(): Promise<number> {
    return (await this.broker.peekAll(`${this.queue}.dead-letter`)).length;
  }

  async waitUntil(condition: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}\n${this.logTails()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** The end of every replica's log, for failure messages. */
  private logTails(): string {
    return this.started.map((replica) => `--- ${replica.name} ---\n${replica.process.log.slice(-2500)}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.started.map((replica) => replica.process.kill()));
    await this.proxy?.close();
    await this.broker.close();
    await this.k8s.close();
    await this.bespin.close();
    for (const file of this.configFiles) file.remove();
  }
}
