// Whether an inherited fd is a *listening* stream socket (Linux). Node has no getsockopt
// (SO_ACCEPTCONN), so baton reads what the kernel publishes: /proc/self/fd/N names the
// socket's inode, and /proc/net/{tcp,tcp6,unix} give each socket's state by inode. A
// connected or merely bound socket handed over by mistake is refused at start-up, before
// anything is forked, instead of being listen()ed on (which would bind a random port for
// an unbound TCP socket) or failing later.
import * as fs from 'node:fs';

export type SocketState =
  /** `port`: the local port of a TCP socket. */
  | { listening: true; port?: number }
  | { listening: false; why: string }
  /** Not Linux, or /proc unreadable: baton cannot tell, and does not refuse. */
  | undefined;

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE (not bound, or not listening)', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};
const SO_ACCEPTCON = 0x10000;

function tcpState(row: string[]): SocketState {
  const st = row[3] ?? '';
  const port = Number.parseInt((row[1] ?? '').split(':')[1] ?? '', 16);
  return st === '0A' ? { listening: true, port } : { listening: false, why: `a TCP socket in state ${TCP_STATES[st] ?? st}` };
}

/** Each row of a /proc/net table (columns, header skipped) to `visit` until it returns true; false: unreadable. */
function scan(file: string, visit: (columns: string[]) => boolean): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    let rest = '';
    let header = true;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      const lines = (rest + buf.toString('latin1', 0, n)).split('\n');
      rest = n === 0 ? '' : (lines.pop() ?? '');
      for (const line of lines) {
        if (header) {
          header = false;
          continue;
        }
        const c = line.trim().split(/\s+/);
        if (c.length > 1 && visit(c)) return true;
      }
      if (n === 0) return true;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The LISTEN rows at the head of a /proc/net/tcp or tcp6 table (the kernel lists its listening
 * sockets first), reading no further; `stop` ends the read early at a row it accepts. Empty when
 * the table cannot be read. The bench reads the serving master's listening sockets with it too.
 */
export function listeningRows(file: string, stop?: (row: string[]) => boolean): string[][] {
  const out: string[][] = [];
  scan(file, (c) => {
    if (c.length < 10) return false;
    if (c[3] !== '0A') return true; // past the listening sockets
    out.push(c);
    return stop?.(c) === true;
  });
  return out;
}

/** The row whose column `col` is `inode`, reading the whole table; null when it cannot be read. */
function rowOf(file: string, col: number, inode: string): string[] | undefined | null {
  let row: string[] | undefined;
  const read = scan(file, (c) => {
    if (c[col] === inode) row = c;
    return row !== undefined;
  });
  return read ? row : null;
}

/** The state of the socket at `fd`, or undefined when this system cannot tell. */
export function socketState(fd: number): SocketState {
  let link: string;
  try {
    link = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (inode === undefined) return undefined;
  // A listening TCP socket is among the first rows: the whole table of a busy host (tens of
  // thousands of TIME_WAIT rows) would take seconds to read and parse.
  for (const table of ['tcp', 'tcp6']) {
    const row = listeningRows(`/proc/self/net/${table}`, (c) => c[9] === inode).find((c) => c[9] === inode);
    if (row !== undefined) return tcpState(row);
  }
  // not a listening TCP socket: a UNIX one (a short table), or the error case, read in full
  const urow = rowOf('/proc/self/net/unix', 6, inode);
  if (urow) {
    const flags = Number.parseInt(urow[3] ?? '0', 16);
    if (urow[4] !== '0001') return { listening: false, why: 'a UNIX socket that is not a stream socket' };
    return (flags & SO_ACCEPTCON) !== 0 ? { listening: true } : { listening: false, why: 'a UNIX socket that is not listening (connected, or only bound)' };
  }
  for (const table of ['tcp', 'tcp6']) {
    const row = rowOf(`/proc/self/net/${table}`, 9, inode);
    if (row) return tcpState(row);
  }
  if (urow === null) return undefined;
  return { listening: false, why: 'neither a TCP nor a UNIX stream socket of this network namespace (UDP? another namespace?)' };
}
