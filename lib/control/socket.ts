// The control socket: how the `baton` CLI talks to a running master. Its protocol (one JSON request
// a connection, progress lines, one final line), limits and security model are in docs/operations.md,
// "The control socket". Malformed, oversized or unknown requests and silent clients never stall the master.
import * as net from 'node:net';
import { listenUnixAtomically, unlinkSocket } from '../sockets/unixpath';

export const MAX_LINE = 64 * 1024;
export const IDLE_MS = 5_000;
export const MAX_CLIENTS = 32;

export type Progress = (event: string, message: string, fields?: Record<string, unknown>) => void;
export type Reply = { ok: boolean; error?: string; [k: string]: unknown };

/** A request: a JSON object; its `cmd` and arguments are checked where they are run (commands.ts). */
export type Request = Record<string, unknown>;

export interface ControlTarget {
  control(req: Request, progress: Progress): Promise<Reply>;
}

/** Checks one request line; returns the request or the error to answer with. */
export function parseRequest(line: string): Request | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'malformed request: not JSON. Send one line such as {"cmd":"status"}';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'malformed request: expected a JSON object such as {"cmd":"status"}';
  return v as Request;
}

export class ControlServer {
  private readonly server = net.createServer();
  private readonly clients = new Set<net.Socket>();
  private listening = false;

  constructor(readonly path: string, private target: ControlTarget) {
    this.server.on('connection', (s) => this.onClient(s));
    this.server.on('error', () => {
      // accept errors (EMFILE) must not take the master down
    });
  }

  /** Binds the socket, mode 0600; `takeOver` replaces the previous master's at the same path. */
  async open(takeOver = false): Promise<void> {
    // connect(2) on a UNIX socket needs write permission on its file: 0600 keeps others out
    const old = process.umask(0o177);
    try {
      await listenUnixAtomically(this.server, this.path, { mode: 0o600, replaceLive: takeOver });
    } finally {
      process.umask(old);
    }
    this.listening = true;
  }

  /** Binds the path again (a failed upgrade's new master took it over): clients connected are answered on. */
  async reclaim(): Promise<void> {
    this.stopListening();
    await this.open(true);
  }

  /** Stops taking new clients; the ones connected are answered to the end. */
  stopListening(): void {
    if (!this.listening) return;
    this.listening = false;
    this.server.close();
  }

  /** At the final stop: the socket file goes too. */
  remove(): void {
    this.stopListening();
    unlinkSocket(this.path);
  }

  /** Resolves when every client's last line is written (bounded). */
  flush(timeoutMs = 1_000): Promise<void> {
    if (this.clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      const check = (): void => {
        if (this.clients.size === 0) {
          clearTimeout(t);
          resolve();
        }
      };
      for (const c of this.clients) c.once('close', check);
    });
  }

  private onClient(socket: net.Socket): void {
    if (this.clients.size >= MAX_CLIENTS) {
      this.finish(socket, { ok: false, error: `busy: ${MAX_CLIENTS} control clients already connected` });
      return;
    }
    this.clients.add(socket);
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    socket.setTimeout(IDLE_MS, () => this.finish(socket, { ok: false, error: `no request within ${IDLE_MS} ms` }));
    let buf = '';
    let handled = false;
    socket.on('data', (chunk: string) => {
      if (handled) return;
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_LINE) {
          handled = true;
          this.finish(socket, { ok: false, error: `request too long: more than ${MAX_LINE} bytes without a newline` });
        }
        return;
      }
      handled = true;
      socket.setTimeout(0);
      const req = parseRequest(buf.slice(0, nl));
      if (typeof req === 'string') {
        this.finish(socket, { ok: false, error: req });
        return;
      }
      const progress: Progress = (event, message, fields = {}) => {
        if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify({ event, message, ...fields })}\n`);
      };
      this.target.control(req, progress).then(
        (reply) => this.finish(socket, reply),
        (err: Error) => this.finish(socket, { ok: false, error: err.message }),
      );
    });
  }

  private finish(socket: net.Socket, reply: Reply): void {
    if (socket.destroyed) return;
    socket.end(`${JSON.stringify({ done: true, ...reply })}\n`);
  }
}
