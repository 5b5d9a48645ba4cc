import { inject, injectable } from 'inversify';
import type { BespinJob, StageGroup } from './bespin-job.js';
import type { ConfigMapObject, JobObject, ObjectKind, ObjectRef, PodView } from './cluster-objects.js';
import type { Delivery, LandoCommandName } from './commands.js';
import { describeError, InvalidJobError, isRetryable, NotFoundError, PermanentError } from './errors.js';
import { JobContext } from './job-context.js';
import { JobState, JobStep } from './job-codes.js';
import { ERROR_RECORDED_ANNOTATION, stepByType, type StepDefinition } from './job-steps.js';
import { StageSequencer } from './stage-sequencer.js';
import { BESPIN_API, type BespinApi } from '../ports/bespin-api.js';
import { CLUSTER, type Cluster } from '../ports/cluster.js';
import { LOGGER, type Logger } from '../ports/logger.js';
import { METRICS, type Metrics } from '../ports/metrics.js';
import { PROGRESS_PUBLISHER, type ProgressPublisher } from '../ports/progress-publisher.js';
import type { Disposition } from '../ports/work-queue.js';

const ACK: Disposition = { outcome: 'ack' };

/** How a delivery reached the handler: `resuming` when an earlier attempt may have done part of the work. */
interface Request {
  readonly resuming: boolean;
  /** The failed pod's log carried by `*_error` commands. */
  readonly text: string | undefined;
}

type Handler = (context: JobContext, request: Request) => Promise<void>;

const RECORD_ANNOTATIONS = ['project_id', 'readme_file_id'] as const;

/** States in which lando has nothing more to do for a job until a user starts or restarts it. */
const AT_REST_STATES: readonly string[] = [JobState.Finished, JobState.Error, JobState.Canceled];

/**
 * What becomes of the delivery, and whether the job came to rest with it (FINISHED, ERRORED,
 * CANCELED, or it cannot be read at all), so whatever lando kept for the job can go.
 */
export interface JobRunResult {
  readonly disposition: Disposition;
  readonly jobAtRest: boolean;
}

/**
 * Handles every command lando receives, as overview.md §5-§8 state them, with the original's
 * weaknesses mended: every step message is guarded (W18), a handler that was interrupted and
 * is delivered again resumes instead of being ignored (W1), restarts make sure the volumes
 * they need exist (W13), and cluster calls are idempotent so a repeat is harmless (W14).
 *
 * It returns what should become of the delivery: a failure that retrying may mend (bespin-api
 * or the cluster unreachable) puts the message back; any other failure marks the job errored
 * with the reason saved in bespin-api.
 */
@injectable()
export class JobRunner {
  private readonly handlers: Readonly<Record<Exclude<LandoCommandName, 'start_debug' | 'cancel_debug'>, Handler>>;

  constructor(
    @inject(BESPIN_API) private readonly bespin: BespinApi,
    @inject(CLUSTER) private readonly cluster: Cluster,
    @inject(PROGRESS_PUBLISHER) private readonly progress: ProgressPublisher,
    @inject(StageSequencer) private readonly stages: StageSequencer,
    @inject(METRICS) private readonly metrics: Metrics,
    @inject(LOGGER) private readonly logger: Logger,
  ) {
    this.handlers = {
      start_job: (context, request) => this.startJob(context, request.resuming),
      restart_job: (context, request) => this.restartJob(context, request.resuming),
      cancel_job: (context, request) => this.cancelJob(context, request.resuming),
      stage_job_complete: (context, request) => this.stageJobComplete(context, request.resuming),
      run_job_complete: (context, request) => this.runJobComplete(context, request.resuming),
      organize_output_complete: (context, request) => this.organizeOutputComplete(context, request.resuming),
      store_job_output_complete: (context, request) => this.storeJobOutputComplete(context, request.resuming),
      record_output_project_complete: (context, request) => this.recordOutputProjectComplete(context, request.resuming),
      stage_job_error: (context, request) => this.stepFailed(context, request, stepByType('stage_data')),
      run_job_error: (context, request) => this.stepFailed(context, request, stepByType('run_workflow')),
      organize_output_error: (context, request) => this.stepFailed(context, request, stepByType('organize_output')),
      store_job_output_error: (context, request) => this.stepFailed(context, request, stepByType('save_output')),
      record_output_project_error: (context, request) => this.stepFailed(context, request, stepByType('record_output_project')),
    };
  }

