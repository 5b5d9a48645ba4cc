import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type { K8sApiTestServer } from '../../../testservers/k8s/k8s-api-test-server.js';
import { http, startServer } from './support.js';

interface K8sEvent {
  readonly kind: 'k8s';
  readonly verb: 'create' | 'delete' | 'list';
  readonly http: string;
  readonly resource: string;
  readonly body?: unknown;
  readonly labelSelector?: string;
  readonly result_names?: string[];
}

interface TranscriptMessage {
  readonly command: string;
  readonly k8s_after: Record<'persistentvolumeclaims' | 'configmaps' | 'pods' | 'jobs', string[]>;
  readonly events: readonly ({ kind: string } | K8sEvent)[];
}

function loadMessages(name: string): TranscriptMessage[] {
  const url = new URL(`../../fixtures/transcripts/${name}.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { messages: TranscriptMessage[] }).messages;
}

const isK8s = (event: { kind: string }): event is K8sEvent => event.kind === 'k8s';

describe('K8s API test server: the Python client\'s recorded requests (no apiVersion/kind in bodies)', () => {
  let server: K8sApiTestServer;

  beforeEach(async () => {
    server = await startServer();
  });

  afterEach(async () => {
    await server.close();
  });

  for (const transcript of ['happy-path-zipped', 'happy-path-packed']) {
    it(`accepts every request of ${transcript} and ends each message with the recorded objects`, async () => {
      // The run step mounts a claim lando never creates (system_data_volume): it is pre-provisioned.
      server.seed({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'system-data' }, spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Gi' } } } });
      for (const message of loadMessages(transcript)) {
        for (const event of message.events.filter(isK8s)) {
          const [method, path] = event.http.split(' ');
          const query = event.labelSelector ? `?labelSelector=${encodeURIComponent(event.labelSelector)}` : '';
          const response = await http(server, method, `${path}${query}`, event.body);
          const expected = { create: 201, delete: 200, list: 200 }[event.verb];
          expect(response.status, `${event.http}: ${response.text}`).to.equal(expected);
          if (event.verb === 'create') expect(response.json()).to.deep.include({ apiVersion: event.resource === 'jobs' ? 'batch/v1' : 'v1' });
          if (event.verb === 'list') {
            const names = (response.json().items as { metadata: { name: string } }[]).map((item) => item.metadata.name.replace(/-[a-z0-9]{5}$/, '-x7k2p'));
            expect(names).to.deep.equal(event.result_names);
          }
          await server.settle();
        }
        const after = message.k8s_after;
        const names = (plural: string) => server.listObjects(plural).map((object) => object.metadata.name);
        expect(names('persistentvolumeclaims').filter((name) => name !== 'system-data'), message.command).to.have.members(after.persistentvolumeclaims);
        expect(names('configmaps'), message.command).to.have.members(after.configmaps);
        expect(names('jobs'), message.command).to.have.members(after.jobs);
        expect(names('pods').map((name) => name.replace(/-[a-z0-9]{5}$/, '-x7k2p')), message.command).to.have.members(after.pods);
        for (const job of names('jobs')) server.controller.completeJob(job);
      }
    });
  }

  it('records the bodies as sent, so tests can compare them with the transcript', async () => {
    const [start] = loadMessages('happy-path-zipped');
    const create = start.events.filter(isK8s).find((event) => event.verb === 'create' && event.resource === 'jobs');
    const [method, path] = (create?.http ?? '').split(' ');
    await http(server, method, path, create?.body);
    expect(server.calls.of('create jobs')[0].body).to.deep.equal(create?.body);
  });
});
