/**
 * The command files the stage, organize and save containers read from their ConfigMaps
 * (kubernetes.md §6). Key order and serialisation match the original byte for byte, so
 * every document is built as an object literal in the spec's key order.
 */
import type { BespinJob, ShareGroup, StageGroup } from './bespin-job.js';
import { BespinPaths, inputFileDestination, workflowPaths } from './bespin-paths.js';
import { InvalidJobError } from './errors.js';
import type { JobNames } from './job-names.js';
import { pythonJsonDumps } from './python-json.js';

/** ConfigMap data keys; each is also the file name under /bespin/config. */
export const CommandFileKeys = {
  stageData: 'stagedata.json',
  organizeOutput: 'organizeoutput.json',
  saveOutput: 'saveoutput.json',
} as const;

export function commandFilePath(key: string): string {
  return `${BespinPaths.configMount}/${key}`;
}

export function stageDataCommandFile(job: BespinJob, stageGroup: StageGroup): string {
  const workflow = workflowPaths(job.workflow);
  const download =
    workflow.unzipTo === undefined
      ? { type: 'url', source: job.workflow.url, dest: workflow.downloadDestination }
      : { type: 'url', source: job.workflow.url, dest: workflow.downloadDestination, unzip_to: workflow.unzipTo };
  const items = [
    download,
    { type: 'write', source: job.jobOrder, dest: BespinPaths.jobOrder },
    ...stageGroup.ddsFiles.map((file) => ({
      type: 'DukeDS',
      source: file.fileId,
      dest: inputFileDestination(file.destinationPath),
    })),
    // W15: the original only counts URL input files toward the volume size and never stages
    // them, so workflows using one fail. lando-util's `url` item downloads them; they follow
    // the DukeDS items so documents of jobs without URL files stay byte-identical.
    ...stageGroup.urlFiles.map((file) => ({
      type: 'url',
      source: file.url,
      dest: inputFileDestination(file.destinationPath),
    })),
  ];
  return pythonJsonDumps({ items });
}

export function organizeOutputCommandFile(job: BespinJob, names: JobNames, methodsContent: string | null): string {
  const workflow = workflowPaths(job.workflow);
  return pythonJsonDumps({
    bespin_job_id: job.id,
    destination_dir: BespinPaths.resultsDir,
    downloaded_workflow_path: workflow.downloadDestination,
    workflow_to_read: workflow.toRead,
    workflow_type: job.workflow.type,
    job_order_path: BespinPaths.jobOrder,
    bespin_workflow_stdout_path: BespinPaths.workflowStdout,
    bespin_workflow_stderr_path: BespinPaths.workflowStderr,
    methods_template: methodsContent,
    additional_log_files: [names.usageReportPath],
  });
}

export function saveOutputCommandFile(job: BespinJob, shareGroup: ShareGroup): string {
  const workflowLabel = `${job.workflow.name} v${job.workflow.version}`;
  return pythonJsonDumps({
    destination: `Bespin ${workflowLabel} ${job.name} ${createdDate(job)}`,
    readme_file_path: BespinPaths.readmeInProject,
    paths: [BespinPaths.resultsDir],
    share: { dds_user_ids: [...shareGroup.ddsUserIds] },
    activity: {
      name: `${job.name} - Bespin Job ${job.id}`,
      description: `Bespin Job ${job.id} - Workflow ${workflowLabel}`,
      // The original always sends empty start and end times (kubernetes.md §6.3).
      started_on: '',
      ended_on: '',
      input_file_versions_json_path: BespinPaths.inputFileMetadata,
      workflow_output_json_path: BespinPaths.workflowStdout,
    },
  });
}

/** The date part exactly as written in `created` (no time zone conversion, as the original). */
function createdDate(job: BespinJob): string {
  const match = /^\d{4}-\d{2}-\d{2}/.exec(job.created);
  if (match === null) {
    throw new InvalidJobError(`job ${job.id} has a created time without a YYYY-MM-DD date: ${JSON.stringify(job.created)}`);
  }
  return match[0];
}
