import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  parseBespinJob,
  parseMethodsDocument,
  parseShareGroup,
  parseStageGroup,
  serializeJobErrorBody,
  serializeJobStateBody,
  serializeJobStepBody,
  serializeOutputProjectBody,
} from '../../src/adapters/bespin/bespin-json.js';
import { InvalidJobError } from '../../src/domain/errors.js';
import { FIXTURE_JOB_42, transcriptBespinCalls } from '../contract/bespin-api.contract.js';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Json;
}

const DELETE = Symbol('delete');

/** `a.b[2].c` → ['a', 'b', 2, 'c'] */
function segments(path: string): (string | number)[] {
  return path.split(/\.|(?=\[)/).map((part) => (part.startsWith('[') ? Number(part.slice(1, -1)) : part));
}

/** A copy of `json` with the value at `path` replaced (or removed with DELETE). */
function withValue(json: Json, path: string, value: unknown): Json {
  const copy = structuredClone(json);
  const parts = segments(path);
  const last = parts.pop() as string | number;
  let parent: unknown = copy;
  for (const part of parts) parent = (parent as Record<string | number, unknown>)[part];
  const container = parent as Record<string | number, unknown>;
  if (value === DELETE) {
    if (Array.isArray(container)) container.splice(last as number, 1);
    else delete container[last];
  } else {
    container[last] = value;
  }
  return copy;
}

function parseError(parse: () => unknown): InvalidJobError {
  try {
    parse();
  } catch (error) {
    if (error instanceof InvalidJobError) return error;
    throw error;
  }
  throw new Error('expected the record to be refused, and it was accepted');
}

const STEPS = 'job_settings.job_runtime_k8s.steps';

describe('bespin JSON', () => {
  const job42 = fixture('bespin-job.json');
  const job51 = fixture('bespin-job-packed.json');

  describe('parseBespinJob', () => {
    it('parses the zipped fixture', () => {
      expect(parseBespinJob(job42)).to.deep.equal(FIXTURE_JOB_42);
    });

    it('parses the packed fixture', () => {
      const job = parseBespinJob(job51);
      expect(job.workflow).to.include({ type: 'packed', workflowPath: '#main', version: '1', methodsDocumentId: null });
      expect(job).to.include({ id: 51, username: 'jpb', created: '2019-03-11T12:30:00.000000Z', jobOrder: '{"threads": 2}' });
    });

    const refusals: [string, unknown, string][] = [
      ['id', DELETE, 'job record: id is missing'],
      ['id', '42', 'job record: id must be an integer, got "42"'],
      ['user', null, 'job 42: user is null'],
      ['user.id', DELETE, 'job 42: user.id is missing'],
      ['user.username', DELETE, 'job 42: user.username is missing'],
      ['user.username', '', 'job 42: user.username must not be empty'],
      ['created', 'yesterday', 'job 42: created must be an ISO 8601 date-time, got "yesterday"'],
      ['created', '2019-13-45T00:00:00Z', 'job 42: created must be an ISO 8601 date-time, got "2019-13-45T00:00:00Z"'],
      ['name', DELETE, 'job 42: name is missing'],
      ['state', 5, 'job 42: state must be a string, got 5'],
      ['step', DELETE, 'job 42: step is missing'],
      ['job_flavor', DELETE, 'job 42: job_flavor is missing'],
      ['job_flavor.name', DELETE, 'job 42: job_flavor.name is missing'],
      ['job_flavor.cpus', '32', 'job 42: job_flavor.cpus must be an integer, got "32"'],
      ['job_flavor.cpus', 0, 'job 42: job_flavor.cpus must be at least 1, got 0'],
      ['job_flavor.memory', '64 GB', 'job 42: job_flavor.memory must be a kubernetes quantity such as "2Gi", got "64 GB"'],
      ['vm_instance_name', DELETE, 'job 42: vm_instance_name is missing'],
      ['vm_volume_name', null, 'job 42: vm_volume_name must be a string, got null'],
      ['vm_volume_mounts', '{"/dev/vdb1": ', 'job 42: vm_volume_mounts must hold JSON text ('],
      ['stage_group', DELETE, 'job 42: stage_group is missing'],
      ['stage_group', '40', 'job 42: stage_group must be an integer, got "40"'],
      ['share_group', [1], 'job 42: share_group must be an integer, got a list'],
      ['job_order', { threads: 32 }, 'job 42: job_order must be a string, got an object'],
      ['job_order', 'threads: 32', 'job 42: job_order must hold JSON text ('],
      ['workflow_version', null, 'job 42: workflow_version is null'],
      ['workflow_version.url', '', 'job 42: workflow_version.url must not be empty'],
      ['workflow_version.type', 'tarball', 'job 42: workflow_version.type must be "packed" or "zipped", got "tarball"'],
      ['workflow_version.name', DELETE, 'job 42: workflow_version.name is missing'],
      ['workflow_version.version', null, 'job 42: workflow_version.version must be a string, got null'],
      ['workflow_version.workflow_path', DELETE, 'job 42: workflow_version.workflow_path is missing'],
      ['workflow_version.methods_document', DELETE, 'job 42: workflow_version.methods_document is missing'],
      ['workflow_version.methods_document', '5', 'job 42: workflow_version.methods_document must be an integer, got "5"'],
      ['output_project', null, 'job 42: output_project is null'],
      ['output_project.id', DELETE, 'job 42: output_project.id is missing'],
      ['output_project.dds_user_credentials', null, 'job 42: output_project.dds_user_credentials must be an integer, got null'],
      ['volume_size', 0, 'job 42: volume_size must be at least 1, got 0'],
      ['volume_size', 1.5, 'job 42: volume_size must be an integer, got 1.5'],
      ['cleanup_vm', 'yes', 'job 42: cleanup_vm must be true or false, got "yes"'],
      ['job_settings', DELETE, 'job 42: job_settings is missing'],
      ['job_settings.job_runtime_openstack', DELETE, 'job 42: job_settings.job_runtime_openstack is missing'],
      ['job_settings.job_runtime_openstack', 'vm', 'job 42: job_settings.job_runtime_openstack must be an object, got "vm"'],
      ['job_settings.job_runtime_k8s', null, 'job 42: job_settings.job_runtime_k8s is null'],
      [STEPS, {}, `job 42: ${STEPS} must be a list, got an object`],
      [`${STEPS}[4]`, DELETE, `job 42: ${STEPS} lacks record_output_project`],
      [`${STEPS}[1].step_type`, 'organize_output', `job 42: ${STEPS}[2].step_type repeats "organize_output"`],
      [`${STEPS}[0].step_type`, DELETE, `job 42: ${STEPS}[0].step_type is missing`],
      [`${STEPS}[1].image_name`, '', `job 42: ${STEPS}[1].image_name must not be empty`],
      [`${STEPS}[0].base_command`, 'python -m x', `job 42: ${STEPS}[0].base_command must be a list, got "python -m x"`],
      [`${STEPS}[0].base_command[1]`, 1, `job 42: ${STEPS}[0].base_command[1] must be a string, got 1`],
      [`${STEPS}[3].flavor`, null, `job 42: ${STEPS}[3].flavor is null`],
      [`${STEPS}[3].flavor.cpus`, -1, `job 42: ${STEPS}[3].flavor.cpus must be at least 1, got -1`],
      [`${STEPS}[2].flavor.memory`, DELETE, `job 42: ${STEPS}[2].flavor.memory is missing`],
    ];
    for (const [path, value, message] of refusals) {
      const change = value === DELETE ? 'without' : `with ${JSON.stringify(value)} at`;
      it(`refuses a job ${change} ${path}`, () => {
        const error = parseError(() => parseBespinJob(withValue(job42, path, value)));
        if (message.endsWith('(')) expect(error.message.startsWith(message), error.message).to.equal(true);
        else expect(error.message).to.equal(message);
      });
    }

    it('names every missing step type at once', () => {
      const steps = (job42.job_settings as Json).job_runtime_k8s as { steps: Json[] };
      const onlyStaging = withValue(job42, STEPS, [steps.steps[0]]);
      expect(parseError(() => parseBespinJob(onlyStaging)).message).to.equal(
        `job 42: ${STEPS} lacks run_workflow, organize_output, save_output, record_output_project`,
      );
    });

    it('refuses a record that is not an object', () => {
      expect(parseError(() => parseBespinJob([job42])).message).to.equal('job record: must be an object, got a list');
      expect(parseError(() => parseBespinJob(null)).message).to.equal('job record: is null');
    });

    it('takes a numeric workflow version as its text', () => {
      expect(parseBespinJob(withValue(job42, 'workflow_version.version', 2)).workflow.version).to.equal('2');
    });

    it('reads methods document 0 or null as no document', () => {
      expect(parseBespinJob(withValue(job42, 'workflow_version.methods_document', 0)).workflow.methodsDocumentId).to.equal(null);
      expect(parseBespinJob(withValue(job42, 'workflow_version.methods_document', null)).workflow.methodsDocumentId).to.equal(null);
    });

    it('accepts a null stage group and a null or missing share group', () => {
      expect(parseBespinJob(withValue(job42, 'stage_group', null)).stageGroupId).to.equal(null);
      expect(parseBespinJob(withValue(job42, 'share_group', null)).shareGroupId).to.equal(null);
      expect(parseBespinJob(withValue(job42, 'share_group', DELETE)).shareGroupId).to.equal(null);
    });

    it('accepts a missing cleanup_vm, OpenStack settings it does not use and step types it does not know', () => {
      let json = withValue(job42, 'cleanup_vm', DELETE);
      json = withValue(json, 'job_settings.job_runtime_openstack', { image_name: 'x' });
      json = withValue(json, `${STEPS}[5]`, { id: 6, step_type: 'future_step' });
      expect(parseBespinJob(json).steps).to.deep.equal(FIXTURE_JOB_42.steps);
    });

    it('refuses any damaged record only with InvalidJobError naming the job', () => {
      const paths = leafPaths(job42);
      fc.assert(
        fc.property(fc.constantFrom(...paths), fc.oneof(fc.constant(DELETE), fc.jsonValue()), (path, value) => {
          try {
            parseBespinJob(withValue(job42, path, value));
          } catch (error) {
            expect(error).to.be.instanceOf(InvalidJobError);
            expect((error as Error).message).to.match(/^job (42|record):/);
          }
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('parseStageGroup', () => {
    const group = fixture('job-file-stage-group.json');

    it('parses the packed fixture', () => {
      expect(parseStageGroup(fixture('job-file-stage-group-packed.json'), 41)).to.deep.equal({
        ddsFiles: [{ fileId: 'myid', destinationPath: 'file1.txt', size: 0 }],
        urlFiles: [],
      });
    });

    const refusals: [string, unknown, string][] = [
      ['dds_files', DELETE, 'stage group 40: dds_files is missing'],
      ['url_files', null, 'stage group 40: url_files must be a list, got null'],
      ['dds_files[1].file_id', DELETE, 'stage group 40: dds_files[1].file_id is missing'],
      ['dds_files[0].destination_path', '', 'stage group 40: dds_files[0].destination_path must not be empty'],
      ['dds_files[0].dds_user_credentials', DELETE, 'stage group 40: dds_files[0].dds_user_credentials is missing'],
      ['dds_files[0].size', '3 GB', 'stage group 40: dds_files[0].size must be an integer, got "3 GB"'],
      ['url_files[0].url', DELETE, 'stage group 40: url_files[0].url is missing'],
      ['url_files[0].size', -1, 'stage group 40: url_files[0].size must be at least 0, got -1'],
    ];
    for (const [path, value, message] of refusals) {
      it(`refuses a stage group ${value === DELETE ? 'without' : `with ${JSON.stringify(value)} at`} ${path}`, () => {
        expect(parseError(() => parseStageGroup(withValue(group, path, value), 40)).message).to.equal(message);
      });
    }
  });

  describe('parseShareGroup and parseMethodsDocument', () => {
    it('read the share group users and the document content', () => {
      expect(parseShareGroup(fixture('share-group.json'), 1).ddsUserIds).to.have.length(2);
      expect(parseMethodsDocument(fixture('workflow-methods-document.json'), 5)).to.match(/^# Methods/);
    });

    it('refuse records lacking what lando reads', () => {
      const share = withValue(fixture('share-group.json'), 'users[1].dds_id', DELETE);
      expect(parseError(() => parseShareGroup(share, 1)).message).to.equal('share group 1: users[1].dds_id is missing');
      const document = withValue(fixture('workflow-methods-document.json'), 'content', null);
      expect(parseError(() => parseMethodsDocument(document, 5)).message).to.equal(
        'methods document 5: content must be a string, got null',
      );
    });
  });

  describe('request bodies', () => {
    it('are byte-identical to every body the original sent in the transcripts', () => {
      const writes = transcriptBespinCalls().filter(({ event }) => event.body_bytes !== undefined);
      expect(writes.length).to.be.greaterThan(50);
      for (const { transcript, event } of writes) {
        const json = event.json ?? {};
        let body: string;
        if (event.path.startsWith('/admin/jobs/')) {
          body = 'state' in json ? serializeJobStateBody(json.state as string) : serializeJobStepBody(json.step as string);
        } else if (event.path === '/admin/job-errors/') {
          body = serializeJobErrorBody({ job: json.job as string, jobStep: json.job_step as string, content: json.content as string });
        } else {
          body = serializeOutputProjectBody({
            id: json.id as number,
            job: json.job as string,
            projectId: json.project_id as string,
            readmeFileId: json.readme_file_id as string,
          });
        }
        expect(body, `${transcript} ${event.method} ${event.path}`).to.equal(event.body_bytes);
      }
    });

    it('keep a numeric payload job id a number, as the original did for its CLI client', () => {
      expect(serializeJobErrorBody({ job: 42, jobStep: 'R', content: 'é\n' })).to.equal(
        '{"job": 42, "job_step": "R", "content": "\\u00e9\\n"}',
      );
    });
  });
});

/** Every path into `json`, objects and lists included, in the notation `withValue` takes. */
function leafPaths(json: unknown, prefix = ''): string[] {
  if (json === null || typeof json !== 'object') return [];
  const entries = Array.isArray(json)
    ? json.map((value, index) => [`${prefix}[${index}]`, value] as const)
    : Object.entries(json).map(([key, value]) => [prefix === '' ? key : `${prefix}.${key}`, value] as const);
  return entries.flatMap(([path, value]) => [path, ...leafPaths(value, path)]);
}
