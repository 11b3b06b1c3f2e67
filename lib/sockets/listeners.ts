// The listening sockets, held by the master. A TCP socket is held as a raw handle that the
// master never polls: its workers accept on duplicates of it (lib/worker/acceptor.ts), so no
// connection passes through the master. A UNIX socket is accepted on by the master, which
// hands each connection (paused, no byte read) to a worker (lib/pool/dispatch.ts): Node routes
// a UNIX handle given to a cluster worker back through the primary, so a worker cannot
// listen on it itself. The same socket is shared with the next master through its stdio,
// so there is never a moment when nobody accepts.
//
// UNIX sockets: libuv unlinks the path a server bound when that server is closed,
// which would break the path for every later generation. baton binds to a private
// temporary name and renames it into place: the close() of an old master then unlinks
// a name that no longer exists, and the path is removed only at the final stop
// (lib/sockets/unixpath.ts, shared with the control socket).
import * as fs from 'node:fs';
import * as net from 'node:net';
import { closeHandle, handleFd, listeningFd, listeningHandle, socketHandle } from '../os/internals';
import { socketState } from './sockstate';
import { listenUnixAtomically, unlinkSocket } from './unixpath';
import type { ListenerSpec } from '../config/types';

export function describeSpec(spec: ListenerSpec): string {
  if (spec.path !== undefined) return `unix:${spec.path}`;
  const host = spec.host ?? '*';
  return `${host.includes(':') ? `[${host}]` : host}:${spec.port}`;
}

export class ListenError extends Error {
  constructor(readonly spec: ListenerSpec, readonly code: string, detail: string) {
    super(`baton: cannot listen on ${describeSpec(spec)}: ${code} (${detail})`);
    this.name = 'ListenError';
  }
}

const HINTS: Record<string, string> = {
  EADDRINUSE: 'another process already listens there; stop it or choose another port/path',
  EACCES: 'permission denied; ports below 1024 need privileges, a socket path needs a writable directory',
  EADDRNOTAVAIL: 'this machine has no such address; check "host"',
  ENOENT: 'the directory of the socket path does not exist',
};

type OnConnection = (listener: Listener, socket: net.Socket) => void;

export class Listener {
  /** Replaced when an old master takes service back (resume()). */
  server: net.Server;
  /** The socket belongs to someone else (systemd socket activation): its path is never removed. */
  external = false;
  /** Announced with a 'listening' event. */
  announced = false;
  /** Accept errors (EMFILE...): the master logs them; they never stop it. */
  onAcceptError: ((err: Error) => void) | undefined;
  private accepting = false;
  private closed = false;
  /** listen(2)'s backlog for an adopted socket (a bound one gets it at bind time). */
  private backlog: number | undefined;
  /** A TCP socket held without accepting: the workers accept on duplicates of it. */
  private raw: object | undefined;
  /** What owns `raw` when it was opened on an inherited fd (kept referenced). */
  private rawOwner: net.Socket | undefined;
  /** The address while `raw` is held (no server to ask). */
  private bound: { address: string | undefined; port: number } | undefined;

  private constructor(readonly spec: ListenerSpec, private fd: number | undefined, private readonly onConnection: OnConnection) {
    this.server = this.makeServer();
  }

  private makeServer(): net.Server {
    const server = net.createServer({ pauseOnConnect: true });
    server.on('connection', (socket) => this.onConnection(this, socket));
    server.on('error', (err) => this.onAcceptError?.(err));
    return server;
  }

  get name(): string {
    return this.spec.name;
  }

  /** The address clients use: for TCP the bound port (useful with port 0). */
  address(): string {
    if (this.bound) return describeSpec({ name: this.name, host: this.bound.address, port: this.bound.port });
    const a = this.server.address();
    if (a && typeof a === 'object') return describeSpec({ name: this.name, host: a.address, port: a.port });
    return describeSpec(this.spec);
  }

  port(): number | undefined {
    if (this.bound) return this.bound.port;
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : this.spec.port;
  }

  /** The fd to pass to the next master. */
  handoffFd(): number {
    if (this.raw !== undefined) return handleFd(this.raw);
    return this.fd ?? listeningFd(this.server);
  }

  /** A handle of the socket to give away (a duplicate is made for the receiver): to the supervisor, to workers. */
  handle(): object {
    return this.raw ?? listeningHandle(this.server);
  }

  /** The socket's raw handle when the workers accept on it themselves (TCP), else undefined. */
  workerHandle(): object | undefined {
    return this.closed ? undefined : this.raw;
  }

  /** A TCP listener this master accepts on may be held raw instead (see detach() in master.ts). */
  get detachable(): boolean {
    return this.spec.path === undefined && this.raw === undefined && this.server.listening;
  }

  /**
   * From now on hold `handle` (a duplicate of this socket) without accepting, and let the
   * workers accept: the server this master accepted on closes (its fd; the socket stays).
   */
  holdRaw(handle: object): void {
    const a = this.server.address();
    if (a && typeof a === 'object') this.bound = { address: a.address, port: a.port };
    this.raw = handle;
    this.fd = undefined;
    if (this.server.listening) this.server.close();
  }

  /** Binds a new socket and starts accepting. */
  static async bind(spec: ListenerSpec, backlog: number, onConnection: OnConnection): Promise<Listener> {
    const l = new Listener(spec, undefined, onConnection);
    if (spec.path !== undefined) await l.bindUnix(spec.path, backlog);
    else await l.listenOn({ port: spec.port, host: spec.host, backlog });
    l.accepting = true;
    return l;
  }

