import { encodeMessage } from '../../src/adapters/amqp/message-codec.js';
import { startBespinApiTestServer, type BespinApiTestServer } from '../../testservers/bespin-api-test-server.js';
import type { AutoCompleteOptions } from '../../testservers/k8s/job-controller.js';
import { startK8sApiTestServer, type K8sApiTestServer } from '../../testservers/k8s/k8s-api-test-server.js';
import { existingClaim, recordStepAnnotations } from '../../testservers/k8s/lando-namespace.js';
import { SeedConfigFile } from './config-files.js';
import { RabbitTestBroker, uniqueQueueName } from './rabbitmq.js';
import { ServiceProcess } from './service-process.js';

const NAMESPACE = 'lando-job-runner';
const LABELLED = ['jobs', 'configmaps', 'persistentvolumeclaims'] as const;

export interface EndToEndOptions {
  /** How the simulated cluster ends Jobs; the record pod always annotates itself. Default: each completes at once. */
  readonly fail?: (jobName: string) => string | undefined;
  readonly manual?: boolean;
  /** Extra configuration keys, merged into the seed-format file. */
  readonly config?: Record<string, Record<string, unknown>>;
}

/**
 * lando and the watcher as an operator runs them — separate `npm start -- --role=...`
 * processes configured by a seed-format YAML file — against this machine's RabbitMQ and the
 * project's Kubernetes API and bespin-api test servers. Everything it starts, it stops.
 */
export class EndToEnd {
  lando: ServiceProcess | undefined;
  watcher: ServiceProcess | undefined;

  private constructor(
    readonly k8s: K8sApiTestServer,
    readonly bespin: BespinApiTestServer,
    readonly broker: RabbitTestBroker,
    readonly queue: string,
    readonly config: SeedConfigFile,
  ) {}

  static async start(options: EndToEndOptions = {}): Promise<EndToEnd> {
    const autoComplete: AutoCompleteOptions = {
      mode: options.manual ? 'manual' : 'immediate',
      delayMs: 20,
      annotations: recordStepAnnotations,
      ...(options.fail ? { fail: options.fail } : {}),
    };
    const k8s = await startK8sApiTestServer({
      token: 'e2e-cluster-token',
      namespace: NAMESPACE,
      autoComplete,
      objects: [
        existingClaim('system-data', NAMESPACE),
      ],
    });
    const bespin = await startBespinApiTestServer({ token: 'e2e-bespin-token' });
    const broker = await RabbitTestBroker.connect();
    const queue = uniqueQueueName('lando-e2e');
    broker.track(queue, `${queue}.dead-letter`);
    const config = new SeedConfigFile({
      queue,
      clusterHost: k8s.url,
      clusterToken: 'e2e-cluster-token',
      namespace: NAMESPACE,
      bespinUrl: bespin.url,
      bespinToken: 'e2e-bespin-token',
      extra: {
        work_queue: { retry_delay_ms: 200, max_retry_delay_ms: 1000, ...options.config?.work_queue },
        watcher: { resync_seconds: 5, watch_idle_timeout_seconds: 10, ...options.config?.watcher },
        ...Object.fromEntries(Object.entries(options.config ?? {}).filter(([key]) => key !== 'work_queue' && key !== 'watcher')),
      },
    });
    return new EndToEnd(k8s, bespin, broker, queue, config);
  }

  async startLando(): Promise<ServiceProcess> {
    this.lando = await ServiceProcess.start('lando', this.config.path);
    return this.lando;
  }

  async startWatcher(): Promise<ServiceProcess> {
    this.watcher = await ServiceProcess.start('watcher', this.config.path);
    return this.watcher;
  }

  async startBoth(): Promise<void> {
    await Promise.all([this.startWatcher(), this.startLando()]);
  }

  /** A bespin job in state A, as before a user presses start. */
  addJob(id: number): void {
    this.bespin.records.generateJob(id, { state: 'A', step: '' });
  }

  /** What bespin-api does when a user starts, restarts or cancels: set the state, then send the pickled command. */
  async command(command: 'start_job' | 'restart_job' | 'cancel_job', id: number): Promise<void> {
    const state = { start_job: 'S', restart_job: 'r', cancel_job: 'c' }[command];
    this.bespin.records.handle({ method: 'PUT', path: `/admin/jobs/${id}/`, body: JSON.stringify({ state }) });
    await this.publish(encodeMessage({ command, jobId: String(id), version: '2.0.0' }, 'pickle').body);
  }

  /** Puts raw bytes on lando's queue, persistent, with no other property: what lando-messaging sends. */
  async publish(body: Buffer): Promise<void> {
    await this.broker.declareAsBespinApi(this.queue);
    await this.broker.publish(this.queue, body, { deliveryMode: 2 });
  }

  stateOf(id: number): { state: string; step: string } {
    const job = this.bespin.records.job(id) as { state: string; step: string } | undefined;
    return { state: job?.state ?? '?', step: job?.step ?? '?' };
  }

  async waitForState(id: number, state: string, step?: string, timeoutMs = 30_000): Promise<void> {
    await this.waitUntil(
      () => this.stateOf(id).state === state && (step === undefined || this.stateOf(id).step === step),
      () => `job ${id} to reach ${state}${step === undefined ? '' : `/${step}`}; it is at ${JSON.stringify(this.stateOf(id))}`,
      timeoutMs,
    );
  }

  /** The Jobs, ConfigMaps and PVCs labelled with the bespin job id, terminating ones included. */
  labelledObjects(id: number): string[] {
    return LABELLED.flatMap((plural) => this.k8s.listObjects(plural, { labelSelector: `bespin-job-id=${id}` }).map((object) => `${plural}/${object.metadata.name}`));
  }

  async waitForNoObjects(id: number, timeoutMs = 20_000): Promise<void> {
    await this.waitUntil(() => this.labelledObjects(id).length === 0, () => `job ${id}'s objects to go; left: ${this.labelledObjects(id).join(', ')}`, timeoutMs);
  }

  async waitForJob(id: number, step: string, timeoutMs = 20_000): Promise<string> {
    let name = '';
    await this.waitUntil(
      () => {
        name = this.k8s.listObjects('jobs', { labelSelector: `bespin-job-id=${id},bespin-job-step=${step}` })[0]?.metadata.name ?? '';
        return name !== '';
      },
      () => `the ${step} Job of job ${id}`,
      timeoutMs,
    );
    return name;
  }

  async waitUntil(condition: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what()}\n--- lando ---\n${this.lando?.log.slice(-4000) ?? ''}\n--- watcher ---\n${this.watcher?.log.slice(-3000) ?? ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.lando?.kill(), this.watcher?.kill()]);
    await this.broker.cleanup();
    await this.broker.close();
    await this.k8s.close();
    await this.bespin.close();
    this.config.remove();
  }
}
