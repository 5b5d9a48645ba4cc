import type { V1Job } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { K8sApiTestServer } from '../../../testservers/k8s/k8s-api-test-server.js';
import { apiFailure, clientsFor, http, jobBody, NAMESPACE, pvcBody, startServer, type Clients } from './support.js';

const JOBS_PATH = `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`;
const PVCS_PATH = `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims`;
const SUBDOMAIN_RULE = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_RULE = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/** A valid Job body with one change applied to its only container or pod spec. */
function jobWith(change: (job: V1Job & { spec: NonNullable<V1Job['spec']> }) => void, name = 'stage-data-42-jdoe12'): V1Job {
  const job = jobBody(name) as V1Job & { spec: NonNullable<V1Job['spec']> };
  change(job);
  return job;
}

function causesOf(status: Record<string, unknown>): { reason: string; field: string; message: string }[] {
  return (status.details as { causes: { reason: string; field: string; message: string }[] }).causes;
}

describe('K8s API test server: validation and errors like a real API server', () => {
  let server: K8sApiTestServer;
  let clients: Clients;

  before(async () => {
    server = await startServer();
    clients = clientsFor(server);
  });

  after(async () => {
    await server.close();
  });

  async function rejectedJob(body: V1Job): Promise<{ code: number; status: Record<string, unknown> }> {
    return apiFailure(clients.batch.createNamespacedJob({ namespace: NAMESPACE, body }));
  }

  it('rejects an upper-case object name with 422 Invalid naming metadata.name', async () => {
    const failure = await rejectedJob(jobWith((job) => {
      job.metadata = { ...job.metadata, name: 'Stage-Data' };
    }));
    expect(failure.code).to.equal(422);
    expect(failure.status).to.deep.equal({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `Job.batch "Stage-Data" is invalid: metadata.name: Invalid value: "Stage-Data": ${SUBDOMAIN_RULE}`,
      reason: 'Invalid',
      details: {
        name: 'Stage-Data',
        group: 'batch',
        kind: 'Job',
        causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "Stage-Data": ${SUBDOMAIN_RULE}`, field: 'metadata.name' }],
      },
      code: 422,
    });
  });

  it('rejects a dot in a Job\'s container name (a DNS-1123 label)', async () => {
    const failure = await rejectedJob(jobWith((job) => {
      job.spec.template.spec!.containers[0].name = 'stage.data';
    }));
    expect(failure.status.message).to.equal(`Job.batch "stage-data-42-jdoe12" is invalid: spec.template.spec.containers[0].name: Invalid value: "stage.data": ${LABEL_RULE}`);
  });

  it('rejects an invalid label value and a Job name too long for the generated job-name label', async () => {
    const badLabel = await rejectedJob(jobWith((job) => {
      job.metadata!.labels = { 'bespin-job-id': 'Jane Doe' };
    }));
    expect(causesOf(badLabel.status).map((cause) => [cause.field, cause.message])).to.deep.equal([[
      'metadata.labels',
      "Invalid value: \"Jane Doe\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]]);

    const longName = 'record-output-project-123456-a-very-long-user-name-that-keeps-going';
    const tooLong = await rejectedJob(jobWith((job) => {
      job.spec.template.spec!.containers[0].name = 'record';
    }, longName));
    expect(causesOf(tooLong.status).map((cause) => [cause.field, cause.message])).to.deep.equal([
      ['spec.template.labels', `Invalid value: "${longName}": must be no more than 63 characters`],
    ]);
  });

  it('requires a container image, a Job restartPolicy of Never/OnFailure, and volumeMounts of existing volumes', async () => {
    const failure = await rejectedJob(jobWith((job) => {
      const spec = job.spec.template.spec!;
      delete spec.containers[0].image;
      delete spec.restartPolicy;
      spec.containers[0].volumeMounts = [{ name: 'job-data', mountPath: '/bespin/job-data' }];
      spec.volumes = [
        { name: 'config', configMap: { name: 'stage-data' } },
        { name: 'config', secret: { secretName: 'ddsclient-agent' } },
      ];
    }));
    expect(causesOf(failure.status).map((cause) => `${cause.reason} ${cause.field}: ${cause.message}`)).to.deep.equal([
      'FieldValueDuplicate spec.template.spec.volumes[1].name: Duplicate value: "config"',
      'FieldValueRequired spec.template.spec.containers[0].image: Required value',
      'FieldValueNotFound spec.template.spec.containers[0].volumeMounts[0].name: Not found: "job-data"',
      'FieldValueNotSupported spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    ]);
  });

  it('rejects a value of the wrong JSON type with 400 BadRequest naming the field, as the decoder does', async () => {
    const response = await http(server, 'POST', JOBS_PATH, jobWith((job) => {
      (job.spec.template.spec!.containers[0] as unknown as Record<string, unknown>).image = 5;
    }));
    expect(response.status).to.equal(400);
    expect(response.json()).to.deep.include({ reason: 'BadRequest', code: 400 });
    expect(response.json().message).to.equal('Job in version "v1" cannot be handled as a Job: json: cannot unmarshal number into Go struct field Job.spec.template.spec.containers.image of type string');

    const quantity = await http(server, 'POST', JOBS_PATH, jobWith((job) => {
      job.spec.template.spec!.containers[0].resources = { requests: { memory: 'lots' } };
    }));
    expect(quantity.status).to.equal(400);
    expect(quantity.json().message).to.contain('quantities must match the regular expression');
  });

  it('maps schema enum violations to 422 Unsupported value', async () => {
    const failure = await rejectedJob(jobWith((job) => {
      (job.spec.template.spec!.containers[0] as unknown as Record<string, unknown>).imagePullPolicy = 'Sometimes';
    }));
    expect(failure.code).to.equal(422);
    expect(causesOf(failure.status)[0]).to.deep.equal({
      reason: 'FieldValueNotSupported',
      message: 'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
      field: 'spec.template.spec.containers[0].imagePullPolicy',
    });
  });

  it('requires PVC access modes and a storage request', async () => {
    const failure = await apiFailure(clients.core.createNamespacedPersistentVolumeClaim({
      namespace: NAMESPACE,
      body: { metadata: { name: 'job-data-42-jdoe12' }, spec: { resources: { requests: {} } } },
    }));
    expect(failure.code).to.equal(422);
    expect(failure.status.message).to.equal('PersistentVolumeClaim "job-data-42-jdoe12" is invalid: [spec.accessModes: Required value: at least 1 access mode is required, spec.resources[storage]: Required value]');
  });

  it('answers a duplicate create with 409 AlreadyExists and a missing object with 404 NotFound', async () => {
    await clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody('output-data-42-jdoe12') });
    const duplicate = await apiFailure(clients.core.createNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, body: pvcBody('output-data-42-jdoe12') }));
    expect(duplicate.code).to.equal(409);
    expect(duplicate.status).to.deep.equal({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'persistentvolumeclaims "output-data-42-jdoe12" already exists',
      reason: 'AlreadyExists',
      details: { name: 'output-data-42-jdoe12', kind: 'persistentvolumeclaims' },
      code: 409,
    });

    const missing = await apiFailure(clients.batch.deleteNamespacedJob({ name: 'save-output-42-jdoe12', namespace: NAMESPACE, propagationPolicy: 'Background' }));
    expect(missing.code).to.equal(404);
    expect(missing.status).to.deep.equal({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'jobs.batch "save-output-42-jdoe12" not found',
      reason: 'NotFound',
      details: { name: 'save-output-42-jdoe12', group: 'batch', kind: 'jobs' },
      code: 404,
    });
  });

  it('rejects request shapes a real server rejects: wrong namespace, unknown namespace, apiVersion mismatch, bad patch type', async () => {
    const otherNamespace = await http(server, 'POST', PVCS_PATH, { metadata: { name: 'x', namespace: 'elsewhere' }, spec: pvcBody('x').spec });
    expect(otherNamespace.status).to.equal(400);
    expect(otherNamespace.json().message).to.equal('the namespace of the provided object does not match the namespace sent on the request');

    const unknownNamespace = await http(server, 'POST', '/api/v1/namespaces/elsewhere/persistentvolumeclaims', pvcBody('x'));
    expect(unknownNamespace.status).to.equal(404);
    expect(unknownNamespace.json().message).to.equal('namespaces "elsewhere" not found');

    const wrongVersion = await http(server, 'POST', JOBS_PATH, { ...jobBody('x'), apiVersion: 'batch/v2' });
    expect(wrongVersion.status).to.equal(400);
    expect(wrongVersion.json().message).to.equal('the API version in the data (batch/v2) does not match the expected API version (batch/v1)');

    await clients.core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'patched' } } });
    const applyPatch = await http(server, 'PATCH', `/api/v1/namespaces/${NAMESPACE}/configmaps/patched`, { data: {} }, { 'content-type': 'application/apply-patch+yaml' });
    expect(applyPatch.status).to.equal(415);

    const badPolicy = await http(server, 'DELETE', `/api/v1/namespaces/${NAMESPACE}/configmaps/patched`, { propagationPolicy: 'Eventually' });
    expect(badPolicy.status).to.equal(422);
    expect(badPolicy.json().message).to.equal('DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Eventually": supported values: "Foreground", "Background", "Orphan"');

    const unknownPath = await http(server, 'GET', `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`);
    expect(unknownPath.status).to.equal(404);
    expect(unknownPath.json().message).to.equal('the server could not find the requested resource');
  });

  it('rejects malformed label selectors with 400', async () => {
    const failure = await apiFailure(clients.batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: 'bespin-job in (true' }));
    expect(failure.code).to.equal(400);
    expect(String(failure.status.message)).to.match(/^unable to parse requirement: /);
  });
});
