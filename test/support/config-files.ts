import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface SeedConfigValues {
  readonly queue: string;
  readonly clusterHost?: string;
  readonly clusterToken?: string;
  readonly namespace?: string;
  readonly bespinUrl?: string;
  readonly bespinToken?: string;
  /** Extra keys merged into the file, e.g. `{ work_queue: { prefetch: 8 } }`. */
  readonly extra?: Record<string, Record<string, unknown> | unknown>;
}

/**
 * A configuration file in the Python service's format (config.md §4), pointing at this
 * machine's RabbitMQ and whatever test servers the test started. Removed by `remove()`.
 */
export class SeedConfigFile {
  readonly path: string;
  private readonly directory: string;

  constructor(values: SeedConfigValues) {
    this.directory = mkdtempSync(join(tmpdir(), 'lando-config-'));
    this.path = join(this.directory, 'k8s.config.yml');
    const document: Record<string, Record<string, unknown> | unknown> = {
      work_queue: {
        host: '127.0.0.1',
        username: 'guest',
        password: 'guest',
        worker_username: 'unused',
        worker_password: 'unused',
        listen_queue: values.queue,
      },
      cluster_api_settings: {
        host: values.clusterHost ?? 'http://127.0.0.1:1',
        token: values.clusterToken ?? 'cluster-token',
        namespace: values.namespace ?? 'lando-job-runner',
        verify_ssl: true,
      },
      bespin_api: { url: values.bespinUrl ?? 'http://127.0.0.1:1/api/v2', token: values.bespinToken ?? 'bespin-token' },
      data_store_settings: { secret_name: 'ddsclient-agent' },
      run_workflow_settings: { system_data_volume: { volume_claim_name: 'system-data', mount_path: '/bespin/system/' } },
      record_output_project_settings: { service_account_name: 'annotation-writer-sa' },
      storage_class_name: 'glusterfs-storage',
      log_level: 'INFO',
    };
    for (const [section, value] of Object.entries(values.extra ?? {})) {
      const current = document[section];
      document[section] = isObject(current) && isObject(value) ? { ...current, ...value } : value;
    }
    writeFileSync(this.path, stringify(document));
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
