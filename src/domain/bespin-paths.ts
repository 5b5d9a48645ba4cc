import type { WorkflowVersion } from './bespin-job.js';
import { InvalidJobError } from './errors.js';

/** Fixed paths inside the step containers (kubernetes.md §4). */
export const BespinPaths = {
  jobDataMount: '/bespin/job-data',
  workflowDir: '/bespin/job-data/workflow',
  configMount: '/bespin/config',
  outputDataMount: '/bespin/output-data',
  resultsDir: '/bespin/output-data/results',
  cwlCacheDir: '/bespin/output-data/tmpout',
  ddsClientConfigMount: '/etc/ddsclient',
  ddsClientConfigFile: '/etc/ddsclient/config',
  jobOrder: '/bespin/job-data/job-order.json',
  inputFileMetadata: '/bespin/job-data/workflow-input-files-metadata.json',
  workflowStdout: '/bespin/output-data/bespin-workflow-output.json',
  workflowStderr: '/bespin/output-data/bespin-workflow-output.log',
  annotateScript: '/bespin/output-data/annotate_project_details.sh',
  /** Relative to the uploaded project, not a container path. */
  readmeInProject: 'results/docs/README.md',
} as const;

/** Where an input file (DukeDS or URL) is staged. */
export function inputFileDestination(destinationPath: string): string {
  return `${BespinPaths.jobDataMount}/${destinationPath}`;
}

export interface WorkflowPaths {
  /** Where the stage step downloads `workflow_version.url`. */
  readonly downloadDestination: string;
  /** What calrissian runs. */
  readonly toRun: string;
  /** What organize_output copies into the results. */
  readonly toRead: string;
  /** Where a zipped workflow is extracted; absent for packed workflows. */
  readonly unzipTo?: string;
}

export function workflowPaths(workflow: WorkflowVersion): WorkflowPaths {
  // Q5: everything after the last '/', query string included, exactly as the original.
  const fileName = workflow.url.slice(workflow.url.lastIndexOf('/') + 1);
  const downloadDestination = `${BespinPaths.workflowDir}/${fileName}`;
  const type: string = workflow.type;
  switch (type) {
    case 'packed':
      return { downloadDestination, toRun: `${downloadDestination}${workflow.workflowPath}`, toRead: downloadDestination };
    case 'zipped': {
      const extracted = `${BespinPaths.workflowDir}/${workflow.workflowPath}`;
      return { downloadDestination, toRun: extracted, toRead: extracted, unzipTo: BespinPaths.workflowDir };
    }
    default:
      throw new InvalidJobError(`Unknown workflow type ${type}`);
  }
}
