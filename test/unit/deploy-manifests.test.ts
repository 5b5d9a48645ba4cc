import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Secret } from 'kubernetes-models/v1/Secret';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { loadConfig, type AppConfig } from '../../src/composition/config.js';
import { startHealthServer, type HealthServer } from '../../src/composition/health-server.js';
import {
  at,
  CONFIG_KEY,
  DEPLOY_DIR,
  deployedObjects,
  EXAMPLE_CONFIG_FILE,
  exampleConfigText,
  findObject,
  isRecord,
  kustomizationNamespace,
  listAt,
  manifestFiles,
  objectName,
  objectsOfKind,
  parseManifests,
  readAllManifests,
  readKustomization,
  readManifests,
  recordAt,
  serviceAccountPermissions,
  textAt,
  type KubeJson,
  type Manifest,
} from '../support/deploy-manifests.js';
import { MemoryLogger } from '../support/memory-logger.js';

// kubernetes-models classes take each kind's own data type; `never` is what every one accepts.
type ModelClass = new (data: never) => { validate(): void };

/** The schema of every kind deploy/ may hold, by `apiVersion kind`. */
const MODELS: Readonly<Record<string, ModelClass>> = {
  'v1 ServiceAccount': ServiceAccount,
  'v1 Secret': Secret,
  'rbac.authorization.k8s.io/v1 Role': Role,
  'rbac.authorization.k8s.io/v1 RoleBinding': RoleBinding,
  'apps/v1 Deployment': Deployment,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
};

/** Each Deployment and the role its container must run. */
const DEPLOYMENTS = [
  { name: 'lando', role: 'lando' },
  { name: 'lando-watcher', role: 'watcher' },
] as const;

const CONFIG_FLAG = '--config';

function describeObject(object: KubeJson): string {
  return `${String(object['kind'])} ${isRecord(object['metadata']) ? String(object['metadata']['name']) : '(no name)'}`;
}

/** Checks one object against the official OpenAPI schema of its kind. */
function validateObject(object: KubeJson, where: string): void {
  const model = MODELS[`${String(object['apiVersion'])} ${String(object['kind'])}`];
  if (model === undefined) {
    assert.fail(`${where}: ${String(object['apiVersion'])} ${String(object['kind'])} is not a kind this test knows; add its kubernetes-models class to MODELS`);
  }
  try {
    new model(object as never).validate();
  } catch (error) {
    assert.fail(`${where} (${describeObject(object)}) does not match the Kubernetes schema: ${(error as Error).message}`);
  }
}

function onlyContainer(deployment: KubeJson): KubeJson {
  const where = `Deployment ${objectName(deployment)}`;
  const containers = listAt(deployment, 'spec.template.spec.containers', where);
  assert.equal(containers.length, 1, `${where} must run exactly one container`);
  const [container] = containers;
  assert.ok(isRecord(container), `${where}: the container is not a mapping`);
  return container;
}

function textList(value: unknown, where: string): string[] {
  assert.ok(Array.isArray(value) && value.every((item) => typeof item === 'string'), `${where} must be a list of text`);
  return value as string[];
}

/** The path given to --config in a container's arguments. */
function configPathOf(args: readonly string[], where: string): string {
  const flag = args.indexOf(CONFIG_FLAG);
  const path = flag === -1 ? undefined : args[flag + 1];
  assert.ok(path !== undefined, `${where} passes no ${CONFIG_FLAG} FILE`);
  return path;
}

/** The container port a probe's `port` (a name or a number) refers to. */
function probePort(container: KubeJson, probe: KubeJson, where: string): number {
  const port = at(probe, 'httpGet.port', where);
  if (typeof port === 'number') return port;
  const named = listAt(container, 'ports', where).find((entry) => isRecord(entry) && entry['name'] === port);
  assert.ok(isRecord(named), `${where}: the probe names port ${String(port)}, which the container does not declare`);
  const number = named['containerPort'];
  assert.equal(typeof number, 'number', `${where}: port ${String(port)} has no containerPort`);
  return number as number;
}

