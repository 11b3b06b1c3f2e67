// wrk (Debian's package, C), the load generator of the price-per-core matrix: one run of it,
// pinned on the load generator's CPUs, its output parsed, and its own CPU use read from /proc
// while it runs, so that a round in which it, not the server, was the bottleneck is flagged.
//
// Its CPU use: /proc/<pid>/task/*/schedstat gives, per thread, the ns it ran and the ns it waited
// to run. Read 250 ms after the start (connections open) and 250 ms before the end, summed over
// the threads of one wrk, divided by that window:
//   cpu       CPUs it used (ran): 1 = one CPU all the time
//   runnable  the share of the time its load threads ran or were ready to run (/ its -t threads):
//             a closed loop whose server is the bottleneck sleeps in epoll between responses, so
//             runnable >= SATURATED means wrk had work all the time and its server did not: the run
//             measured the load generator (or whatever else ran on its CPUs) and is flagged, not judged
// (wrk's main thread sleeps through the run: it adds next to nothing to either figure)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { now, sleep } from './common';
import { pinnedCommand, type CpuPlan } from './affinity';

/** runnable at or above this: the load generator was saturated. */
export const SATURATED = 0.9;

export type WrkLoad = 'keep-alive' | 'fresh';

export interface WrkRun {
  rps: number;
  requests: number;
  /** Seconds wrk says it ran. */
  seconds: number;
  p99Ms: number | null;
  non2xx: number;
  errors: { connect: number; read: number; write: number; timeout: number };
  /** CPUs used, and the share of the time runnable (see the header); null when /proc could not tell. */
  cpu: number | null;
  runnable: number | null;
  saturated: boolean;
}

/** wrk takes whole seconds: at least 1. */
export function wholeSeconds(s: number): number {
  return Math.max(1, Math.round(s));
}

/** wrk's arguments: `threads` threads, `connections` connections, `Connection: close` for the fresh load. */
export function wrkArgs(load: WrkLoad, connections: number, threads: number, durationS: number, port: number): string[] {
  const t = Math.max(1, Math.min(threads, connections));
  return ['-t', String(t), '-c', String(connections), '-d', `${wholeSeconds(durationS)}s`, '--latency', '--timeout', '5s',
    ...(load === 'fresh' ? ['-H', 'Connection: close'] : []), `http://127.0.0.1:${port}/`];
}

function toMs(v: string, unit: string): number {
  const x = Number(v);
  return unit === 'us' ? x / 1000 : unit === 's' ? x * 1000 : unit === 'm' ? x * 60_000 : x;
}

/** Parses wrk's report; throws with the text when it has no Requests/sec line. */
export function parseWrk(text: string): Omit<WrkRun, 'cpu' | 'runnable' | 'saturated'> {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const req = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)/m.exec(text);
  if (!rps || !req) throw new Error(`wrk printed no Requests/sec line:\n${text.slice(0, 2000)}`);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    rps: Number(rps[1]),
    requests: Number(req[1]),
    seconds: toMs(req[2] as string, req[3] as string) / 1000,
    p99Ms: p99 ? toMs(p99[1] as string, p99[2] as string) : null,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: { connect: Number(sock?.[1] ?? 0), read: Number(sock?.[2] ?? 0), write: Number(sock?.[3] ?? 0), timeout: Number(sock?.[4] ?? 0) },
  };
}

/** ns run and ns waited to run, summed over the threads of pid; null when it is gone. */
export function schedNs(pid: number): Map<string, { run: number; wait: number }> | null {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const byThread = new Map<string, { run: number; wait: number }>();
  for (const t of tids) {
    try {
      const [r, w] = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      byThread.set(t, { run: r ?? 0, wait: w ?? 0 });
    } catch {
      // a thread that ended
    }
  }
  return byThread;
}

/**
 * The CPU time (run, wait) each thread of `a` spent until `b`; null when one of them ended in
 * between (a late second sample on a busy machine, after wrk's threads finished): its time is lost,
 * and a sum without it would read near 0.
 */
export function schedDelta(a: Map<string, { run: number; wait: number }> | null, b: Map<string, { run: number; wait: number }> | null): { run: number; wait: number } | null {
  if (!a || !b) return null;
  let run = 0;
  let wait = 0;
  for (const [t, x] of a) {
    const y = b.get(t);
    if (!y) return null;
    run += y.run - x.run;
    wait += y.wait - x.wait;
  }
  return { run, wait };
}

export interface WrkJob {
  port: number;
  load: WrkLoad;
  connections: number;
}

/**
 * Runs one wrk per job at the same moment (one: the interleaved mode; two: the paired mode), all
 * on the load generator's CPUs, for `seconds` (whole); each with its own CPU use. `live` holds the
 * pid of each wrk while it runs (an interrupted bench kills those).
 */
export async function runWrks(bin: string, plan: CpuPlan, jobs: WrkJob[], seconds: number, live?: Set<number>): Promise<WrkRun[]> {
  const durationS = wholeSeconds(seconds);
  const cpus = Math.max(1, plan.loadgen.length);
  const threads = Math.max(1, Math.floor(cpus / jobs.length));
  const procs = jobs.map((j) => {
    const { cmd, args } = pinnedCommand(plan, plan.loadgen, [bin, ...wrkArgs(j.load, j.connections, threads, durationS, j.port)]);
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = p.pid;
    if (pid !== undefined) live?.add(pid);
    let out = '';
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      p.on('error', reject);
      p.on('exit', () => {
        if (pid !== undefined) live?.delete(pid);
      });
      // close, not exit: the output is read to its end
      p.on('close', (code) => resolve({ code, out }));
    });
    return { p, done };
  });
  const t0 = now();
  const edge = Math.min(250, (durationS * 1000) / 4);
  await sleep(edge);
  const a = procs.map((x) => (x.p.pid === undefined ? null : schedNs(x.p.pid)));
  const ta = now();
  await sleep(Math.max(0, durationS * 1000 - edge - (ta - t0)));
  const b = procs.map((x) => (x.p.pid === undefined ? null : schedNs(x.p.pid)));
  const tb = now();
  const outs = await Promise.all(procs.map((x) => x.done));
  const windowNs = (tb - ta) * 1e6;
  return outs.map((o, i) => {
    if (o.code !== 0) throw new Error(`wrk (port ${jobs[i]?.port}) exited with ${o.code}: ${o.out.slice(0, 1000)}`);
    const d = schedDelta(a[i] ?? null, b[i] ?? null);
    // a second sample later than wrk's run (timers late on a busy machine) measured its idle end
    if (!d || !(windowNs > 0) || tb - t0 > durationS * 1000) return { ...parseWrk(o.out), cpu: null, runnable: null, saturated: false };
    const cpu = Math.round((d.run / windowNs) * 1000) / 1000;
    const runnable = Math.round(((d.run + d.wait) / (windowNs * threads)) * 1000) / 1000;
    return { ...parseWrk(o.out), cpu, runnable, saturated: runnable >= SATURATED };
  });
}

/** Failed requests wrk reported: non-2xx responses and socket errors of every kind. */
export function wrkFailed(r: WrkRun): number {
  return r.non2xx + r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
}
