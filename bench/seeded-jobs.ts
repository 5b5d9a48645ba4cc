import { parseBespinJob } from '../src/adapters/bespin/bespin-json.js';
import { toApiBody } from '../src/adapters/k8s/object-bodies.js';
import { BespinAdminRecords } from '../src/adapters/memory/bespin-admin-records.js';
import { SANDBOX_LANDO_SETTINGS } from '../src/composition/in-memory-system.js';
import type { BespinJob } from '../src/domain/bespin-job.js';
import type { JobObject } from '../src/domain/cluster-objects.js';
import { StageSequencer } from '../src/domain/stage-sequencer.js';
import type { K8sApiTestServer, KubeObject } from '../testservers/k8s/k8s-api-test-server.js';

/** How the Jobs already in the namespace ended, in shares of the whole. */
export interface SeedMix {
  readonly total: number;
  /** Still running: no outcome to report. */
  readonly runningShare: number;
  readonly failedShare: number;
}

export interface SeededJobs {
  readonly complete: number;
  readonly failed: number;
  readonly running: number;
}

/** Steps whose Job needs nothing but the bespin job to build; enough for realistic, varied Jobs. */
const SEEDED_STEPS: readonly ((stages: StageSequencer, job: BespinJob) => JobObject)[] = [
  (stages, job) => stages.runWorkflow(job).job,
  (stages, job) => stages.organizeOutput(job, null).job,
  (stages, job) => stages.recordOutputProject(job).job,
];

/**
 * Fills the test server's namespace, directly and not over HTTP, with labelled Jobs as lando
 * would have created them (the bodies lando sends, from the real StageSequencer), most of them
 * already Complete or Failed through the simulated controller, so each has its pod as on a
 * cluster. The server's Jobs must not finish by themselves (autoComplete `manual`).
 */
export async function seedJobs(k8s: K8sApiTestServer, mix: SeedMix): Promise<SeededJobs> {
  const stages = new StageSequencer(SANDBOX_LANDO_SETTINGS);
  const records = new BespinAdminRecords();
  for (let index = 0; index < mix.total; index += 1) {
    const job = parseBespinJob(records.generateJob(100_000 + index));
    const build = SEEDED_STEPS[index % SEEDED_STEPS.length]!;
    const body = { apiVersion: 'batch/v1', kind: 'Job', ...toApiBody(build(stages, job)) } as KubeObject;
    const name = k8s.seed(body).metadata.name;
    // Interleaved, so the running and failed Jobs are spread over the listing's pages.
    const position = (index % 100) / 100;
    if (position < mix.runningShare) continue;
    if (position >= 1 - mix.failedShare) k8s.controller.failJob(name, `step failed: exit 1 (seeded Job ${index})\n`);
    else k8s.controller.completeJob(name);
  }
  await k8s.settle();
  return countOutcomes(k8s);
}

function countOutcomes(k8s: K8sApiTestServer): SeededJobs {
  const counts = { complete: 0, failed: 0, running: 0 };
  for (const job of k8s.listObjects('jobs', { labelSelector: 'bespin-job=true' })) {
    const conditions = ((job.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).filter((condition) => condition.status === 'True');
    if (conditions.some((condition) => condition.type === 'Complete')) counts.complete += 1;
    else if (conditions.some((condition) => condition.type === 'Failed')) counts.failed += 1;
    else counts.running += 1;
  }
  return counts;
}
