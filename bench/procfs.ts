// A process's open fds and RSS, read from /proc (Linux only, like the rest of the bench): the
// soak's readings of the serving master (bench/soak.ts). TCP connections are told apart from
// the fds that stay (listening sockets, UNIX sockets, pipes, files) by their socket inode.
import * as fs from 'node:fs';
import { listeningRows } from '../lib/sockets/sockstate';
import { now, sleep } from './common';

export function rssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Inodes of the sockets in a /proc/<pid>/net table, with a column test (unix: all; tcp: LISTEN). */
function inodes(pid: number, tables: string[], column: number, keep: (cols: string[]) => boolean): Set<string> | null {
  const out = new Set<string>();
  for (const t of tables) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${t}`, 'utf8');
    } catch {
      return null;
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > column && keep(c)) out.add(c[column] as string);
    }
  }
  return out;
}

/**
 * Listening TCP sockets (state 0A), by inode: the head of each table only (lib/sockets/sockstate.ts).
 * Read in full, the tables of a machine that has just served fresh connections (up to 131,072
 * TIME_WAIT rows) cost this process about a second of CPU per sample, on the cores the upgrade
 * phase measures: it made the throughput between events read low.
 */
export function listeningInodes(pid: number): Set<string> | null {
  if (!fs.existsSync(`/proc/${pid}/net/tcp`)) return null;
  const out = new Set<string>();
  for (const t of ['tcp', 'tcp6']) for (const c of listeningRows(`/proc/${pid}/net/${t}`)) out.add(c[9] as string);
  return out;
}

/** UNIX sockets (the master's stdio from the bench, its channels to workers and the old master), by inode. */
export function unixInodes(pid: number): Set<string> | null {
  return inodes(pid, ['unix'], 6, () => true);
}

/** One reading of a master's fds: all of them, and those that are TCP connections (not listening sockets). */
export function readFds(pid: number, listening: Set<string>): { total: number; connections: number } | null {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  const unix = unixInodes(pid);
  if (unix === null) return null;
  let connections = 0;
  for (const fd of fds) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile: still counted in total, as readdir saw it
    }
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    // a socket neither listening nor UNIX: a TCP connection, open (in /proc/net/tcp) or already
    // finished (unhashed, in no table) while the master still holds its fd
    if (inode !== undefined && !listening.has(inode) && !unix.has(inode)) connections++;
  }
  return { total: fds.length, connections };
}

const READINGS = 8;
const READING_GAP_MS = 15;
const STEADY_TIMEOUT_MS = 5_000;

export interface SteadyFds {
  /** Open fds other than TCP connections (the steady count: see steadyFds). */
  fds: number;
  /** TCP connections the master held in every reading of the last window. */
  connections: number;
  /** All open fds, the minimum over the last window. */
  total: number;
}

/**
 * A master's fds without what only passes through. Under load the master holds each new
 * connection until the worker it went to has acknowledged it (Node passes the next handle only
 * then), which can take a few hundred ms on a saturated machine; and a new master closes its
 * channel to the old one a moment after the old one exits. So the TCP connections are counted
 * apart (`connections`), and the rest is the minimum over a window of READINGS readings
 * READING_GAP_MS apart, repeated until two windows in a row agree (or STEADY_TIMEOUT_MS passed:
 * then the last window's). An fd that stays open is in every reading, so a leak is counted; only
 * fds that come and go within a window are not.
 */
export async function steadyFds(pid: number): Promise<SteadyFds | null> {
  const listening = listeningInodes(pid);
  if (listening === null) return null;
  const deadline = now() + STEADY_TIMEOUT_MS;
  let previous: number | undefined;
  for (;;) {
    let w: SteadyFds | undefined;
    for (let k = 0; k < READINGS; k++) {
      if (k > 0) await sleep(READING_GAP_MS);
      const r = readFds(pid, listening);
      if (r === null) return null;
      const rest = r.total - r.connections;
      w = w === undefined
        ? { fds: rest, connections: r.connections, total: r.total }
        : { fds: Math.min(w.fds, rest), connections: Math.min(w.connections, r.connections), total: Math.min(w.total, r.total) };
    }
    const win = w as SteadyFds;
    if (win.fds === previous || now() > deadline) return win;
    previous = win.fds;
  }
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

/**
 * Socket inode -> "tcp STATE" or "unix", from the process's own view of /proc/net, for the
 * `inodes` asked: the listening and UNIX sockets first (short reads); the whole TCP tables only
 * when a socket is neither (a master holding a TCP connection).
 */
function socketKinds(pid: number, inodes: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of listeningInodes(pid) ?? []) out.set(i, 'tcp LISTEN');
  for (const i of unixInodes(pid) ?? []) out.set(i, 'unix');
  if (inodes.every((i) => out.has(i))) return out;
  for (const t of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${t}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && !out.has(f[9] as string)) out.set(f[9] as string, `tcp ${TCP_STATES[f[3] as string] ?? f[3]}`);
    }
  }
  return out;
}

/** The open fds of pid by kind (see SoakSample.fdKinds); {} when /proc/<pid> is unreadable. */
export function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return kinds;
  }
  const links = fds.map((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '(closed meanwhile)';
    }
  });
  const inodes = links.map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1]);
  const asked = inodes.filter((i): i is string => i !== undefined);
  const sockets = asked.length > 0 ? socketKinds(pid, asked) : new Map<string, string>();
  for (const [n, l] of links.entries()) {
    const inode = inodes[n];
    const k = inode !== undefined ? (sockets.get(inode) ?? 'socket (other)') : /^pipe:\[\d+\]$/.test(l) ? 'pipe' : l;
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  return kinds;
}

/** CPU time (user + system, ms) of a process and its descendants: the server side of a load run. */
export function treeCpuMs(pid: number, descendants: (pid: number) => number[]): number | null {
  let ms = 0;
  for (const p of [pid, ...descendants(pid)]) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      if (p === pid) return null;
      continue; // gone meanwhile
    }
    // after "pid (comm) ": state is field 3, utime 14, stime 15 (clock ticks; 100 a second on Linux)
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ms += (Number(f[11]) + Number(f[12])) * 10;
  }
  return ms;
}
