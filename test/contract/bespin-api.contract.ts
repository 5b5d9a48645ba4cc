import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import type { BespinAdminRecords } from '../../src/adapters/memory/bespin-admin-records.js';
import type { BespinJob } from '../../src/domain/bespin-job.js';
import { InvalidJobError, NotFoundError, PermanentError } from '../../src/domain/errors.js';
import type { BespinApi } from '../../src/ports/bespin-api.js';

/** One request as it reached bespin-api (or its stand-in), path relative to the v2 root. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
}

/** An adapter under test, backed by a record store seeded with the bespin fixtures. */
export interface BespinApiContractSubject {
  readonly api: BespinApi;
  readonly records: BespinAdminRecords;
  received(): ReceivedRequest[];
  close(): Promise<void>;
}

const TRANSCRIPTS_DIR = new URL('../fixtures/transcripts/', import.meta.url);

interface TranscriptBespinEvent {
  readonly kind: 'bespin';
  readonly method: string;
  readonly path: string;
  readonly json?: Record<string, unknown>;
  readonly body_bytes?: string;
  readonly response_status?: number;
}

/** Every bespin-api call the original made in the recorded transcripts that bespin answered with success. */
export function transcriptBespinCalls(): { transcript: string; event: TranscriptBespinEvent }[] {
  return readdirSync(TRANSCRIPTS_DIR)
    .filter((file) => file.endsWith('.json'))
    .flatMap((file) => {
      const transcript = JSON.parse(readFileSync(new URL(file, TRANSCRIPTS_DIR), 'utf8')) as {
        messages?: { events: { kind: string }[] }[];
      };
      return (transcript.messages ?? [])
        .flatMap((message) => message.events)
        .filter((event): event is TranscriptBespinEvent => event.kind === 'bespin')
        .filter((event) => event.response_status === undefined)
        .map((event) => ({ transcript: file, event }));
    });
}

/** Makes the port call the original made for a transcript event. */
export async function replayTranscriptCall(api: BespinApi, event: TranscriptBespinEvent): Promise<void> {
  const [, resource, id] = event.path.split('/').filter((part) => part !== '');
  const json = event.json ?? {};
  const text = (key: string): string => json[key] as string;
  const payloadJobId = json.job as string | number;
  const target = `${event.method} ${resource}`;
  switch (target) {
    case 'GET jobs':
      await api.getJob(id as string);
      return;
    case 'PUT jobs':
      if ('state' in json) await api.setJobState(id as string, text('state'));
      else await api.setJobStep(id as string, text('step'));
      return;
    case 'GET job-file-stage-groups':
      await api.getStageGroup(Number(id));
      return;
    case 'GET share-groups':
      await api.getShareGroup(Number(id));
      return;
    case 'GET workflow-methods-documents':
      await api.getMethodsDocument(Number(id));
      return;
    case 'POST job-errors':
      await api.recordJobError({ job: payloadJobId, jobStep: text('job_step'), content: text('content') });
      return;
    case 'PUT job-dds-output-projects':
      await api.saveOutputProject({
        id: json.id as number,
        job: payloadJobId,
        projectId: text('project_id'),
        readmeFileId: text('readme_file_id'),
      });
      return;
    default:
      throw new Error(`no port call for transcript event ${target}`);
  }
}

