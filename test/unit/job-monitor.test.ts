import { expect } from 'chai';
import { MemoryCluster } from '../../src/adapters/memory/memory-cluster.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { MemoryBroker } from '../../src/adapters/memory/memory-work-queue.js';
import type { JobStatusView } from '../../src/domain/cluster-objects.js';
import { JobMonitor } from '../../src/domain/job-monitor.js';
import { MemoryLogger } from '../support/memory-logger.js';

const T0 = Date.parse('2026-11-28T10:00:00Z');

function stepJob(uid: string, step: string, createdMs: number, conditions: JobStatusView['conditions'] = []): JobStatusView {
  return {
    name: `${step.replaceAll('_', '-')}-${uid}`,
    uid,
    labels: { 'bespin-job': 'true', 'bespin-job-id': uid, 'bespin-job-step': step },
    conditions,
    creationTimestamp: new Date(createdMs).toISOString(),
  };
}

describe('JobMonitor: replays after a watcher restart', () => {
  it('reports a failed Job lando has not recorded, and skips one lando marked as recorded', async () => {
    const broker = new MemoryBroker();
    const monitor = new JobMonitor(new MemoryCluster(), broker.workQueue('lando'), { maxLogBytes: 1024 }, new MemoryMetrics(), new MemoryLogger());
    const failed = [{ type: 'Failed', status: 'True' }];
    await monitor.onJobEvent({ type: 'ADDED', job: { ...stepJob('7', 'run_workflow', T0, failed), annotations: { 'bespin-job/error-recorded': 'true' } } });
    expect(broker.depth('lando'), 'lando recorded this failure before the watcher restarted').to.equal(0);
    await monitor.onJobEvent({ type: 'ADDED', job: stepJob('8', 'run_workflow', T0, failed) });
    expect(broker.depth('lando')).to.equal(1);
  });
});

describe('JobMonitor: the stuck-job gauges', () => {
  let metrics: MemoryMetrics;
  let monitor: JobMonitor;

  beforeEach(() => {
    metrics = new MemoryMetrics();
    monitor = new JobMonitor(new MemoryCluster(), new MemoryBroker().workQueue('lando'), { maxLogBytes: 1024 }, metrics, new MemoryLogger());
  });

  it('counts the running step Jobs and the age of the oldest, per step, and forgets finished and deleted ones', async () => {
    await monitor.onJobEvent({ type: 'ADDED', job: stepJob('1', 'run_workflow', T0) });
    await monitor.onJobEvent({ type: 'ADDED', job: stepJob('2', 'run_workflow', T0 + 60_000) });
    await monitor.onJobEvent({ type: 'ADDED', job: stepJob('3', 'stage_data', T0 + 30_000) });
    await monitor.onJobEvent({ type: 'MODIFIED', job: stepJob('3', 'stage_data', T0 + 30_000, [{ type: 'Complete', status: 'True' }]) });
    await monitor.onJobEvent({ type: 'DELETED', job: stepJob('2', 'run_workflow', T0 + 60_000) });

    monitor.reportRunningJobs(T0 + 3_600_000);
    expect(metrics.value('watcher_running_step_jobs', { step: 'run_workflow' })).to.equal(1);
    expect(metrics.value('watcher_oldest_running_step_job_seconds', { step: 'run_workflow' })).to.equal(3600);
    expect(metrics.value('watcher_running_step_jobs', { step: 'stage_data' })).to.equal(0);
    expect(metrics.value('watcher_oldest_running_step_job_seconds', { step: 'stage_data' })).to.equal(0);
  });

  it('reports zeros once it stops reporting, as a standby watcher must', async () => {
    await monitor.onJobEvent({ type: 'ADDED', job: stepJob('1', 'save_output', T0) });
    monitor.reportRunningJobs(T0 + 10_000, false);
    expect(metrics.value('watcher_running_step_jobs', { step: 'save_output' })).to.equal(0);
    expect(metrics.value('watcher_oldest_running_step_job_seconds', { step: 'save_output' })).to.equal(0);
  });
});