  async handle(delivery: Delivery): Promise<Disposition> {
    return (await this.run(delivery)).disposition;
  }

  /** As handle(), also saying whether the job came to rest. */
  async run(delivery: Delivery): Promise<JobRunResult> {
    const { message } = delivery;
    const log = this.logger.child({ job_id: message.jobId, command: message.command, attempt: delivery.attempt });
    if (message.command === 'start_debug' || message.command === 'cancel_debug') {
      log.info({}, `${message.command} is not supported by this lando; the job is left as it is`);
      return { disposition: ACK, jobAtRest: false };
    }
    let context: JobContext;
    try {
      context = await this.openJob(message.jobId, log);
    } catch (error) {
      const disposition = await this.whenJobUnreadable(message.jobId, message.command, error, log);
      return { disposition, jobAtRest: disposition.outcome === 'reject' };
    }
    const request = { resuming: delivery.attempt > 0 || delivery.redelivered, text: message.message };
    try {
      await this.handlers[message.command](context, request);
      return withRest(context, ACK);
    } catch (error) {
      if (isRetryable(error) && !delivery.lastAttempt) {
        return { disposition: { outcome: 'retry', reason: `${message.command} for job ${message.jobId}: ${describeError(error)}` }, jobAtRest: false };
      }
      const final = isRetryable(error) ? new PermanentError(`${describeError(error)}, still on attempt ${delivery.attempt + 1}, the last`) : error;
      return withRest(context, await this.genericErrorPath(context, message.command, final));
    }
  }

  // ---- commands from bespin-api ----

  private async startJob(context: JobContext, resuming: boolean): Promise<void> {
    const startedByAnInterruptedAttempt = resuming && ([JobStep.None, JobStep.CreateVm, JobStep.Staging] as string[]).includes(context.step);
    const alreadyUnderway = context.state === JobState.Finished || (context.state === JobState.Running && !startedByAnInterruptedAttempt);
    if (alreadyUnderway) {
      this.ignore(context, 'start_job', 'the job is already running or finished; use restart_job');
      return;
    }
    await this.startFromScratch(context);
  }

  private async restartJob(context: JobContext, resuming: boolean): Promise<void> {
    const restartable = [JobState.Restarting, JobState.Error, JobState.Canceled] as string[];
    if (!restartable.includes(context.state) && !(resuming && context.state === JobState.Running)) {
      this.ignore(context, 'restart_job', 'only jobs restarting, errored or canceled can be restarted');
      return;
    }
    if (context.state === JobState.Canceled) {
      await this.fullRestart(context);
      return;
    }
    await this.cleanupJobsAndConfigMaps(context.job);
    switch (context.step) {
      case JobStep.Staging:
        return this.restartStaging(context);
      case JobStep.RunningWorkflow:
      case JobStep.OrganizeOutput:
      case JobStep.StoreOutput:
        return this.restartAfterStaging(context);
      case JobStep.RecordOutputProject:
        return this.refuseRecordStepRestart(context);
      default:
        return this.fullRestart(context);
    }
  }

  private async cancelJob(context: JobContext, resuming: boolean): Promise<void> {
    const settled = context.state === JobState.Finished || context.state === JobState.Canceled;
    if (settled && !resuming) {
      this.ignore(context, 'cancel_job', 'the job is already finished or canceled');
      return;
    }
    await context.setStep(JobStep.None);
    await context.setState(JobState.Canceled);
    context.status('Canceling job');
    await this.cleanupAll(context.job);
  }

  // ---- step outcomes from the watcher ----

  private async stageJobComplete(context: JobContext, resuming: boolean): Promise<void> {
    if (!this.atStep(context, resuming, JobStep.Staging, JobStep.RunningWorkflow, 'stage_job_complete')) return;
    await context.setStep(JobStep.RunningWorkflow);
    context.status('Cleaning up after stage data');
    await this.deleteAll(this.stages.cleanupAfter(context.job, 'stage_data'));
    context.status('Creating volumes for running workflow');
    await this.cluster.create(this.stages.outputDataPvc(context.job));
    await this.startRunWorkflow(context);
  }

  private async runJobComplete(context: JobContext, resuming: boolean): Promise<void> {
    if (!this.atStep(context, resuming, JobStep.RunningWorkflow, JobStep.OrganizeOutput, 'run_job_complete')) return;
    await this.deleteAll(this.stages.cleanupAfter(context.job, 'run_workflow'));
    await this.startOrganizeOutput(context);
  }

