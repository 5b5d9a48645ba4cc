import type { KubeObject } from './kube-object.js';

/**
 * A claim that exists before lando runs, as the system data volume does
 * (`run_workflow_settings.system_data_volume`), which lando mounts but never creates.
 */
export function existingClaim(name: string, namespace: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace },
    spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Gi' } } },
  };
}

/**
 * What the record_output_project step's container does to its own pod in a real cluster
 * (`kubectl annotate pod $MY_POD_NAME project_id=... readme_file_id=...`, kubernetes.md §9),
 * for the simulated Job controller's `autoComplete.annotations`: made-up DukeDS ids derived
 * from the bespin job id, so tests can predict them.
 */
export function recordStepAnnotations(job: { readonly name: string; readonly labels: Readonly<Record<string, string>> }): Record<string, string> | undefined {
  if (job.labels['bespin-job-step'] !== 'record_output_project') return undefined;
  const jobId = job.labels['bespin-job-id'] ?? '';
  return { project_id: `project-${jobId}`, readme_file_id: `readme-${jobId}` };
}
