import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import { buildKubeConfig } from '../../src/adapters/k8s/kube-config.js';
import { PermanentError } from '../../src/domain/errors.js';
import { MemoryLogger } from '../support/memory-logger.js';

const TOKEN = 'sha256~very-secret-token-value';

describe('buildKubeConfig', () => {
  let logger: MemoryLogger;
  let directory: string;
  const savedEnv = { KUBECONFIG: process.env['KUBECONFIG'], KUBERNETES_SERVICE_HOST: process.env['KUBERNETES_SERVICE_HOST'] };

  beforeEach(() => {
    logger = new MemoryLogger();
    directory = mkdtempSync(join(tmpdir(), 'kube-config-test-'));
  });

  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  function loggedText(): string {
    return JSON.stringify(logger.lines);
  }

  it('uses the host and bearer token, verifying TLS, without logging the token', async () => {
    const config = buildKubeConfig({ host: 'https://api.cluster.example:6443/', token: TOKEN }, logger);
    assert.equal(config.getCurrentCluster()?.server, 'https://api.cluster.example:6443');
    assert.equal(config.getCurrentCluster()?.skipTLSVerify, false);
    const request = new RequestContext('https://api.cluster.example:6443/api/v1/namespaces', HttpMethod.GET);
    await config.applySecurityAuthentication(request);
    assert.equal(request.getHeaders()['Authorization'], `Bearer ${TOKEN}`);
    assert.deepEqual(logger.messages('warn'), []);
    assert.doesNotMatch(loggedText(), /very-secret/);
  });

  it('warns when TLS verification is turned off', () => {
    const config = buildKubeConfig({ host: 'https://api.cluster.example:6443', token: TOKEN, verifySsl: false }, logger);
    assert.equal(config.getCurrentCluster()?.skipTLSVerify, true);
    assert.deepEqual(logger.messages('warn'), ['TLS certificate verification of the Kubernetes API server is off']);
    assert.doesNotMatch(loggedText(), /very-secret/);
  });

  it('warns that a plain HTTP server gets the token unencrypted', () => {
    const config = buildKubeConfig({ host: 'http://127.0.0.1:8001', token: TOKEN }, logger);
    assert.equal(config.getCurrentCluster()?.server, 'http://127.0.0.1:8001');
    assert.match(logger.messages('warn').join('\n'), /plain HTTP/);
  });

  it('verifies the server with the given CA bundle', () => {
    const caFile = join(directory, 'ca.crt');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');
    const config = buildKubeConfig({ host: 'https://api.cluster.example:6443', token: TOKEN, sslCaCert: caFile }, logger);
    assert.equal(config.getCurrentCluster()?.caFile, caFile);
  });

  it('refuses a CA bundle it cannot read, naming the path', () => {
    const caFile = join(directory, 'missing.crt');
    assert.throws(
      () => buildKubeConfig({ host: 'https://api.cluster.example:6443', token: TOKEN, sslCaCert: caFile }, logger),
      (error: unknown) => error instanceof PermanentError && error.message.includes(caFile),
    );
  });

  it('refuses a host without a token and a token without a host', () => {
    assert.throws(() => buildKubeConfig({ host: 'https://api.cluster.example:6443' }, logger), /host is given but token is not/);
    assert.throws(
      () => buildKubeConfig({ token: TOKEN }, logger),
      (error: unknown) => error instanceof PermanentError && /token is given but host is not/.test(error.message) && !error.message.includes(TOKEN),
    );
  });

  it('refuses a host that is not an http(s) URL', () => {
    assert.throws(() => buildKubeConfig({ host: 'api.cluster.example', token: TOKEN }, logger), /host "api.cluster.example" is not a URL/);
    assert.throws(() => buildKubeConfig({ host: 'ftp://api.cluster.example', token: TOKEN }, logger), /must be an http or https URL/);
  });

  it('reads the kubeconfig when neither host nor token is given outside a pod', () => {
    delete process.env['KUBERNETES_SERVICE_HOST'];
    const file = join(directory, 'config');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: dev, cluster: {server: "https://dev.example:6443"}}]',
        'users: [{name: dev, user: {token: kube-config-token}}]',
        'contexts: [{name: dev, context: {cluster: dev, user: dev}}]',
        'current-context: dev',
      ].join('\n'),
    );
    process.env['KUBECONFIG'] = file;
    const config = buildKubeConfig({ verifySsl: false }, logger);
    assert.equal(config.getCurrentCluster()?.server, 'https://dev.example:6443');
    assert.equal(config.getCurrentCluster()?.skipTLSVerify, true);
    assert.doesNotMatch(loggedText(), /kube-config-token/);
  });

  it('uses the service account when running in a pod', () => {
    process.env['KUBERNETES_SERVICE_HOST'] = '10.96.0.1';
    const config = buildKubeConfig({}, logger);
    assert.match(config.getCurrentCluster()?.server ?? '', /^https:\/\/10\.96\.0\.1:/);
    assert.equal(config.getCurrentCluster()?.caFile, '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
  });
});