  private async organizeOutputComplete(context: JobContext, resuming: boolean): Promise<void> {
    if (!this.atStep(context, resuming, JobStep.OrganizeOutput, JobStep.StoreOutput, 'organize_output_complete')) return;
    await this.deleteAll(this.stages.cleanupAfter(context.job, 'organize_output'));
    await this.startSaveOutput(context);
  }

  private async storeJobOutputComplete(context: JobContext, resuming: boolean): Promise<void> {
    if (!this.atStep(context, resuming, JobStep.StoreOutput, JobStep.RecordOutputProject, 'store_job_output_complete')) return;
    await this.deleteAll(this.stages.cleanupAfter(context.job, 'save_output'));
    await context.setStep(JobStep.RecordOutputProject);
    context.status('Creating record output project job');
    await this.launch(context, this.stages.recordOutputProject(context.job), 'record output project');
  }

  private async recordOutputProjectComplete(context: JobContext, resuming: boolean): Promise<void> {
    if (!this.atStep(context, resuming, JobStep.RecordOutputProject, JobStep.None, 'record_output_project_complete')) return;
    const pods = await this.cluster.listPods(this.stages.recordStepPodSelector(context.job));
    const project = recordedOutputProject(pods);
    context.status(`Saving project id ${project.projectId} and readme id ${project.readmeFileId}.`);
    await this.bespin.saveOutputProject({ id: outputProjectId(context.job), job: context.payloadJobId, ...project });
    await this.deleteAll(this.stages.cleanupAfter(context.job, 'record_output_project'));
    context.status('Marking job finished');
    await context.setStep(JobStep.None);
    await context.setState(JobState.Finished);
  }

  /**
   * Guarded, unlike the original (W18): a stale or repeated error for a step the job is not
   * running would turn a restarted or canceled job into an error.
   */
  private async stepFailed(context: JobContext, request: Request, failed: StepDefinition): Promise<void> {
    const { bespinStep, errorCommand } = failed;
    const interruptedAfterStateWrite = request.resuming && context.isAt(JobState.Error, bespinStep);
    if (!context.isAt(JobState.Running, bespinStep) && !interruptedAfterStateWrite) {
      this.ignore(context, errorCommand, `the job is not running step ${bespinStep}`);
      return;
    }
    await context.setState(JobState.Error);
    context.status(failed.failureStatus);
    await context.recordError(request.text ?? `${errorCommand} carried no message`);
    await this.cluster.annotateJob(this.stages.names(context.job)[failed.jobName], { [ERROR_RECORDED_ANNOTATION]: 'true' });
  }

  // ---- the building blocks of overview §5.1 ----

  private async startFromScratch(context: JobContext): Promise<void> {
    await context.setState(JobState.Running);
    await context.setStep(JobStep.CreateVm);
    const stageGroup = await this.stageGroupOf(context.job);
    context.status('Creating stage data persistent volumes');
    await this.cluster.create(this.stages.jobDataPvc(context.job, stageGroup));
    await this.startStaging(context, stageGroup);
  }

  private async startStaging(context: JobContext, stageGroup: StageGroup): Promise<void> {
    await context.setStep(JobStep.Staging);
    context.status('Creating Stage data job');
    await this.launch(context, this.stages.stageData(context.job, stageGroup), 'stage data');
  }

  private async startRunWorkflow(context: JobContext): Promise<void> {
    context.status('Creating run workflow job');
    await this.launch(context, this.stages.runWorkflow(context.job), 'run workflow');
  }

  private async startOrganizeOutput(context: JobContext): Promise<void> {
    await context.setStep(JobStep.OrganizeOutput);
    context.status('Creating organize output project job');
    const documentId = context.job.workflow.methodsDocumentId;
    const methods = documentId ? await this.bespin.getMethodsDocument(documentId) : null;
    await this.launch(context, this.stages.organizeOutput(context.job, methods), 'organize output project');
  }

  private async startSaveOutput(context: JobContext): Promise<void> {
    const shareGroupId = context.job.shareGroupId;
    if (shareGroupId === null) throw new InvalidJobError(`job ${context.job.id} has no share_group to share its output with`);
    const shareGroup = await this.bespin.getShareGroup(shareGroupId);
    await context.setStep(JobStep.StoreOutput);
    context.status('Creating store output job');
    await this.launch(context, this.stages.saveOutput(context.job, shareGroup), 'save output');
  }

