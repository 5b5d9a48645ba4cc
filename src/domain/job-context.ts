import type { BespinJob } from './bespin-job.js';
import { describeError } from './errors.js';
import { JobStep } from './job-codes.js';
import type { BespinApi } from '../ports/bespin-api.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import type { ProgressPublisher } from '../ports/progress-publisher.js';

/**
 * One command's view of one bespin job. It reads the job once and keeps the state and step
 * it writes in step with bespin-api, so guards and progress notifications need no extra read
 * (W23): the notification carries what lando just wrote, which is what the original's re-read
 * returned.
 */
export class JobContext {
  private currentState: string;
  private currentStep: string;
  /** The step the job was at when the command arrived; errors recorded after a cancel cleared the step use it (W21). */
  private readonly stepOnArrival: string;

  constructor(
    readonly job: BespinJob,
    /** The payload's job id exactly as received: bespin-api's bodies carry it back verbatim. */
    readonly payloadJobId: string | number,
    private readonly bespin: BespinApi,
    private readonly progress: ProgressPublisher,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.currentState = job.state;
    this.currentStep = job.step;
    this.stepOnArrival = job.step;
  }

  get state(): string {
    return this.currentState;
  }

  get step(): string {
    return this.currentStep;
  }

  isAt(state: string, ...steps: string[]): boolean {
    return this.currentState === state && steps.includes(this.currentStep);
  }

  async setState(state: string): Promise<void> {
    await this.bespin.setJobState(this.payloadJobId, state);
    this.currentState = state;
    await this.publishProgress();
  }

  /** An empty step is not announced, as in the original: the state write that follows is. */
  async setStep(step: string): Promise<void> {
    await this.bespin.setJobStep(this.payloadJobId, step);
    this.currentStep = step;
    if (step !== JobStep.None) await this.publishProgress();
  }

  async recordError(content: string): Promise<void> {
    await this.bespin.recordJobError({ job: this.payloadJobId, jobStep: this.stepForErrorRecord(), content });
  }

  status(message: string): void {
    this.logger.info({ step: this.currentStep, state: this.currentState }, message);
  }

  log(): Logger {
    return this.logger;
  }

  /**
   * bespin-api refuses a job error at an empty step; the step the job was at when the command
   * arrived, or else the first step, keeps the explanation instead of losing it.
   */
  private stepForErrorRecord(): string {
    if (this.currentStep !== JobStep.None) return this.currentStep;
    if (this.stepOnArrival !== JobStep.None) return this.stepOnArrival;
    return JobStep.CreateVm;
  }

  /** A lost notification must never fail the job (W7): it is logged and counted instead. */
  private async publishProgress(): Promise<void> {
    try {
      await this.progress.publish({ job: this.job.id, state: this.currentState, step: this.currentStep });
    } catch (error) {
      this.metrics.increment('lando_progress_publish_failures_total');
      this.logger.warn({ err: describeError(error), step: this.currentStep }, 'Could not publish job progress');
    }
  }
}
