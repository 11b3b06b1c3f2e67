// Which CPUs the load generator gets and which the servers get, so that neither takes the
// other's time: the price-per-core matrix (bench/price.ts) runs wrk on one set and every server
// process (master and workers) on the other, by starting them under `taskset -c LIST` (util-linux;
// the kernel's sched_setaffinity, inherited by every process a server forks).
//
// The split, from the CPUs this process may run on (/proc/self/status, Cpus_allowed_list):
//   n >= 2  the servers get the last floor(n / 2) CPUs, the load generator the others (on 2 CPUs:
//           wrk on CPU 0, the servers on CPU 1, the method of /work/shared/tools/price-per-core.sh)
//   n = 1   no disjoint sets exist: nothing is pinned, the load generator takes its share of the
//           one CPU; the ratios are computed and reported, and no goal is judged on them
// Without taskset nothing is pinned either, with the same outcome.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface CpuPlan {
  /** CPUs of the load generator and of the servers; both empty when nothing is pinned. */
  loadgen: number[];
  servers: number[];
  /** The two sets are disjoint and pinned: only then are goals judged. */
  disjoint: boolean;
  /** The taskset binary, null when none was found. */
  taskset: string | null;
  /** One line for the report. */
  describe: string;
}

/** Parses a kernel CPU list ("0-3,6"). */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`not a CPU list: ${JSON.stringify(text)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let c = a; c <= b; c++) out.push(c);
  }
  return out;
}

/** The CPUs this process may run on (all of os.availableParallelism() when /proc does not say). */
export function allowedCpus(fallback: number): number[] {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseCpuList(m[1] as string);
  } catch {
    // not Linux, or no /proc
  }
  return Array.from({ length: fallback }, (_, i) => i);
}

/** The first of `names` found on PATH, by its full path; null when none is. */
export function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const p = `${dir}/${name}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The split for `cpus` (see the header); `taskset` as found on PATH, or null. */
export function splitCpus(cpus: number[], taskset: string | null): CpuPlan {
  if (taskset === null) {
    return { loadgen: [], servers: [], disjoint: false, taskset, describe: `${cpus.length} CPU(s), nothing pinned: taskset (util-linux) is not installed, so the load generator and the servers share every CPU; ratios are reported, never judged` };
  }
  if (cpus.length < 2) {
    return { loadgen: [], servers: [], disjoint: false, taskset, describe: `1 CPU (${cpus.join(',')}): the load generator and the servers cannot have CPUs of their own; ratios are reported, never judged` };
  }
  const k = Math.floor(cpus.length / 2);
  const loadgen = cpus.slice(0, cpus.length - k);
  const servers = cpus.slice(cpus.length - k);
  return { loadgen, servers, disjoint: true, taskset, describe: `load generator on CPU ${loadgen.join(',')}, every server process on CPU ${servers.join(',')} (taskset -c)` };
}

export function cpuPlan(fallback: number): CpuPlan {
  return splitCpus(allowedCpus(fallback), which('taskset'));
}

/** The command and arguments that run argv on `cpus` (argv as is when nothing is pinned). */
export function pinnedCommand(plan: CpuPlan, cpus: number[], argv: string[]): { cmd: string; args: string[] } {
  if (plan.taskset === null || cpus.length === 0) return { cmd: argv[0] as string, args: argv.slice(1) };
  return { cmd: plan.taskset, args: ['-c', cpus.join(','), ...argv] };
}

/** Whether the kernel groups each session's processes for the scheduler (sched_autogroup): the paired mode relies on it. */
export function autogroup(): boolean | null {
  try {
    return fs.readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
  } catch {
    return null;
  }
}

/** `wrk --version`'s first line up to its copyright ("wrk debian/4.1.0-3+b2 [epoll]"), or null when it does not run. */
export function versionOf(bin: string): string | null {
  let out: string;
  try {
    out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  } catch (err) {
    // wrk prints its version with the usage, and exits 1
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  return out.split('\n')[0]?.replace(/\s*Copyright.*$/, '').trim() || null;
}