  /** A step's ConfigMap first (its Job mounts it), then its Job. */
  private async launch(context: JobContext, objects: { readonly configMap?: ConfigMapObject; readonly job: JobObject }, what: string): Promise<void> {
    if (objects.configMap) await this.cluster.create(objects.configMap);
    await this.cluster.create(objects.job);
    context.status(`Launched ${what} job: ${objects.job.metadata.name}`);
  }

  // ---- restart branches (overview §6) ----

  private async fullRestart(context: JobContext): Promise<void> {
    await this.cleanupAll(context.job);
    await this.startFromScratch(context);
  }

  /** The original assumed the job-data volume survived (W13); a missing one is recreated before staging again. */
  private async restartStaging(context: JobContext): Promise<void> {
    const volumes = await this.volumeNames(context.job);
    await context.setState(JobState.Running);
    const stageGroup = await this.stageGroupOf(context.job);
    const jobDataPvc = this.stages.jobDataPvc(context.job, stageGroup);
    if (!volumes.has(jobDataPvc.metadata.name)) await this.cluster.create(jobDataPvc);
    await this.startStaging(context, stageGroup);
  }

  /**
   * Restarts at run, organize or save output. Without the staged inputs nothing after staging
   * can run, so a lost job-data volume means starting over; without the workflow's output the
   * workflow must run again (W13).
   */
  private async restartAfterStaging(context: JobContext): Promise<void> {
    const volumes = await this.volumeNames(context.job);
    const outputPvc = this.stages.outputDataPvc(context.job);
    if (!volumes.has(this.stages.names(context.job).stagePvc)) {
      context.status('The staged input volume is gone; restarting from the beginning');
      await this.fullRestart(context);
      return;
    }
    await context.setState(JobState.Running);
    if (!volumes.has(outputPvc.metadata.name)) {
      if (context.step !== JobStep.RunningWorkflow) {
        context.status('The output volume is gone; running the workflow again');
        await context.setStep(JobStep.RunningWorkflow);
      }
      await this.cluster.create(outputPvc);
      await this.startRunWorkflow(context);
      return;
    }
    if (context.step === JobStep.RunningWorkflow) await this.startRunWorkflow(context);
    else if (context.step === JobStep.OrganizeOutput) await this.startOrganizeOutput(context);
    else await this.startSaveOutput(context);
  }

  /** bespin-api refuses this restart too: the output project may already exist in DukeDS. */
  private async refuseRecordStepRestart(context: JobContext): Promise<void> {
    const reason = 'Cannot restart record output project step.';
    await context.setState(JobState.Error);
    context.status(reason);
    await context.recordError(reason);
  }

  // ---- cluster cleanup ----

  private async cleanupJobsAndConfigMaps(job: BespinJob): Promise<void> {
    await this.deleteListed('Job', job);
    await this.deleteListed('ConfigMap', job);
  }

  private async cleanupAll(job: BespinJob): Promise<void> {
    await this.cleanupJobsAndConfigMaps(job);
    await this.deleteListed('PersistentVolumeClaim', job);
  }

  private async deleteListed(kind: ObjectKind, job: BespinJob): Promise<void> {
    await this.deleteAll(await this.cluster.list(kind, this.stages.jobLabels(job)));
  }

  /** Sent in the spec's order without waiting for each other: no object of a step depends on another's deletion. */
  private async deleteAll(objects: readonly Pick<ObjectRef, 'kind' | 'name'>[]): Promise<void> {
    await Promise.all(objects.map((object) => this.cluster.delete(object.kind, object.name)));
  }

  private async volumeNames(job: BespinJob): Promise<Set<string>> {
    const claims = await this.cluster.list('PersistentVolumeClaim', this.stages.jobLabels(job));
    return new Set(claims.map((claim) => claim.name));
  }

  // ---- guards, context and error paths ----

  /**
   * The guard of every `*_complete` command: the job must be running the step. A delivery
   * that was interrupted after writing the next step (W1) resumes; creates adopt what the
   * interrupted attempt made, so the repeat is harmless.
   */
  private atStep(context: JobContext, resuming: boolean, step: string, nextStep: string, command: string): boolean {
    if (context.isAt(JobState.Running, step) || (resuming && context.isAt(JobState.Running, nextStep))) return true;
    this.ignore(context, command, `the job is not running step ${step}`);
    return false;
  }