  /** Wraps a socket inherited from the previous master; accept() starts accepting on it. */
  /** `raw`: a TCP socket is held without accepting, for the workers to accept on (the `accept` option). */
  static adopt(spec: ListenerSpec, fd: number, backlog: number, onConnection: OnConnection, raw = true): Listener {
    let stat: fs.Stats;
    try {
      stat = fs.fstatSync(fd);
    } catch (err) {
      throw new Error(`baton: inherited listener "${spec.name}" names fd ${fd}, which is not open (${(err as NodeJS.ErrnoException).code})`);
    }
    if (!stat.isSocket()) throw new Error(`baton: inherited listener "${spec.name}" names fd ${fd}, which is not a socket`);
    const state = socketState(fd);
    if (state !== undefined && !state.listening) {
      throw new Error(`baton: inherited listener "${spec.name}" names fd ${fd}, which is not a listening socket: ${state.why}. Pass listening sockets only (or start without the inherited-socket environment)`);
    }
    // the environment says which socket is which: a socket on another port was mislabelled
    if (state?.listening && state.port !== undefined && spec.port !== undefined && spec.port !== 0 && state.port !== spec.port) {
      throw new Error(`baton: inherited listener "${spec.name}" (${describeSpec(spec)}) names fd ${fd}, which listens on port ${state.port}: the inherited-socket environment does not match its sockets`);
    }
    const l = new Listener(spec, fd, onConnection);
    l.backlog = backlog;
    if (raw && spec.path === undefined) {
      // TCP: held as it is, never polled here; the workers accept on duplicates (and set the backlog)
      const owner = new net.Socket({ fd, readable: false, writable: false });
      l.rawOwner = owner;
      l.raw = socketHandle(owner);
      l.bound = { address: spec.host, port: state?.listening && state.port !== undefined ? state.port : (spec.port ?? 0) };
    }
    return l;
  }

  async accept(): Promise<void> {
    if (this.raw !== undefined) {
      this.accepting = true;
      return;
    }
    if (this.accepting || this.fd === undefined) return;
    await this.listenOn({ fd: this.fd }, this.backlog);
    this.accepting = true;
  }

  /**
   * At a hand-over: stops accepting, but a raw handle (a TCP socket the workers accept on, never
   * polled here) stays open and goes to the caller, which keeps it to take service back with
   * and closes it (lib/sockets/keep.ts); resume() takes it again. Undefined for a socket this
   * master accepts on itself (stopAccepting() closes that one).
   */
  keepRaw(): object | undefined {
    if (this.raw === undefined || this.closed) return undefined;
    this.closed = true;
    this.accepting = false;
    return this.raw;
  }

  /** Stops accepting. Connections waiting in the backlog stay there for the next master. */
  stopAccepting(): void {
    if (this.closed) return;
    this.closed = true;
    this.accepting = false;
    if (this.raw !== undefined) {
      if (this.rawOwner) this.rawOwner.destroy(); // closes the handle it owns
      else closeHandle(this.raw);
      this.rawOwner = undefined;
      return;
    }
    // close()'s callback would wait for the connections sent to workers; only the handle matters
    if (this.server.listening) this.server.close();
  }

  /**
   * Accepts again, after stopAccepting(), on a duplicate of the socket that was kept
   * meanwhile (lib/sockets/keep.ts): an old master taking service back.
   */
  async resume(kept: object, backlog: number): Promise<void> {
    if (!this.closed) return;
    this.fd = undefined; // the kept duplicate has a number of its own
    if (this.raw !== undefined) {
      this.raw = kept;
      this.closed = false;
      this.accepting = true;
      return;
    }
    this.server = this.makeServer();
    // a TCP handle is listened on as it is; a UNIX one through its fd (see lib/sockets/keep.ts)
    await this.listenOn(kept, backlog);
    this.closed = false;
    this.accepting = true;
  }

  /** An adopted UNIX socket takes this release's `mode`; returns why it could not. */
  applyMode(): string | undefined {
    if (this.spec.path === undefined || this.spec.mode === undefined || this.external) return undefined;
    try {
      fs.chmodSync(this.spec.path, this.spec.mode);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** At the final stop: the UNIX socket file goes too (unless systemd owns it). */
  removePath(): void {
    if (this.spec.path === undefined || this.external) return;
    unlinkSocket(this.spec.path);
  }

  /**
   * `backlog` as a separate argument: Node reads it from there, not from the options, for
   * an fd or a handle; and listen(2) on a socket that already listens sets the backlog
   * anew, so an adopted socket must get this release's backlog, not Node's default 511.
   */
  private listenOn(opts: net.ListenOptions | { fd: number } | object, backlog?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const code = err.code ?? 'error';
        reject(new ListenError(this.spec, code, HINTS[code] ?? err.message));
      };
      this.server.once('error', onError);
      const done = (): void => {
        this.server.removeListener('error', onError);
        resolve();
      };
      if (backlog === undefined) this.server.listen(opts as net.ListenOptions, done);
      else this.server.listen(opts as net.ListenOptions, backlog, done);
    });
  }

  private async bindUnix(target: string, backlog: number): Promise<void> {
    try {
      // permissions are set under the private name: nobody ever sees the path with the wrong mode
      await listenUnixAtomically(this.server, target, { backlog, mode: this.spec.mode });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ListenError(this.spec, code, HINTS[code] ?? (err as Error).message);
    }
  }
}