/** Job 42 of bespin-job.json as lando sees it. */
export const FIXTURE_JOB_42: BespinJob = {
  id: 42,
  username: 'jdoe12@duke.edu',
  name: 'Sample1 exome',
  created: '2019-06-07T14:03:11.123456Z',
  state: 'S',
  step: '',
  jobFlavor: { cpus: 32, memory: '64Gi' },
  stageGroupId: 40,
  shareGroupId: 1,
  jobOrder:
    '{"threads": 32, "library": "Library1", "platform": "ILLUMINA", "read_pair": {"name": "sample1", "read1_files": [{"class": "File", "path": "sample1_R1.fastq.gz"}], "read2_files": [{"class": "File", "path": "sample1_R2.fastq.gz"}]}, "intervals": [{"class": "File", "path": "intervals.bed"}]}',
  workflow: {
    url: 'https://github.com/bespin-workflows/exomeseq-gatk4/archive/v2.0.0.zip',
    type: 'zipped',
    name: 'Whole Exome Sequencing',
    version: '2.0.0',
    workflowPath: 'exomeseq-gatk4-2.0.0/exomeseq-gatk4.cwl',
    methodsDocumentId: 5,
  },
  outputProjectId: 17,
  volumeSizeGiB: 200,
  steps: {
    stage_data: {
      imageName: 'dukegcb/lando-util:0.5.4',
      baseCommand: ['python', '-m', 'lando_util.stagedata'],
      flavor: { cpus: 1, memory: '1Gi' },
    },
    run_workflow: {
      imageName: 'dukegcb/calrissian:latest',
      baseCommand: ['calrissian', '--max-ram', '16384', '--max-cores', '8'],
      flavor: { cpus: 1, memory: '2Gi' },
    },
    organize_output: {
      imageName: 'dukegcb/lando-util:0.5.4',
      baseCommand: ['python', '-m', 'lando_util.organize_project'],
      flavor: { cpus: 1, memory: '1Gi' },
    },
    save_output: {
      imageName: 'dukegcb/lando-util:0.5.4',
      baseCommand: ['python', '-m', 'lando_util.upload'],
      flavor: { cpus: 1, memory: '1Gi' },
    },
    record_output_project: {
      imageName: 'lachlanevenson/k8s-kubectl:v1.13.4',
      baseCommand: ['kubectl'],
      flavor: { cpus: 1, memory: '1Gi' },
    },
  },
};

const PROJECT_ID = '4b7f3e2a-9c1d-4e8f-a6b5-d3c2e1f0a987';
const README_ID = 'e8d7c6b5-a493-4827-9161-5f4e3d2c1b0a';