/** What `kubectl apply -k deploy/` would send: kubectl's own kustomize build, no cluster needed. */
function kustomizeBuild(): string {
  try {
    return execFileSync('kubectl', ['kustomize', DEPLOY_DIR], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { code, stderr } = error as { code?: string; stderr?: string };
    if (code === 'ENOENT') assert.fail('kubectl is not installed; the machine image provides it (Debian package kubectl)');
    assert.fail(`kubectl kustomize deploy/ failed: ${stderr ?? (error as Error).message}`);
  }
}

function labelsMatch(selector: KubeJson, labels: KubeJson): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

describe('deploy/ manifests', () => {
  let manifests: Manifest[];
  let objects: KubeJson[];
  let namespace: string;

  // Read in a hook, not while mocha collects the tests: a broken file then fails these tests only.
  before(() => {
    manifests = readAllManifests();
    objects = deployedObjects();
    namespace = kustomizationNamespace();
  });

  describe('schemas', () => {
    it('holds only objects that match the official Kubernetes schema of their kind', () => {
      assert.ok(manifests.length > 0, 'deploy/ holds no manifests');
      for (const { file, index, object } of manifests) validateObject(object, `deploy/${file} document ${index}`);
    });

    it('rejects what the schema forbids, so the check above can fail', () => {
      const [broken] = parseManifests('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n', 'broken.yaml');
      assert.ok(broken !== undefined);
      assert.throws(() => validateObject(broken.object, 'broken.yaml'), /replicas must be integer/);
    });

    it('names no two objects of one kind alike', () => {
      const names = manifests.map(({ object }) => describeObject(object));
      assert.deepEqual(names.filter((name, index) => names.indexOf(name) !== index), []);
    });
  });

  describe('kustomization.yaml', () => {
    it('sets the namespace and deploys every manifest except the example configuration Secret', () => {
      assert.equal(namespace, 'lando-job-runner');
      const resources = textList(at(readKustomization(), 'resources'), 'kustomization.yaml resources');
      assert.deepEqual([...resources].sort(), manifestFiles().filter((file) => file !== EXAMPLE_CONFIG_FILE));
      assert.deepEqual(objectsOfKind(objects, 'Secret'), [], 'secrets do not belong in the kustomization');
      assert.deepEqual(objectsOfKind(objects, 'Namespace'), [], '`kubectl delete -k` must not delete the namespace and the jobs in it');
    });

    it('builds with kubectl into valid objects, all in the namespace, with a pinned image', () => {
      const built = parseManifests(kustomizeBuild(), 'kubectl kustomize deploy/');
      assert.deepEqual(built.map(({ object }) => describeObject(object)).sort(), objects.map(describeObject).sort());
      for (const { object, index } of built) {
        validateObject(object, `kubectl kustomize document ${index}`);
        assert.equal(at(object, 'metadata.namespace', describeObject(object)), namespace, `${describeObject(object)} is not in ${namespace}`);
      }
      for (const deployment of objectsOfKind(built.map(({ object }) => object), 'Deployment')) {
        const image = textAt(onlyContainer(deployment), 'image', describeObject(deployment));
        assert.match(image, /^lando-k8s:\d+\.\d+\.\d+$/, `${describeObject(deployment)} runs ${image}, not a pinned version of the lando-k8s image`);
      }
    });
  });

  describe('the example configuration', () => {
    let directory: string;
    let config: AppConfig;
    let secrets: KubeJson[];

    before(() => {
      secrets = readManifests(EXAMPLE_CONFIG_FILE).map(({ object }) => object);
      directory = mkdtempSync(join(tmpdir(), 'lando-deploy-config-'));
      const path = join(directory, CONFIG_KEY);
      writeFileSync(path, exampleConfigText());
      // No environment: the file alone must load.
      config = loadConfig(path, {});
    });

    after(() => {
      rmSync(directory, { recursive: true, force: true });
    });

    it('is the one Secret every Deployment mounts, and loads with no unknown keys', () => {
      assert.deepEqual(secrets.map((secret) => secret['kind']), ['Secret']);
      const name = objectName(secrets[0] as KubeJson);
      for (const { name: deployment } of DEPLOYMENTS) {
        const volumes = listAt(findObject(objects, 'Deployment', deployment), 'spec.template.spec.volumes');
        assert.ok(volumes.some((volume) => isRecord(volume) && isRecord(volume['secret']) && volume['secret']['secretName'] === name), `Deployment ${deployment} does not mount the Secret ${name}`);
      }
      assert.deepEqual(config.unknownKeys, []);
    });

    it('works in the namespace deploy/ uses, with the pods\' own service accounts', () => {
      assert.equal(config.clusterApiSettings.namespace, namespace);
      assert.equal(config.clusterApiSettings.host, undefined, 'a static cluster token would override the per-role service accounts');
      assert.equal(config.clusterApiSettings.token, undefined);
      for (const { name } of DEPLOYMENTS) {
        const podSpec = recordAt(findObject(objects, 'Deployment', name), 'spec.template.spec');
        assert.notEqual(podSpec['automountServiceAccountToken'], false, `Deployment ${name} must mount its service account token`);
      }
    });

    it('runs two replicas of each role safely: lando with leases, the watcher with leader election', () => {
      assert.equal(config.lando.leases, true);
      assert.equal(config.watcher.leaderElection, true);
    });

    it('names a record-step service account that deploy/ creates and lets annotate pods, and nothing more', () => {
      const account = config.recordOutputProjectSettings.serviceAccountName;
      assert.deepEqual([...serviceAccountPermissions(objects, account, namespace)].sort(), ['core/pods: get', 'core/pods: patch']);
    });

    it('gives each Deployment more termination grace than the shutdown grace', () => {
      for (const { name } of DEPLOYMENTS) {
        const grace = at(findObject(objects, 'Deployment', name), 'spec.template.spec.terminationGracePeriodSeconds');
        assert.ok(typeof grace === 'number' && grace > config.lando.shutdownGraceSeconds, `Deployment ${name}: terminationGracePeriodSeconds ${String(grace)} must exceed lando.shutdown_grace_seconds ${config.lando.shutdownGraceSeconds}`);
      }
    });

    describe('the probes', () => {
      let health: HealthServer;

      before(async () => {
        health = await startHealthServer({
          port: 0,
          host: '127.0.0.1',
          metrics: { contentType: 'text/plain', metricsText: async () => '' },
          readiness: () => ({ checks: { started: true } }),
          logger: new MemoryLogger(),
        });
      });

      after(async () => {
        await health.close();
      });

      for (const { name } of DEPLOYMENTS) {
        it(`of Deployment ${name} ask the health server on health_port, at paths it serves`, async () => {
          const container = onlyContainer(findObject(objects, 'Deployment', name));
          const expected = { readinessProbe: '/readyz', livenessProbe: '/healthz' } as const;
          for (const [probeName, path] of Object.entries(expected)) {
            const where = `Deployment ${name} ${probeName}`;
            const probe = recordAt(container, probeName, where);
            assert.equal(textAt(probe, 'httpGet.path', where), path);
            assert.equal(probePort(container, probe, where), config.healthPort, `${where} must use health_port ${config.healthPort}`);
            const response = await fetch(`http://127.0.0.1:${health.port}${path}`);
            assert.equal(response.status, 200, `the health server answers ${path} with ${response.status}`);
          }
        });
      }
    });
  });

  describe('Deployments', () => {
    for (const { name, role } of DEPLOYMENTS) {
      describe(name, () => {
        const where = `Deployment ${name}`;
        let deployment: KubeJson;
        let container: KubeJson;
        let podSpec: KubeJson;

        before(() => {
          deployment = findObject(objects, 'Deployment', name);
          container = onlyContainer(deployment);
          podSpec = recordAt(deployment, 'spec.template.spec');
        });

        it('runs two replicas, selected by the labels of its pods', () => {
          assert.equal(at(deployment, 'spec.replicas'), 2);
          assert.ok(labelsMatch(recordAt(deployment, 'spec.selector.matchLabels'), recordAt(deployment, 'spec.template.metadata.labels')), `${where}: the selector does not match the pod labels`);
        });

        it(`starts the ${role} role of the service with the mounted configuration file`, () => {
          const args = textList(container['args'], `${where} args`);
          const configPath = configPathOf(args, where);
          assert.deepEqual(args, [`--role=${role}`, CONFIG_FLAG, configPath], `${where} must pass exactly the role and the configuration file`);
          assert.equal(posix.basename(configPath), CONFIG_KEY);
          const mount = listAt(container, 'volumeMounts', where).find((entry) => isRecord(entry) && entry['mountPath'] === posix.dirname(configPath));
          assert.ok(isRecord(mount), `${where}: nothing is mounted where ${configPath} lives`);
          assert.equal(mount['readOnly'], true, `${where}: the configuration must be mounted read-only`);
          const volume = listAt(podSpec, 'volumes', where).find((entry) => isRecord(entry) && entry['name'] === mount['name']);
          assert.ok(isRecord(volume), `${where}: the volume ${String(mount['name'])} is not declared`);
          assert.equal(at(volume, 'secret.secretName', where), 'lando-config');
        });

        it('runs under its own service account', () => {
          const account = textAt(podSpec, 'serviceAccountName', where);
          findObject(objects, 'ServiceAccount', account);
          assert.ok(serviceAccountPermissions(objects, account, namespace).size > 0, `${where}: ${account} is granted nothing`);
        });

        it('runs as a non-root user without privileges, on a read-only root filesystem', () => {
          const pod = recordAt(podSpec, 'securityContext', where);
          assert.equal(pod['runAsNonRoot'], true);
          assert.ok(typeof pod['runAsUser'] === 'number' && pod['runAsUser'] > 0, `${where}: runAsUser must be a non-root uid`);
          assert.equal(at(pod, 'seccompProfile.type', where), 'RuntimeDefault');
          const own = recordAt(container, 'securityContext', where);
          assert.equal(own['allowPrivilegeEscalation'], false);
          assert.equal(own['readOnlyRootFilesystem'], true);
          assert.deepEqual(at(own, 'capabilities.drop', where), ['ALL']);
          assert.equal(recordAt(own, 'capabilities', where)['add'], undefined, `${where} adds capabilities`);
        });

        it('requests and limits CPU and memory', () => {
          for (const bound of ['requests', 'limits']) {
            for (const resource of ['cpu', 'memory']) {
              assert.ok(at(container, `resources.${bound}.${resource}`, where) !== undefined);
            }
          }
        });

        it('is protected by a PodDisruptionBudget keeping one pod available', () => {
          const labels = recordAt(deployment, 'spec.template.metadata.labels');
          const budgets = objectsOfKind(objects, 'PodDisruptionBudget').filter((budget) => labelsMatch(recordAt(budget, 'spec.selector.matchLabels'), labels));
          assert.equal(budgets.length, 1, `${where} must be selected by exactly one PodDisruptionBudget`);
          assert.equal(at(budgets[0], 'spec.minAvailable'), 1);
        });
      });
    }
  });
});
