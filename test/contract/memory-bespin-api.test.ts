import { expect } from 'chai';
import { BespinAdminRecords } from '../../src/adapters/memory/bespin-admin-records.js';
import { MemoryBespinApi } from '../../src/adapters/memory/memory-bespin-api.js';
import { TransientError } from '../../src/domain/errors.js';
import { seedBespinFixtures } from '../../testservers/bespin-api-test-server.js';
import { bespinApiContract, rejection } from './bespin-api.contract.js';

bespinApiContract('MemoryBespinApi', async () => {
  const records = new BespinAdminRecords();
  seedBespinFixtures(records);
  const api = new MemoryBespinApi(records);
  return {
    api,
    records,
    received: () => api.calls.map(({ method, path, bodyBytes }) => (bodyBytes === undefined ? { method, path } : { method, path, body: bodyBytes })),
    close: () => Promise.resolve(),
  };
});

describe('MemoryBespinApi', () => {
  let api: MemoryBespinApi;

  beforeEach(() => {
    api = new MemoryBespinApi();
    api.generateJob(42);
  });

  it('records calls in the transcripts format, with parsed JSON and body bytes', async () => {
    await api.getJob('42');
    await api.setJobState('42', 'R');
    expect(api.calls).to.deep.equal([
      { method: 'GET', path: '/admin/jobs/42/' },
      { method: 'PUT', path: '/admin/jobs/42/', json: { state: 'R' }, bodyBytes: '{"state": "R"}' },
    ]);
    expect(api.job(42)).to.include({ state: 'R' });
  });

  it('injects faults by port method name before the call reaches the records', async () => {
    api.faults.failNext(1, 'transient', 'setJobState');
    await api.getJob('42');
    expect(await rejection(api.setJobState('42', 'R'))).to.be.instanceOf(TransientError);
    expect(api.calls.map((call) => call.method)).to.deep.equal(['GET']);
    expect(api.job(42)).to.include({ state: 'S' });
    await api.setJobState('42', 'R');
    expect(api.job(42)).to.include({ state: 'R' });
  });

  it('generates valid jobs for many ids, each with its own stage group and output project', async () => {
    for (let id = 1000; id < 1050; id += 1) api.generateJob(id);
    const jobs = await Promise.all(Array.from({ length: 50 }, (_, index) => api.getJob(1000 + index)));
    expect(new Set(jobs.map((job) => job.stageGroupId)).size).to.equal(50);
    expect(new Set(jobs.map((job) => job.outputProjectId)).size).to.equal(50);
    const stageGroups = await Promise.all(jobs.map((job) => api.getStageGroup(job.stageGroupId as number)));
    expect(stageGroups.every((group) => group.ddsFiles.length === 1)).to.equal(true);
  });

  it('adds the methods document and share group a generated job refers to', async () => {
    api.generateJob(7, { workflow_version: { methods_document: 9 }, share_group: 3 });
    const job = await api.getJob(7);
    expect(job.workflow.methodsDocumentId).to.equal(9);
    expect(await api.getMethodsDocument(9)).to.be.a('string').and.not.equal('');
    expect((await api.getShareGroup(3)).ddsUserIds).to.have.length(1);
  });
});
