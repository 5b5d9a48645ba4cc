import assert from 'node:assert/strict';


import { toApiBody } from '../../src/adapters/k8s/object-bodies.js';
import type { ClusterObject, JobObject, PvcObject } from '../../src/domain/cluster-objects.js';
import { StageSequencer } from '../../src/domain/stage-sequencer.js';
import { k8sEvents, loadHappyPath, TRANSCRIPT_SETTINGS, type HappyPath } from '../support/bespin-fixtures.js';

const sequencer = new StageSequencer(TRANSCRIPT_SETTINGS);

const RESOURCE_OF_KIND = {
  PersistentVolumeClaim: 'persistentvolumeclaims',
  ConfigMap: 'configmaps',
  Job: 'jobs',
} as const;

/** What the JobRunner creates for each message of a happy path, in the original's order. */
function createdFor(path: HappyPath, command: string): ClusterObject[] {
  const { job, stageGroup, shareGroup, methodsContent } = path;
  switch (command) {
    case 'start_job': {
      const stage = sequencer.stageData(job, stageGroup);
      return [sequencer.jobDataPvc(job, stageGroup), stage.configMap, stage.job];
    }
    case 'stage_job_complete':
      return [sequencer.outputDataPvc(job), sequencer.runWorkflow(job).job];
    case 'run_job_complete': {
      const organize = sequencer.organizeOutput(job, methodsContent);
      return [organize.configMap, organize.job];
    }
    case 'organize_output_complete': {
      const save = sequencer.saveOutput(job, shareGroup);
      return [save.configMap, save.job];
    }
    case 'store_job_output_complete':
      return [sequencer.recordOutputProject(job).job];
    default:
      throw new Error(`no objects are created for ${command}`);
  }
}

/**
 * The recorded body, except the zipped job's stagedata.json, which also stages the URL input
 * (W15; its exact text is asserted in stage-sequencer.test.ts).
 */
function expectedBody(path: HappyPath, body: Record<string, unknown>): Record<string, unknown> {
  const data = body['data'] as Record<string, string> | undefined;
  const stageData = data?.['stagedata.json'];
  if (stageData === undefined || path.stageGroup.urlFiles.length === 0) return body;
  const urlItems = path.stageGroup.urlFiles
    .map((file) => `{"type": "url", "source": "${file.url}", "dest": "/bespin/job-data/${file.destinationPath}"}`)
    .join(', ');
  return { ...body, data: { 'stagedata.json': `${stageData.slice(0, -2)}, ${urlItems}]}` } };
}

const minimalJob: JobObject = {
  kind: 'Job',
  metadata: { name: 'demo', labels: { a: '1' } },
  template: {
    metadata: { name: 'demospec', labels: { a: '1' } },
    container: {
      name: 'demo',
      image: 'busybox',
      command: ['true'],
      args: [],
      env: [
        { name: 'LITERAL', value: 'x' },
        { name: 'FROM_FIELD', fieldPath: 'metadata.name' },
      ],
      requests: { cpu: 0.5, memory: '64Mi' },
      volumeMounts: [],
    },
    volumes: [],
  },
};

describe('toApiBody', () => {
  for (const variant of ['zipped', 'packed'] as const) {
    const path = loadHappyPath(variant);
    const creating = path.transcript.messages.filter((message) =>
      k8sEvents(message).some((event) => event.verb === 'create'),
    );
    it(`covers every message that creates objects (happy-path-${variant})`, () => {
      assert.deepEqual(creating.map((message) => message.command), [
        'start_job',
        'stage_job_complete',
        'run_job_complete',
        'organize_output_complete',
        'store_job_output_complete',
      ]);
    });
    for (const message of creating) {
      it(`sends the recorded bodies for ${message.command} (happy-path-${variant})`, () => {
        const recorded = k8sEvents(message).filter((event) => event.verb === 'create');
        const objects = createdFor(path, message.command);
        assert.deepEqual(
          objects.map((object) => RESOURCE_OF_KIND[object.kind]),
          recorded.map((event) => event.resource),
        );
        objects.forEach((object, index) => {
          const body = recorded[index]?.body ?? {};
          assert.deepEqual(toApiBody(object), expectedBody(path, body), object.metadata.name);
        });
      });
    }
  }

  it('omits unset fields and keeps explicit empty lists', () => {
    const body = toApiBody(minimalJob);
    assert.deepEqual(Object.keys(body), ['metadata', 'spec']);
    const podSpec = (body['spec'] as { template: { spec: Record<string, unknown> } }).template.spec;
    assert.deepEqual(Object.keys(podSpec), ['containers', 'volumes', 'restartPolicy']);
    const [container] = podSpec['containers'] as Record<string, unknown>[];
    assert.deepEqual(container, {
      name: 'demo',
      image: 'busybox',
      command: ['true'],
      args: [],
      env: [
        { name: 'LITERAL', value: 'x' },
        { name: 'FROM_FIELD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
      resources: { requests: { memory: '64Mi', cpu: 0.5 } },
      volumeMounts: [],
    });

    const pvc: PvcObject = {
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'claim', labels: {} },
      accessModes: ['ReadWriteMany'],
      storage: '1Gi',
    };
    assert.deepEqual(toApiBody(pvc), {
      metadata: { name: 'claim', labels: {} },
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } },
    });
  });

  it('hands out copies, so changing a body leaves the domain object alone', () => {
    const body = toApiBody(minimalJob) as {
      metadata: { labels: Record<string, string> };
      spec: { template: { spec: { containers: { command: string[]; env: unknown[] }[] } } };
    };
    body.metadata.labels['b'] = '2';
    body.spec.template.spec.containers[0]?.command.push('--extra');
    body.spec.template.spec.containers[0]?.env.pop();
    assert.deepEqual(minimalJob.metadata.labels, { a: '1' });
    assert.deepEqual(minimalJob.template.container.command, ['true']);
    assert.equal(minimalJob.template.container.env.length, 2);
  });
});
