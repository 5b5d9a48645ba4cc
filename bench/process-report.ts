import type { ProcessSample } from './process-stats.js';
import type { RoleProcess } from './role-process.js';
import { megabytes, round } from './statistics.js';

/** One process's share of a scenario. */
export interface ProcessReport {
  /** VmHWM at the end: the process's peak resident memory over its whole life. */
  readonly peakRssMb: number;
  readonly rssMb: number;
  /** CPU seconds (utime + stime) spent during the measured part of the scenario. */
  readonly cpuSeconds: number;
  /** CPU seconds since the process started, its start-up included. */
  readonly totalCpuSeconds: number;
  /** From spawn to "lando-k8s <role> started". */
  readonly startMs?: number;
  /** Lines the role logged at WARN and at ERROR or above. */
  readonly warnings?: number;
  readonly errors?: number;
}

export function processReport(before: ProcessSample, after: ProcessSample, role?: RoleProcess, startMs?: number): ProcessReport {
  return {
    peakRssMb: megabytes(after.peakRssBytes),
    rssMb: megabytes(after.rssBytes),
    cpuSeconds: round(after.cpuSeconds - before.cpuSeconds),
    totalCpuSeconds: round(after.cpuSeconds),
    ...(startMs === undefined ? {} : { startMs: Math.round(startMs) }),
    ...(role ? { warnings: role.warnings, errors: role.errors } : {}),
  };
}
