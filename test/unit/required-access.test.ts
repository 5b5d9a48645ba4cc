import { expect } from 'chai';
import { accessName, REQUIRED_ACCESS, requiredAccessOf, type AccessRole } from '../../src/adapters/k8s/required-access.js';
import { deployedObjects, findObject, kustomizationNamespace, serviceAccountPermissions, textAt } from '../support/deploy-manifests.js';

/** Each role's Deployment in deploy/, whose service account `check` reviews the role's rows for. */
const DEPLOYMENT_OF: Readonly<Record<AccessRole, string>> = { lando: 'lando', watcher: 'lando-watcher' };

describe('the access table check reviews', () => {
  it('has one row per API group, resource and verb', () => {
    const names = REQUIRED_ACCESS.map(accessName);
    expect(new Set(names).size).to.equal(names.length);
  });

  for (const role of ['lando', 'watcher'] as const) {
    it(`holds for ${role}, with Leases on, exactly what deploy/ grants its service account (which rbac.test.ts derives from the calls)`, () => {
      const objects = deployedObjects();
      const deployment = findObject(objects, 'Deployment', DEPLOYMENT_OF[role]);
      const account = textAt(deployment, 'spec.template.spec.serviceAccountName', `Deployment ${DEPLOYMENT_OF[role]}`);
      const granted = serviceAccountPermissions(objects, account, kustomizationNamespace());
      expect(requiredAccessOf(role, true).map(accessName).sort()).to.deep.equal([...granted].sort());
    });
  }

  it('leaves the Lease rows out while the role takes no Leases', () => {
    for (const role of ['lando', 'watcher'] as const) {
      const withoutLeases = requiredAccessOf(role, false).map(accessName);
      expect(withoutLeases.filter((name) => name.startsWith('coordination.k8s.io/leases'))).to.deep.equal([]);
      expect(withoutLeases.length).to.equal(requiredAccessOf(role, true).length - 4);
    }
  });

  it('names a subresource after its resource, as RBAC does', () => {
    expect(accessName({ group: '', resource: 'pods', subresource: 'log', verb: 'get' })).to.equal('core/pods/log: get');
    expect(accessName({ group: 'batch', resource: 'jobs', verb: 'watch' })).to.equal('batch/jobs: watch');
  });
});
