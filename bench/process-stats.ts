import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Memory and CPU of one process as the kernel accounts them. */
export interface ProcessSample {
  /** VmHWM: the most resident memory the process ever had. */
  readonly peakRssBytes: number;
  /** VmRSS: resident memory now. */
  readonly rssBytes: number;
  /** utime + stime: CPU time spent in user and kernel mode since the process started. */
  readonly cpuSeconds: number;
}

/** Kernel clock ticks per second, the unit of /proc/<pid>/stat times (100 on every Linux seen so far). */
const CLOCK_TICKS = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** Reads /proc/<pid>/status and /proc/<pid>/stat; throws naming the pid when the process is gone. */
export function readProcessStats(pid: number): ProcessSample {
  let status: string;
  let stat: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    throw new Error(`cannot read /proc/${pid}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return {
    peakRssBytes: statusKilobytes(status, 'VmHWM', pid) * 1024,
    rssBytes: statusKilobytes(status, 'VmRSS', pid) * 1024,
    cpuSeconds: cpuTicks(stat, pid) / CLOCK_TICKS,
  };
}

function statusKilobytes(status: string, field: string, pid: number): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(match[1]);
}

/** utime (field 14) + stime (field 15); counted after the command name, which may itself hold spaces and parentheses. */
function cpuTicks(stat: string, pid: number): number {
  const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // afterName[0] is field 3 (state), so field n is afterName[n - 3].
  const utime = Number(afterName[11]);
  const stime = Number(afterName[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat has no utime/stime: ${stat}`);
  return utime + stime;
}

/** The benchmark's own process: it hosts the test servers, so its CPU shows whether they are the bottleneck. */
export function ownProcessStats(): ProcessSample {
  return readProcessStats(process.pid);
}
