import { expect } from 'chai';
import { hostname } from 'node:os';
import { replicaIdentity } from '../../src/composition/replica-identity.js';

describe('replicaIdentity', () => {
  it('names the host and process, and differs between two calls so a restarted process never claims its predecessor\'s leases', () => {
    const first = replicaIdentity();
    expect(first).to.match(new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_${process.pid}_[0-9a-f]{8}$`));
    expect(replicaIdentity()).to.not.equal(first);
  });
});
