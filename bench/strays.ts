// Processes the bench left behind: every master and worker of every server inherits the
// bench's BENCH_RUN tag in its environment, so that one nobody named is found too, read from
// /proc/<pid>/environ (which also tells a reused pid from ours).
import * as fs from 'node:fs';
import { now, running, sleep } from './common';

/**
 * Every process carrying `tag` (an environment variable the bench gives its servers, inherited
 * by every master and worker) that runs now, and is not in `expected`. Read from
 * /proc/<pid>/environ; processes that exit meanwhile, or that we may not read, are skipped.
 */
export function taggedProcesses(name: string, tag: string, expected: Set<number> = new Set()): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => pid !== process.pid && !expected.has(pid) && carries(pid, name, tag));
}

/** Whether pid runs (not a zombie) with name=tag in its environment (so: not a reused pid). */
export function carries(pid: number, name: string, tag: string): boolean {
  let env: Buffer;
  try {
    env = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]);
  } catch {
    return false;
  }
  return env.includes(Buffer.from(`\0${name}=${tag}\0`)) && running(pid);
}

/** Waits up to timeoutMs until find() returns nothing; returns what it returned last. */
export async function untilNone(find: () => number[], timeoutMs: number): Promise<number[]> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const left = find();
    if (left.length === 0 || now() > deadline) return left;
    await sleep(20);
  }
}
