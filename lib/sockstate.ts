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

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function rows(text: string | undefined): string[][] {
  return (text ?? '').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((c) => c.length > 1);
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
  for (const table of ['tcp', 'tcp6']) {
    const row = rows(read(`/proc/self/net/${table}`)).find((c) => c[9] === inode);
    if (row === undefined) continue;
    const st = row[3] ?? '';
    const port = Number.parseInt((row[1] ?? '').split(':')[1] ?? '', 16);
    return st === '0A' ? { listening: true, port } : { listening: false, why: `a TCP socket in state ${TCP_STATES[st] ?? st}` };
  }
  const unix = read('/proc/self/net/unix');
  if (unix === undefined) return undefined;
  const row = rows(unix).find((c) => c[6] === inode);
  if (row !== undefined) {
    const flags = Number.parseInt(row[3] ?? '0', 16);
    if (row[4] !== '0001') return { listening: false, why: 'a UNIX socket that is not a stream socket' };
    return (flags & SO_ACCEPTCON) !== 0 ? { listening: true } : { listening: false, why: 'a UNIX socket that is not listening (connected, or only bound)' };
  }
  return { listening: false, why: 'neither a TCP nor a UNIX stream socket of this network namespace (UDP? another namespace?)' };
}
