import { expect } from 'chai';
import type { K8sApiTestServer } from '../../../testservers/k8s/k8s-api-test-server.js';
import { http, NAMESPACE, startServer } from './support.js';

const SECRETS_PATH = `/api/v1/namespaces/${NAMESPACE}/secrets`;
const STORAGE_CLASSES_PATH = '/apis/storage.k8s.io/v1/storageclasses';

describe('K8s API test server: Secrets and StorageClasses', () => {
  let server: K8sApiTestServer;

  beforeEach(async () => {
    server = await startServer({
      objects: [
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ddsclient-agent' }, stringData: { 'config.yml': 'agent_key: abc\n' } },
        { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'glusterfs-storage' }, provisioner: 'kubernetes.io/glusterfs' },
      ],
    });
  });

  afterEach(async () => {
    await server.close();
  });

  it('serves a namespaced Secret with stringData folded into base64 data and the Opaque type', async () => {
    const response = await http(server, 'GET', `${SECRETS_PATH}/ddsclient-agent`);
    expect(response.status).to.equal(200);
    const secret = response.json();
    expect(secret.type).to.equal('Opaque');
    expect(secret.data).to.deep.equal({ 'config.yml': Buffer.from('agent_key: abc\n').toString('base64') });
    expect(secret).to.not.have.property('stringData');
    expect((secret.metadata as Record<string, unknown>).namespace).to.equal(NAMESPACE);
  });

  it('answers a missing Secret with 404 NotFound and refuses an invalid data key with 422', async () => {
    const missing = await http(server, 'GET', `${SECRETS_PATH}/absent`);
    expect(missing.status).to.equal(404);
    expect(missing.json().message).to.equal('secrets "absent" not found');
    const invalid = await http(server, 'POST', SECRETS_PATH, { metadata: { name: 'bad' }, data: { 'no/slash': 'YQ==' } });
    expect(invalid.status).to.equal(422);
    expect(String(invalid.json().message)).to.include('data[no/slash]: Invalid value: "no/slash"');
  });

  it('serves StorageClasses at the cluster scope only, without a namespace', async () => {
    const found = await http(server, 'GET', `${STORAGE_CLASSES_PATH}/glusterfs-storage`);
    expect(found.status).to.equal(200);
    expect(found.json().provisioner).to.equal('kubernetes.io/glusterfs');
    expect(found.json().metadata).to.not.have.property('namespace');
    expect((await http(server, 'GET', `${STORAGE_CLASSES_PATH}/absent`)).status).to.equal(404);
    expect((await http(server, 'GET', `/apis/storage.k8s.io/v1/namespaces/${NAMESPACE}/storageclasses/glusterfs-storage`)).status).to.equal(404);
  });

  it('creates a StorageClass at the cluster scope and requires its provisioner', async () => {
    const created = await http(server, 'POST', STORAGE_CLASSES_PATH, { metadata: { name: 'fast' }, provisioner: 'example.com/fast', reclaimPolicy: 'Retain' });
    expect(created.status).to.equal(201);
    expect(server.getObject('storageclasses', 'fast', '')?.metadata.name).to.equal('fast');
    const recycled = await http(server, 'POST', STORAGE_CLASSES_PATH, { metadata: { name: 'old' }, provisioner: 'example.com/old', reclaimPolicy: 'Recycle' });
    expect(recycled.status).to.equal(422);
    expect(String(recycled.json().message)).to.include('reclaimPolicy: Unsupported value: "Recycle"');
  });

  it('denies a Secret read configured in deniedAccess with the RBAC 403', async () => {
    server.access.setDenied([{ verb: 'get', resource: 'secrets' }]);
    const denied = await http(server, 'GET', `${SECRETS_PATH}/ddsclient-agent`);
    expect(denied.status).to.equal(403);
    expect(String(denied.json().message)).to.include('cannot get resource "secrets"');
  });
});