  private ignore(context: JobContext, command: string, why: string): void {
    this.metrics.increment('lando_messages_ignored_total', { command });
    context
      .log()
      .info({ state: context.state, step: context.step }, `Ignoring ${command} for job ${context.payloadJobId} (state ${JSON.stringify(context.state)}, step ${JSON.stringify(context.step)}): ${why}`);
  }

  private async openJob(jobId: string | number, log: Logger): Promise<JobContext> {
    const job = await this.bespin.getJob(jobId);
    return new JobContext(job, jobId, this.bespin, this.progress, this.metrics, log);
  }

  private async stageGroupOf(job: BespinJob): Promise<StageGroup> {
    if (job.stageGroupId === null) throw new InvalidJobError(`job ${job.id} has no stage_group, so its input files are unknown`);
    return this.bespin.getStageGroup(job.stageGroupId);
  }

  /**
   * The original crashed here and lost the message (W2). A job that does not exist can never
   * be handled, so the message is dead-lettered; one whose record lando cannot use is marked
   * errored with the reason (the user sees why) and dead-lettered for an operator.
   */
  private async whenJobUnreadable(jobId: string | number, command: string, error: unknown, log: Logger): Promise<Disposition> {
    if (isRetryable(error)) return { outcome: 'retry', reason: `reading job ${jobId}: ${describeError(error)}` };
    const reason = error instanceof NotFoundError ? `job ${jobId} does not exist in bespin-api` : `job ${jobId} cannot be used: ${describeError(error)}`;
    log.error({ err: describeError(error) }, `Cannot handle ${command}: ${reason}`);
    if (error instanceof InvalidJobError || (error instanceof PermanentError && !(error instanceof NotFoundError))) {
      await this.markUnusable(jobId, `Running ${command} failed with ${reason}`, log);
    }
    return { outcome: 'reject', reason };
  }

  private async markUnusable(jobId: string | number, content: string, log: Logger): Promise<void> {
    try {
      await this.bespin.setJobState(jobId, JobState.Error);
      await this.bespin.recordJobError({ job: jobId, jobStep: JobStep.CreateVm, content });
    } catch (secondary) {
      log.error({ err: describeError(secondary) }, 'Additional error occurred while handling an error');
    }
  }

  /** Overview §5.1 "G": the job is marked errored and the reason saved in bespin-api. */
  private async genericErrorPath(context: JobContext, command: string, error: unknown): Promise<Disposition> {
    const content = `Running ${command} failed with ${describeError(error)}`;
    this.metrics.increment('lando_jobs_errored_total', { command });
    context.log().error({ err: describeError(error), step: context.step }, `Handling error that occurred during ${command} for job ${context.payloadJobId}`);
    try {
      await context.setState(JobState.Error);
      context.status(content);
      await context.recordError(content);
      return ACK;
    } catch (secondary) {
      context.log().error({ err: describeError(secondary) }, 'Additional error occurred while handling an error');
      if (isRetryable(secondary)) return { outcome: 'retry', reason: `recording the error of ${command}: ${describeError(secondary)}` };
      return ACK;
    }
  }
}

/** An acknowledged command that leaves the job in a final state brings it to rest. */
function withRest(context: JobContext, disposition: Disposition): JobRunResult {
  return { disposition, jobAtRest: disposition.outcome === 'ack' && AT_REST_STATES.includes(context.state) };
}

function outputProjectId(job: BespinJob): number {
  if (job.outputProjectId === null) throw new InvalidJobError(`job ${job.id} has no output_project to record the results in`);
  return job.outputProjectId;
}

/**
 * The record step's pod annotates itself with the DukeDS ids. A retried Job leaves several
 * pods (W12): the newest one carrying both annotations wins, instead of failing the job.
 */
function recordedOutputProject(pods: readonly PodView[]): { projectId: string; readmeFileId: string } {
  if (pods.length === 0) throw new PermanentError('no pod found for the record output project step');
  const annotated = pods
    .filter((pod) => RECORD_ANNOTATIONS.every((key) => (pod.annotations[key] ?? '') !== ''))
    .sort((a, b) => a.creationTimestamp.localeCompare(b.creationTimestamp));
  const newest = annotated.at(-1);
  if (!newest) {
    const missing = pods.map((pod) => `${pod.name} lacks ${RECORD_ANNOTATIONS.filter((key) => !pod.annotations[key]).join(' and ')}`);
    throw new PermanentError(`no record output project pod carries the project_id and readme_file_id annotations (${missing.join('; ')})`);
  }
  return { projectId: newest.annotations.project_id!, readmeFileId: newest.annotations.readme_file_id! };
}