/** The error a call fails with; fails the test when the call succeeds. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected the call to fail, and it succeeded');
}

/** The behaviour every BespinApi adapter must have, whatever carries its requests. */
export function bespinApiContract(name: string, setup: () => Promise<BespinApiContractSubject>): void {
  describe(`BespinApi contract: ${name}`, () => {
    let subject: BespinApiContractSubject;

    beforeEach(async () => {
      subject = await setup();
    });

    afterEach(async () => {
      await subject.close();
    });

    describe('reads', () => {
      it('getJob parses the zipped fixture job', async () => {
        expect(await subject.api.getJob('42')).to.deep.equal(FIXTURE_JOB_42);
      });

      it('getJob parses the packed fixture job, accepting a numeric payload id', async () => {
        const job = await subject.api.getJob(51);
        expect(job.workflow).to.deep.equal({
          url: 'https://example.org/workflows/someurl.cwl',
          type: 'packed',
          name: 'myworkflow',
          version: '1',
          workflowPath: '#main',
          methodsDocumentId: null,
        });
        expect(job).to.include({ id: 51, username: 'jpb', stageGroupId: 41, outputProjectId: 23, volumeSizeGiB: 3 });
        expect(job.jobFlavor).to.deep.equal({ cpus: 2, memory: '1G' });
      });

      it('getStageGroup gives the DukeDS and URL files in order', async () => {
        expect(await subject.api.getStageGroup(40)).to.deep.equal({
          ddsFiles: [
            { fileId: '0a3b6c2e-6f0e-4b8e-9a53-8f6f2c1d7e21', destinationPath: 'sample1_R1.fastq.gz', size: 3221225472 },
            { fileId: '9c4d1e7f-2b3a-4c5d-8e9f-0a1b2c3d4e5f', destinationPath: 'sample1_R2.fastq.gz', size: 3000000000 },
          ],
          urlFiles: [{ url: 'https://example.org/data/intervals.bed', destinationPath: 'intervals.bed', size: 1048576 }],
        });
      });

      it('getShareGroup gives the DukeDS user ids in order', async () => {
        expect(await subject.api.getShareGroup(1)).to.deep.equal({
          ddsUserIds: ['7d1b9f52-3c2e-4f1a-b6e8-2a9d0c4b5e61', 'c2a8e6f4-1d3b-4e5f-9a7c-6b8d0e2f4a13'],
        });
      });

      it('getMethodsDocument gives the content', async () => {
        expect(await subject.api.getMethodsDocument(5)).to.equal(
          '# Methods\n\nReads were aligned with BWA-MEM and variants called with GATK4 HaplotypeCaller ({{ inputs.threads }} threads).\n',
        );
      });

      it('serves generated jobs with their stage group', async () => {
        subject.records.generateJob(1234, { workflow_version: { type: 'packed', workflow_path: '#main' } });
        const job = await subject.api.getJob('1234');
        expect(job).to.include({ id: 1234, state: 'S', step: '' });
        expect(job.workflow.type).to.equal('packed');
        expect(job.stageGroupId).to.be.a('number');
        const stageGroup = await subject.api.getStageGroup(job.stageGroupId as number);
        expect(stageGroup.ddsFiles).to.have.length(1);
      });
    });

    describe('writes', () => {
      it('setJobState and setJobStep are visible in the next getJob', async () => {
        await subject.api.setJobState('42', 'R');
        await subject.api.setJobStep('42', 'V');
        expect(await subject.api.getJob('42')).to.include({ state: 'R', step: 'V' });
        await subject.api.setJobStep('42', '');
        expect(await subject.api.getJob('42')).to.include({ state: 'R', step: '' });
      });

      it('sends one PUT per state or step change with exactly one key', async () => {
        await subject.api.setJobState('42', 'R');
        await subject.api.setJobStep('42', 'S');
        expect(subject.received()).to.deep.equal([
          { method: 'PUT', path: '/admin/jobs/42/', body: '{"state": "R"}' },
          { method: 'PUT', path: '/admin/jobs/42/', body: '{"step": "S"}' },
        ]);
      });

      it('recordJobError stores the error from the exact body', async () => {
        await subject.api.recordJobError({ job: '42', jobStep: 'S', content: 'Unable to read logs.' });
        expect(subject.received()).to.deep.equal([
          {
            method: 'POST',
            path: '/admin/job-errors/',
            body: '{"job": "42", "job_step": "S", "content": "Unable to read logs."}',
          },
        ]);
        expect(subject.records.jobErrors).to.have.length(1);
        expect(subject.records.jobErrors[0]).to.include({ job: 42, job_step: 'S', content: 'Unable to read logs.' });
      });

      it('writes non-ASCII error text as Python escapes', async () => {
        await subject.api.recordJobError({ job: '42', jobStep: 'o', content: 'naïve \u{1F600}' });
        expect(subject.received()[0]?.body).to.equal('{"job": "42", "job_step": "o", "content": "na\\u00efve \\ud83d\\ude00"}');
        expect(subject.records.jobErrors[0]).to.include({ content: 'naïve \u{1F600}' });
      });

      it('saveOutputProject stores the project and readme ids from the exact body', async () => {
        await subject.api.saveOutputProject({ id: 17, job: '42', projectId: PROJECT_ID, readmeFileId: README_ID });
        expect(subject.received()).to.deep.equal([
          {
            method: 'PUT',
            path: '/admin/job-dds-output-projects/17/',
            body: `{"id": 17, "job": "42", "project_id": "${PROJECT_ID}", "readme_file_id": "${README_ID}"}`,
          },
        ]);
        expect(subject.records.outputProjects.find((project) => project.id === 17)).to.deep.equal({
          id: 17,
          job: 42,
          project_id: PROJECT_ID,
          dds_user_credentials: 1,
          readme_file_id: README_ID,
        });
      });
    });

    describe('the requests the original made', () => {
      it('replays every successful bespin call of the transcripts with the same paths (slash form) and body bytes', async () => {
        const calls = transcriptBespinCalls();
        expect(calls.length).to.be.greaterThan(100);
        for (const { event } of calls) await replayTranscriptCall(subject.api, event);
        const expected = calls.map(({ event }) => ({
          method: event.method,
          path: event.path.endsWith('/') ? event.path : `${event.path}/`,
          ...(event.body_bytes === undefined ? {} : { body: event.body_bytes }),
        }));
        expect(subject.received()).to.deep.equal(expected);
      });
    });

    describe('refusals', () => {
      it('maps unknown ids to NotFoundError for every call', async () => {
        const calls: [string, () => Promise<unknown>][] = [
          ['getJob', () => subject.api.getJob('999')],
          ['setJobState', () => subject.api.setJobState('999', 'R')],
          ['setJobStep', () => subject.api.setJobStep('999', 'S')],
          ['getStageGroup', () => subject.api.getStageGroup(999)],
          ['getShareGroup', () => subject.api.getShareGroup(999)],
          ['getMethodsDocument', () => subject.api.getMethodsDocument(999)],
          ['saveOutputProject', () => subject.api.saveOutputProject({ id: 999, job: '42', projectId: 'p', readmeFileId: 'r' })],
        ];
        for (const [operation, call] of calls) {
          const error = await rejection(call());
          expect(error, operation).to.be.instanceOf(NotFoundError);
          expect(error.message, operation).to.include('404');
        }
      });

      it('refuses an empty id with PermanentError without asking bespin', async () => {
        const error = await rejection(subject.api.getJob(''));
        expect(error).to.be.instanceOf(PermanentError);
        expect(error.message).to.include('must not be empty');
        expect(subject.received()).to.deep.equal([]);
      });

      it('maps a job error for an unknown job to PermanentError naming the field', async () => {
        const error = await rejection(subject.api.recordJobError({ job: '999', jobStep: 'S', content: 'x' }));
        expect(error).to.be.instanceOf(PermanentError);
        expect(error.message).to.include('job: Invalid pk "999" - object does not exist.');
      });

      it('refuses a job error at a blank step with PermanentError and stores nothing (W21)', async () => {
        const error = await rejection(subject.api.recordJobError({ job: '42', jobStep: '', content: 'Canceled' }));
        expect(error).to.be.instanceOf(PermanentError);
        expect(error).not.to.be.instanceOf(InvalidJobError);
        expect(error.message).to.include('400').and.include('job_step: This field may not be blank.');
        expect(subject.records.jobErrors).to.deep.equal([]);
      });

      it('refuses an unknown state code with PermanentError and leaves the job alone', async () => {
        const error = await rejection(subject.api.setJobState('42', 'Z'));
        expect(error).to.be.instanceOf(PermanentError);
        expect(error.message).to.include('state: "Z" is not a valid choice.');
        expect((await subject.api.getJob('42')).state).to.equal('S');
      });

      it('maps an unusable job record to InvalidJobError naming the field', async () => {
        subject.records.generateJob(77, { workflow_version: { type: 'tarball' } });
        const error = await rejection(subject.api.getJob('77'));
        expect(error).to.be.instanceOf(InvalidJobError);
        expect(error.message).to.equal('job 77: workflow_version.type must be "packed" or "zipped", got "tarball"');
      });

      it('maps a job without output project to InvalidJobError', async () => {
        subject.records.generateJob(78, { output_project: null });
        const error = await rejection(subject.api.getJob('78'));
        expect(error).to.be.instanceOf(InvalidJobError);
        expect(error.message).to.equal('job 78: output_project is null');
      });
    });
  });
}
