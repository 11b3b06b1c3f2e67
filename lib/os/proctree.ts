// Killing a whole process tree: a replacement master that failed, and every worker it
// forked. A worker stuck in a busy loop never notices its master died, so each
// descendant is killed by pid. On Linux the tree is read from /proc; elsewhere only
// the pids we were told about are killed.
import * as fs from 'node:fs';

/** /proc/<pid>/stat after `pid (comm) `: [state, ppid, ...]; undefined when it cannot be read. */
function statOf(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root` (children, grandchildren, ...), read from /proc. */
export function descendants(root: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const stat = statOf(pid);
    if (stat === undefined) continue;
    const ppid = Number(stat[1]);
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Running: alive and not a zombie (an orphan re-parented to an init that never reaps it). */
export function isRunning(pid: number): boolean {
  const state = statOf(pid)?.[0];
  if (state === undefined) return fs.existsSync('/proc/self') ? false : isAlive(pid);
  return state !== 'Z' && state !== 'X';
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs root, its descendants and the extra pids; returns the pids signalled. */
export function killTree(root: number, extra: Iterable<number> = []): number[] {
  const pids = new Set<number>([root, ...descendants(root), ...extra]);
  pids.delete(process.pid);
  const killed: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  return killed;
}
