import { expect } from 'chai';
import type { LandoCommandName } from '../../src/domain/commands.js';
import { LandoWorld } from '../support/lando-world.js';
import {
  bodiesOfCalls,
  createdBodies,
  effectsOfCalls,
  effectsOfTranscript,
  loadTranscript,
  type Transcript,
  type TranscriptMessage,
} from '../support/transcripts.js';

/**
 * Each transcript is the original service's recorded reaction to a sequence of messages. The
 * JobRunner must make the same writes to bespin-api, the same progress notifications and the
 * same creates and deletes in the cluster, in the same order, with the same request bodies.
 */
const FAITHFUL_SCENARIOS = [
  'happy-path-zipped',
  'happy-path-packed',
  'ignored-wrong-step',
  'stage-error',
  'cancel-while-running',
  'restart-at-staging',
  'restart-at-running',
  'restart-at-organize-output',
  'restart-at-save-output',
  'restart-at-record-output-project',
  'restart-after-cancel',
  'restart-state-canceled',
  'restart-at-create-vm',
];

/** The error text a `*_error` message carried, read back from the job error the original posted. */
function errorMessageOf(message: TranscriptMessage): string | undefined {
  for (const event of message.events) {
    if (event.kind === 'bespin' && event.method === 'POST') return (event.json as { content: string }).content;
  }
  return undefined;
}

/** The record step's pod annotates itself with what the original saved as the output project. */
async function annotateRecordPod(world: LandoWorld, message: TranscriptMessage): Promise<void> {
  const save = message.events.find((event) => event.kind === 'bespin' && String(event.path).startsWith('/admin/job-dds-output-projects/'));
  if (!save) return;
  const body = save.json as { project_id: string; readme_file_id: string };
  for (const pod of await world.cluster.listPods({ 'bespin-job-step': 'record_output_project' })) {
    world.cluster.annotatePod(pod.name, { project_id: body.project_id, readme_file_id: body.readme_file_id });
  }
}

async function replay(transcript: Transcript): Promise<{ world: LandoWorld; perMessage: { expected: string[]; actual: string[] }[] }> {
  const world = new LandoWorld();
  const job = world.seedJob(transcript.bespin_job_fixture, transcript.initial_bespin_state, transcript.initial_bespin_step);
  await world.seedObjects(job, transcript.initial_k8s_objects as { resource: string; name: string }[]);
  const perMessage: { expected: string[]; actual: string[] }[] = [];
  for (const message of transcript.messages) {
    if (message.command === 'record_output_project_complete') await annotateRecordPod(world, message);
    world.calls.length = 0;
    const errorText = errorMessageOf(message);
    const disposition = await world.deliver(message.command as LandoCommandName, message.payload_job_id, errorText === undefined ? {} : { message: errorText });
    expect(disposition, `${message.command} disposition`).to.deep.equal({ outcome: 'ack' });
    expect(world.state(job.id), `bespin after ${message.command}`).to.deep.equal(message.bespin_after);
    perMessage.push({ expected: effectsOfTranscript(message.events), actual: effectsOfCalls(world.calls) });
    const expectedBodies = createdBodies(message.events);
    for (const [key, body] of bodiesOfCalls(world.calls)) {
      if (key === `ConfigMap stage-data-${job.id}-jdoe12`) continue; // W15: checked in the stage sequencer's tests
      expect(body, `request body of ${key}`).to.deep.equal(expectedBodies.get(key));
    }
  }
  return { world, perMessage };
}

describe('JobRunner against the recorded transcripts', () => {
  for (const scenario of FAITHFUL_SCENARIOS) {
    it(`reproduces ${scenario}: bespin writes, progress and cluster changes in order`, async () => {
      const transcript = loadTranscript(scenario);
      const { perMessage } = await replay(transcript);
      transcript.messages.forEach((message, index) => {
        expect(perMessage[index]!.actual, `effects of ${message.command} (#${index + 1})`).to.deep.equal(perMessage[index]!.expected);
      });
    });
  }

  it('finishes the happy path with every object of the job gone from the cluster', async () => {
    const { world } = await replay(loadTranscript('happy-path-zipped'));
    for (const kind of ['Job', 'ConfigMap', 'PersistentVolumeClaim'] as const) expect(world.cluster.names(kind), kind).to.deep.equal([]);
    expect(world.bespin.outputProjects).to.have.length(1);
  });
});
