// The socket ledger: one Listener per listener name, each holding its listening socket from the
// master's start to its exit. Every socket is held through a handle of an fd this master did not
// bind itself: one it inherited (the previous master's hand-off, systemd), or, for one it bound,
// the duplicate the keep helper hands back once, at its start (lib/sockets/open.ts). Only such a
// socket can be left open and unpolled (a socket a process bound itself refuses: ENOTCONN,
// lib/os/internals.ts, 7), and that is what a hand-over needs. Two kinds:
// - a TCP socket the workers accept on (`accept: 'workers'`): the master never polls it; its
//   workers accept on duplicates of the handle (lib/worker/acceptor.ts), and no connection passes
//   through the master;
// - a socket the master accepts on (UNIX, `accept: 'master'`): a server on the held fd, which
//   hands each connection (paused, no byte read) to a worker (lib/pool/dispatch.ts). Node routes a
//   UNIX handle given to a cluster worker back through the primary: a worker cannot listen on it.
// The same socket goes to the next master through its stdio (handoffFd()). At the hand-over this
// master stops polling it and keeps it as it is (keepRaw(), lib/sockets/keep.ts): the server
// pauses, the raw handle stays; resume() takes service back on it.
//
// UNIX sockets: libuv unlinks the path a server bound when that server is closed, which would
// break the path for every later generation. baton binds to a private temporary name and renames
// it into place (lib/sockets/unixpath.ts), and a server opened from an fd never unlinks: the path
// goes only at the final stop (removePath()).
import * as fs from 'node:fs';
import * as net from 'node:net';
import { closeHandle, handleFd, listeningFd, listeningHandle, pauseAccepting, resumeAccepting, socketHandle } from '../os/internals';
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

function listenError(spec: ListenerSpec, err: unknown): ListenError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new ListenError(spec, code, HINTS[code] ?? (err as Error).message);
}

type OnConnection = (listener: Listener, socket: net.Socket) => void;

export class Listener {
  /** The socket belongs to someone else (systemd socket activation): its path is never removed. */
  external = false;
  /** Announced with a 'listening' event. */
  announced = false;
  /** Accept errors (EMFILE...): the master logs them; they never stop it. */
  onAcceptError: ((err: Error) => void) | undefined;
  /** 'kept': paused at a hand-over, for taking service back; 'closed': let go. */
  private state: 'open' | 'kept' | 'closed' = 'open';
  /** pause()d for the next master's probation. */
  private paused = false;
  /** The socket, never polled through this handle. Undefined only while (or if) the master serves on the server it bound. */
  private held: object | undefined;
  /** The master accepts on this server (UNIX, `accept: 'master'`); undefined when the workers accept. */
  private server: net.Server | undefined;
  /** A TCP socket's address (no server to ask when the workers accept). */
  private bound: { address: string | undefined; port: number } | undefined;

  private constructor(readonly spec: ListenerSpec, private readonly backlog: number, private readonly onConnection: OnConnection, byMaster: boolean) {
    if (byMaster) this.server = this.makeServer();
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
    return this.bound ? describeSpec({ name: this.name, host: this.bound.address, port: this.bound.port }) : describeSpec(this.spec);
  }

  port(): number | undefined {
    return this.bound?.port ?? this.spec.port;
  }

  /** The fd to pass to the next master. */
  handoffFd(): number {
    return this.held !== undefined ? handleFd(this.held) : listeningFd(this.server as net.Server);
  }

  /** A handle of the socket to give away (a duplicate is made for the receiver): to the supervisor. */
  handle(): object {
    return this.held ?? listeningHandle(this.server as net.Server);
  }

  /** The socket's raw handle when the workers accept on it themselves (TCP), else undefined. */
  workerHandle(): object | undefined {
    return this.server === undefined && this.state === 'open' ? this.held : undefined;
  }

  /** Binds a new socket and accepts on it at once, until hold() (connections wait in the dispatcher). */
  static async bind(spec: ListenerSpec, backlog: number, onConnection: OnConnection): Promise<Listener> {
    const l = new Listener(spec, backlog, onConnection, true);
    const server = l.server as net.Server;
    try {
      // permissions are set under the private name: nobody ever sees the path with the wrong mode
      if (spec.path !== undefined) await listenUnixAtomically(server, spec.path, { backlog, mode: spec.mode });
      else await listen(server, { port: spec.port, host: spec.host, backlog });
    } catch (err) {
      throw listenError(spec, err);
    }
    const a = server.address();
    if (a && typeof a === 'object') l.bound = { address: a.address, port: a.port };
    return l;
  }

