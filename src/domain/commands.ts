import type { StepType } from './job-codes.js';

/** Every command lando accepts on its queue (messages.md §4, plus lando-messaging 2.1.0's debug pair). */
export const LANDO_COMMANDS = [
  'start_job',
  'restart_job',
  'cancel_job',
  'stage_job_complete',
  'stage_job_error',
  'run_job_complete',
  'run_job_error',
  'organize_output_complete',
  'organize_output_error',
  'store_job_output_complete',
  'store_job_output_error',
  'record_output_project_complete',
  'record_output_project_error',
  'start_debug',
  'cancel_debug',
] as const;
export type LandoCommandName = (typeof LANDO_COMMANDS)[number];

export function isLandoCommand(value: string): value is LandoCommandName {
  return (LANDO_COMMANDS as readonly string[]).includes(value);
}

/** The commands the watcher sends for each step's outcome (kubernetes.md §12.2). */
export const STEP_OUTCOME_COMMANDS: Readonly<Record<StepType, { complete: LandoCommandName; error: LandoCommandName }>> = {
  stage_data: { complete: 'stage_job_complete', error: 'stage_job_error' },
  run_workflow: { complete: 'run_job_complete', error: 'run_job_error' },
  organize_output: { complete: 'organize_output_complete', error: 'organize_output_error' },
  save_output: { complete: 'store_job_output_complete', error: 'store_job_output_error' },
  record_output_project: { complete: 'record_output_project_complete', error: 'record_output_project_error' },
};

/**
 * One command for lando, whatever its wire format. `jobId` keeps the type the sender used:
 * bespin-api and the watcher send a string, lando's old CLI an integer, and bespin-api's
 * job-errors and output-project bodies carry it back exactly as received.
 */
export interface LandoMessage {
  readonly command: LandoCommandName;
  readonly jobId: string | number;
  /** The failed pod's log, for `*_error` commands. */
  readonly message?: string;
  /** The sender's lando-messaging version; the receiver checks only the major part. */
  readonly version: string;
}

/** A message as delivered: how many times it was tried before, and whether the broker redelivered it. */
export interface Delivery {
  readonly message: LandoMessage;
  /** 0 on first delivery; incremented each time the message is put back for a retry. */
  readonly attempt: number;
  /** The broker delivered it before without an ack (a consumer died mid-handler). */
  readonly redelivered: boolean;
  /**
   * The queue will not try this message again: a failure that would otherwise be retried must
   * now be recorded on the job, or the job would be left silently where the failure stopped it.
   */
  readonly lastAttempt: boolean;
}

/** The lando-messaging version this service speaks and writes into what it sends. */
export const MESSAGING_VERSION = '2.0.1';
