import { expect } from 'chai';
import type { K8sApiTestServer } from '../../../testservers/k8s/k8s-api-test-server.js';
import { clientsFor, CollectingWatch, http, jobBody, NAMESPACE, startServer, type Clients, type RawResponse } from './support.js';

const JOBS_PATH = `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`;
const BESPIN = { labelSelector: 'bespin-job=true' };

function resourceVersionOf(object: Record<string, unknown>): string {
  return String((object.metadata as { resourceVersion?: string }).resourceVersion);
}

describe('K8s API test server: watches', () => {
  let server: K8sApiTestServer;
  let clients: Clients;
  const watches: CollectingWatch[] = [];

  async function watchJobs(query: Record<string, string | number | boolean | undefined> = BESPIN): Promise<CollectingWatch> {
    const watch = await CollectingWatch.start(clients.config, JOBS_PATH, query);
    watches.push(watch);
    return watch;
  }

  async function createJob(name: string): Promise<void> {
    await clients.batch.createNamespacedJob({ namespace: NAMESPACE, body: jobBody(name) });
    await server.settle();
  }

  beforeEach(async () => {
    server = await startServer();
    clients = clientsFor(server);
  });

  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.stop();
    await server.close();
  });

  it('starts with a synthetic ADDED per existing Job, then streams MODIFIED on completion and DELETED', async () => {
    await createJob('stage-data-42-jdoe12');
    const watch = await watchJobs();
    await watch.until((events) => events.length >= 1);
    expect(watch.summary()).to.deep.equal(['ADDED stage-data-42-jdoe12']);

    server.controller.completeJob('stage-data-42-jdoe12');
    await watch.until((events) => events.some((event) => JSON.stringify(event.object).includes('"Complete"')));
    const completed = watch.events.at(-1)?.object as { status: { conditions: { type: string; status: string }[]; succeeded: number } };
    expect(completed.status.conditions.map((condition) => [condition.type, condition.status])).to.deep.equal([['SuccessCriteriaMet', 'True'], ['Complete', 'True']]);
    expect(completed.status.succeeded).to.equal(1);

    await clients.batch.deleteNamespacedJob({ name: 'stage-data-42-jdoe12', namespace: NAMESPACE, propagationPolicy: 'Background' });
    await watch.until((events) => events.at(-1)?.type === 'DELETED');
    expect(watch.summary()).to.deep.equal([
      'ADDED stage-data-42-jdoe12',
      'MODIFIED stage-data-42-jdoe12',
      'DELETED stage-data-42-jdoe12',
    ]);
  });

  it('replays only the changes after a given resourceVersion', async () => {
    await createJob('stage-data-42-jdoe12');
    const seen = (await clients.batch.readNamespacedJob({ name: 'stage-data-42-jdoe12', namespace: NAMESPACE })).metadata?.resourceVersion;
    server.controller.completeJob('stage-data-42-jdoe12');
    await createJob('run-workflow-42-jdoe12');

    const watch = await watchJobs({ ...BESPIN, resourceVersion: seen });
    await watch.until((events) => events.filter((event) => event.type === 'ADDED').length === 1);
    expect(watch.events[0].type).to.equal('MODIFIED');
    expect(watch.events.every((event) => Number(resourceVersionOf(event.object)) > Number(seen))).to.equal(true);
    expect(watch.summary()).to.include('ADDED run-workflow-42-jdoe12');
    expect(watch.summary()).to.not.include('ADDED stage-data-42-jdoe12');
  });

  it('answers a watch from a compacted resourceVersion with an ERROR event carrying 410 Expired, then ends', async () => {
    await createJob('stage-data-42-jdoe12');
    const old = (await clients.batch.readNamespacedJob({ name: 'stage-data-42-jdoe12', namespace: NAMESPACE })).metadata?.resourceVersion;
    server.controller.completeJob('stage-data-42-jdoe12');
    server.compact();

    const watch = await watchJobs({ ...BESPIN, resourceVersion: old });
    expect(await watch.done).to.equal(null);
    expect(watch.events).to.have.length(1);
    expect(watch.events[0].type).to.equal('ERROR');
    expect(watch.events[0].object).to.deep.equal({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version: ${String(old)} (${server.store.currentRevision})`,
      reason: 'Expired',
      code: 410,
    });
  });

  it('expires resourceVersions that fall out of the capped history', async () => {
    await server.close();
    server = await startServer({ historyLimit: 2 });
    clients = clientsFor(server);
    await createJob('stage-data-42-jdoe12');
    const first = (await clients.batch.readNamespacedJob({ name: 'stage-data-42-jdoe12', namespace: NAMESPACE })).metadata?.resourceVersion;
    server.controller.completeJob('stage-data-42-jdoe12');
    await createJob('run-workflow-42-jdoe12');

    const expired = await watchJobs({ ...BESPIN, resourceVersion: first });
    await expired.done;
    expect(expired.events.map((event) => event.type)).to.deep.equal(['ERROR']);
    const recent = await watchJobs({ ...BESPIN, resourceVersion: String(server.store.currentRevision) });
    server.controller.completeJob('run-workflow-42-jdoe12');
    await recent.until((events) => events.length === 1);
    expect(recent.summary()).to.deep.equal(['MODIFIED run-workflow-42-jdoe12']);
  });

  it('fails a watch whose resourceVersion is not a number with HTTP 500 (the Python client\'s "None")', async () => {
    const response = await http(server, 'GET', `${JOBS_PATH}?labelSelector=bespin-job%3Dtrue&watch=True&resourceVersion=None`);
    expect(response.status).to.equal(500);
    expect(response.json().message).to.equal('resourceVersion: Invalid value: "None": strconv.ParseUint: parsing "None": invalid syntax');
  });

  it('sends BOOKMARK events only when asked, with the current resourceVersion', async () => {
    await server.close();
    server = await startServer({ bookmarkIntervalMs: 10 });
    clients = clientsFor(server);
    await createJob('stage-data-42-jdoe12');
    const plain = await watchJobs();
    const bookmarked = await watchJobs({ ...BESPIN, allowWatchBookmarks: true });
    await bookmarked.until((events) => events.filter((event) => event.type === 'BOOKMARK').length >= 2);

    const bookmark = bookmarked.events.find((event) => event.type === 'BOOKMARK');
    expect(bookmark?.object).to.deep.equal({ kind: 'Job', apiVersion: 'batch/v1', metadata: { resourceVersion: String(server.store.currentRevision) } });
    expect(plain.events.map((event) => event.type)).to.deep.equal(['ADDED']);
  });

  it('ends the stream after timeoutSeconds', async () => {
    const watch = await watchJobs({ ...BESPIN, timeoutSeconds: 1 });
    expect(await watch.done).to.equal(null);
    expect(server.openWatches).to.equal(0);
  });

  it('drops open watches abruptly (client sees an error) or gracefully (normal end)', async () => {
    const first = await watchJobs();
    const second = await watchJobs();
    expect(server.openWatches).to.equal(2);

    expect(server.dropWatches()).to.equal(2);
    expect(await first.done).to.be.instanceOf(Error);
    expect(await second.done).to.be.instanceOf(Error);

    const next = await watchJobs();
    server.dropWatches({ graceful: true });
    expect(await next.done).to.equal(null);
  });

  it('holds events while watches are paused and delivers them in order on resume', async () => {
    const watch = await watchJobs();
    server.pauseWatches();
    await createJob('stage-data-42-jdoe12');
    server.controller.completeJob('stage-data-42-jdoe12');
    expect(watch.events).to.have.length(0);

    server.resumeWatches();
    await watch.until((events) => events.some((event) => JSON.stringify(event.object).includes('"Complete"')));
    expect(watch.events[0].type).to.equal('ADDED');
    const versions = watch.events.map((event) => Number(resourceVersionOf(event.object)));
    expect(versions).to.deep.equal([...versions].sort((left, right) => left - right));
  });

  it('reports an object leaving the label selection as DELETED and entering it as ADDED', async () => {
    await createJob('stage-data-42-jdoe12');
    const watch = await watchJobs({ labelSelector: 'stage=yes' });
    const patch = (value: string | null) => http(server, 'PATCH', `${JOBS_PATH}/stage-data-42-jdoe12`,
      { metadata: { labels: { stage: value } } }, { 'content-type': 'application/merge-patch+json' });
    expect((await patch('yes')).status).to.equal(200);
    expect((await patch(null)).status).to.equal(200);
    await watch.until((events) => events.length === 2);
    expect(watch.summary()).to.deep.equal(['ADDED stage-data-42-jdoe12', 'DELETED stage-data-42-jdoe12']);
  });

  it('accepts watch=1 and watch=True and streams newline-separated JSON events', async () => {
    await createJob('stage-data-42-jdoe12');
    const responses: Promise<RawResponse>[] = ['1', 'True'].map((flag) => http(server, 'GET', `${JOBS_PATH}?watch=${flag}`));
    while (server.openWatches < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    server.dropWatches({ graceful: true });
    for (const response of await Promise.all(responses)) {
      expect(response.status).to.equal(200);
      const lines = response.text.trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; object: { kind: string } });
      expect(lines.map((line) => [line.type, line.object.kind])).to.deep.equal([['ADDED', 'Job']]);
    }
  });
});