  /**
   * A socket this master bound is held through `dup` (the keep helper's duplicate) from now on:
   * the workers accept on it (`forWorkers`, TCP), or the master serves on it; the server it bound closes.
   */
  async hold(dup: object, forWorkers: boolean): Promise<void> {
    const bound = this.server as net.Server;
    if (forWorkers && this.spec.path === undefined) this.server = undefined;
    else {
      const server = this.makeServer();
      await this.listenOn(server, dup); // throws with nothing changed: the bound server goes on
      this.server = server;
    }
    this.held = dup;
    bound.close();
  }

  /** Wraps a socket inherited from the previous master or systemd; accept() starts serving on it. */
  static adopt(spec: ListenerSpec, fd: number, backlog: number, onConnection: OnConnection, forWorkers = true): Listener {
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
    const l = new Listener(spec, backlog, onConnection, !forWorkers || spec.path !== undefined);
    // opened, never polled: a handle with no watcher in this process
    l.held = socketHandle(new net.Socket({ fd, readable: false, writable: false }));
    if (spec.path === undefined) l.bound = { address: spec.host, port: state?.listening && state.port !== undefined ? state.port : (spec.port ?? 0) };
    return l;
  }

  /** Serving: the master's server listens (the workers' sockets need nothing here). */
  async accept(): Promise<void> {
    if (this.state !== 'open' || this.server === undefined || this.server.listening) return;
    await this.listenOn(this.server, this.held as object);
  }

  /**
   * At a hand-over: this master stops polling the socket and keeps it open, as it is, for taking
   * service back (resume()); the handle goes to lib/sockets/keep.ts, which lets it go (release()).
   * Undefined when it cannot: a server this master bound itself (the keep helper failed at its start).
   */
  keepRaw(): object | undefined {
    if (this.state !== 'open' || this.held === undefined) return undefined;
    if (this.server?.listening === true && !pauseAccepting(this.server)) return undefined;
    this.state = 'kept';
    this.paused = false; // kept now: resume() accepts again
    return this.held;
  }

  /**
   * The next master's probation: this master stops accepting on the socket it accepts on itself,
   * which stays open (connections wait in its queue, for the new master) until unpause(). Nothing
   * for a socket the workers accept on, or one this master bound itself (it cannot: it goes on).
   */
  pause(): void {
    if (this.state === 'open' && this.server?.listening === true && !this.paused) this.paused = pauseAccepting(this.server);
  }

  /** Accepts again after pause() (the upgrade failed). */
  unpause(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.state === 'open' && this.server !== undefined) resumeAccepting(this.server);
  }

  /** Stops accepting and closes the socket here (not one kept: release() does). Connections queued stay for the next master. */
  stopAccepting(): void {
    if (this.state === 'open') this.close();
  }

  /** Lets a kept socket go: the new master handed over in turn or stopped, or this one exits. */
  release(): void {
    if (this.state === 'kept') this.close();
  }

  private close(): void {
    this.state = 'closed';
    // a server on the held fd owns it (a UNIX server opened its own handle on it): closed once, by the server
    // (close()'s callback would wait for the connections sent to workers; only the handle matters)
    if (this.server?.listening === true) this.server.close();
    else if (this.held !== undefined) closeHandle(this.held);
  }

  /** Accepts again on the socket kept at the hand-over (keepRaw()): an old master taking service back. */
  async resume(kept: object): Promise<void> {
    if (this.state !== 'kept' || kept !== this.held) return;
    if (this.server !== undefined && !resumeAccepting(this.server)) throw new Error(`cannot accept on ${this.address()} again`);
    this.state = 'open';
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
   * Node listens on a TCP handle as it is, and on a UNIX one through its fd (a handle of its
   * own). listen(2) on a socket that already listens sets the backlog anew: this release's, not
   * Node's default 511 (Node reads it from the argument for a handle).
   */
  private listenOn(server: net.Server, handle: object): Promise<void> {
    return listen(server, handle, this.backlog).catch((err: unknown) => {
      throw listenError(this.spec, err);
    });
  }
}

function listen(server: net.Server, what: net.ListenOptions | object, backlog?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.removeListener('error', reject);
      resolve();
    };
    if (backlog === undefined) server.listen(what as net.ListenOptions, done);
    else server.listen(what as net.ListenOptions, backlog, done);
  });
}
