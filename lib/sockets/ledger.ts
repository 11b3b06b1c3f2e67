// The socket ledger: every listening socket of a master, one Listener per listener name, from
// the master's start to its exit. A socket's way through it, hop by hop: docs/architecture.md,
// "One listening socket, from `listen()` to the next master".
// - One road to "held" (SocketLedger.open()): a socket this master did not bind (the previous
//   master's hand-off, or systemd's) is adopted as it came; one nobody passed is bound, then held
//   through the keep helper's duplicate (duplicate(), below). Only a socket held through an fd
//   this master did not bind can be left open and unpolled (a socket a process bound itself
//   refuses: ENOTCONN, lib/os/internals.ts, 7), and that is what a hand-over needs. Inherited fds
//   this release has no listener for are closed.
// - What it hands out: the raw handles its workers accept on (workerHandle()), the fds for the
//   next master (handoffFd()), the sockets kept for taking service back (KeptSockets), and at the
//   final stop the UNIX socket paths (removePath(); why a path survives until then:
//   lib/sockets/unixpath.ts).
// - Two kinds of listener: a TCP socket the workers accept on (`accept: 'workers'`), which the
//   master never polls (lib/worker/acceptor.ts); and a socket the master accepts on (UNIX,
//   `accept: 'master'`), a server on the held fd feeding lib/pool/dispatch.ts: Node routes a UNIX
//   handle given to a cluster worker back through the primary.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { closeHandle, handleFd, pauseAccepting, rawHandle, resumeAccepting } from '../os/internals';
import { isBaton, msg } from '../messages';
import { socketState } from './sockstate';
import { listen, listenUnixAtomically, unlinkSocket } from './unixpath';
import type { ListenerSpec, ResolvedOptions } from '../config/types';
import type { Logger } from '../log/log';

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

/** A socket this master did not bind: from the previous master (hand-off) or from systemd. */
export interface Inherited {
  spec: ListenerSpec;
  fd: number;
  /** systemd's socket (socket activation): baton never removes its path. */
  external?: boolean;
}

/** Closes an inherited fd nobody adopts (if it is open: its caller cannot tell). */
export function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // it was not open
  }
}

/** What identifies a listener across masters (`named`), or its address alone (a renamed listener). */
function key(spec: ListenerSpec, named: boolean): string {
  return JSON.stringify([...(named ? [spec.name] : []), spec.path ?? null, spec.host ?? null, spec.port ?? null]);
}

/**
 * Which inherited socket each configured listener takes: the one with the same name and
 * address; failing that, the one with the same address under another name (a renamed
 * listener), when that address is unambiguous on both sides. The rest is unused: a release
 * that dropped a listener.
 */
export function matchInherited(specs: ListenerSpec[], given: Inherited[]): { adopt: Map<string, Inherited>; unused: Inherited[] } {
  const adopt = new Map<string, Inherited>();
  const left = [...given];
  for (const spec of specs) {
    const i = left.findIndex((g) => key(g.spec, true) === key(spec, true));
    if (i >= 0) adopt.set(spec.name, left.splice(i, 1)[0] as Inherited);
  }
  for (const spec of specs) {
    if (adopt.has(spec.name) || spec.port === 0) continue;
    const same = left.filter((g) => key(g.spec, false) === key(spec, false));
    const rivals = specs.filter((s) => !adopt.has(s.name) && key(s, false) === key(spec, false));
    if (same.length === 1 && rivals.length === 1) {
      adopt.set(spec.name, same[0] as Inherited);
      left.splice(left.indexOf(same[0] as Inherited), 1);
    }
  }
  return { adopt, unused: left };
}

type OnConnection = (listener: Listener, socket: net.Socket) => void;

/** One entry of the ledger: a listening socket, by listener name. */
export class Listener {
  /** The socket belongs to someone else (systemd socket activation): its path is never removed. */
  external = false;
  /** Accept errors (EMFILE...): the master logs them; they never stop it. */
  onAcceptError: ((err: Error) => void) | undefined;
  /** 'paused': for the next master's probation; 'kept': paused at a hand-over, for taking service back; 'closed': let go. */
  private state: 'open' | 'paused' | 'kept' | 'closed' = 'open';
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

  handoffFd(): number {
    return handleFd(this.handle());
  }

  /** A handle of the socket to give away (a duplicate is made for the receiver): to the supervisor. */
  handle(): object {
    return this.held ?? rawHandle(this.server as net.Server);
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

  /** Held through `dup` (the keep helper's duplicate) from now on: the workers accept on it (`forWorkers`, TCP), or the master; the server it bound closes. */
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

  /** Wraps a socket inherited from the previous master or systemd (for `spec`); accept() starts serving on it. */
  static adopt(spec: ListenerSpec, { fd, external }: Inherited, backlog: number, onConnection: OnConnection, forWorkers = true): Listener {
    const bad = (which: string, named = `"${spec.name}"`): Error => new Error(`baton: inherited listener ${named} names fd ${fd}, which ${which}`);
    let stat: fs.Stats;
    try {
      stat = fs.fstatSync(fd);
    } catch (err) {
      throw bad(`is not open (${(err as NodeJS.ErrnoException).code})`);
    }
    if (!stat.isSocket()) throw bad('is not a socket');
    const state = socketState(fd);
    if (state !== undefined && !state.listening) {
      throw bad(`is not a listening socket: ${state.why}. Pass listening sockets only (or start without the inherited-socket environment)`);
    }
    // the environment says which socket is which: a socket on another port was mislabelled
    if (state?.listening && state.port !== undefined && spec.port !== undefined && spec.port !== 0 && state.port !== spec.port) {
      throw bad(`listens on port ${state.port}: the inherited-socket environment does not match its sockets`, `"${spec.name}" (${describeSpec(spec)})`);
    }
    const l = new Listener(spec, backlog, onConnection, !forWorkers || spec.path !== undefined);
    l.external = external === true;
    // opened, never polled: a handle with no watcher in this process
    l.held = rawHandle(new net.Socket({ fd, readable: false, writable: false }));
    if (spec.path === undefined) l.bound = { address: spec.host, port: state?.listening && state.port !== undefined ? state.port : (spec.port ?? 0) };
    return l;
  }

  /** Serving: the master's server listens (the workers' sockets need nothing here). */
  async accept(): Promise<void> {
    if (this.state !== 'open' || this.server === undefined || this.server.listening) return;
    await this.listenOn(this.server, this.held as object);
  }

  /**
   * At a hand-over (KeptSockets): this master stops polling the socket and keeps it open, as it
   * is, for taking service back (resume()) until release(). False when it cannot: a server this
   * master bound itself (the keep helper failed at its start).
   */
  keep(): boolean {
    if ((this.state !== 'open' && this.state !== 'paused') || this.held === undefined) return false;
    if (this.state === 'open' && this.server?.listening === true && !pauseAccepting(this.server)) return false;
    this.state = 'kept'; // resume() accepts again
    return true;
  }

  /**
   * The next master's probation: this master stops accepting on the socket it accepts on itself,
   * which stays open (connections wait in its queue, for the new master) until unpause(). Nothing
   * for a socket the workers accept on, or one this master bound itself (it cannot: it goes on).
   */
  pause(): void {
    if (this.state === 'open' && this.server?.listening === true && pauseAccepting(this.server)) this.state = 'paused';
  }

  /** Accepts again after pause() (the upgrade failed). */
  unpause(): void {
    if (this.state !== 'paused') return;
    this.state = 'open';
    resumeAccepting(this.server as net.Server);
  }

  /** Stops accepting and closes the socket here (not one kept: release() does). Connections queued stay for the next master. */
  stopAccepting(): void {
    if (this.state === 'open' || this.state === 'paused') this.close();
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

  /** Accepts again on the socket kept at the hand-over (keep()): an old master taking service back. */
  resume(): void {
    if (this.state !== 'kept') return;
    if (this.server !== undefined && !resumeAccepting(this.server)) throw new Error(`cannot accept on ${this.address()} again`);
    this.state = 'open';
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

export interface OpenOptions extends Pick<ResolvedOptions, 'backlog' | 'accept'> {
  specs: ListenerSpec[];
  /** The sockets this master did not bind: the previous master's (`upgrade`), or systemd's at a first start. */
  inherited: Inherited[];
  /** Spawned by an upgrade. */
  upgrade: boolean;
  log: Logger;
  onConnection: OnConnection;
  /** A listener bound at a first start: the master announces it ('listening'). */
  bound: (l: Listener) => void;
}

/** The ledger: a master's listening sockets. The master makes it empty; its start-up opens it. */
export class SocketLedger {
  /** Every listening socket, one per listener (none until open() has held them all). */
  readonly all: Listener[] = [];
  /** Inherited listeners this release does not have (told to the old master). */
  readonly dropped: string[] = [];

  /** The one road to "held" (see the top of this file). */
  async open(o: OpenOptions): Promise<void> {
    const { log } = o;
    const sockets: Listener[] = [];
    const bound: Listener[] = [];
    const { adopt, unused } = matchInherited(o.specs, o.inherited);
    for (const u of unused) {
      // a release that dropped this listener: only the old master holds it now; it closes it when it hands over
      closeFd(u.fd);
      this.dropped.push(u.spec.name);
      log.info('listener-dropped', `listener "${u.spec.name}" (${describeSpec(u.spec)}) is not in this release: closed the inherited fd ${u.fd}`, { listener: u.spec.name });
    }
    for (const spec of o.specs) {
      const from = adopt.get(spec.name);
      const l = from !== undefined
        // listen(2) on a listening socket sets its backlog anew: always baton's option (systemd's too)
        ? Listener.adopt(spec, from, o.backlog, o.onConnection, o.accept === 'workers')
        : await Listener.bind(spec, o.backlog, o.onConnection);
      l.onAcceptError = (err) => log.warn('accept-error', `${l.address()}: ${err.message}`);
      sockets.push(l);
      if (from !== undefined) {
        // an adopted UNIX socket takes this release's `mode` (systemd's keeps its own)
        if (spec.path !== undefined && spec.mode !== undefined && !l.external) {
          try {
            fs.chmodSync(spec.path, spec.mode);
          } catch (err) {
            log.warn('listener-mode', `${l.address()}: cannot set mode ${spec.mode.toString(8)}: ${(err as Error).message}`);
          }
        }
        log.debug('listener-adopted', `${l.address()} inherited at fd ${from.fd}${from.spec.name !== spec.name ? ` (was "${from.spec.name}")` : ''}`);
        continue;
      }
      bound.push(l);
      if (o.upgrade) log.info('listener-added', `${l.address()} (listener "${l.name}") is new in this release: bound`, { listener: l.name });
      else o.bound(l);
    }
    await hold(bound, o.accept === 'workers', log);
    this.all.push(...sockets);
  }

  /** Stops accepting on every socket and closes it here (a kept one stays: KeptSockets lets it go). */
  stopAccepting(): void {
    for (const l of this.all) l.stopAccepting();
  }

  /** At the final stop: the UNIX socket files go (not systemd's). */
  removePaths(): void {
    for (const l of this.all) l.removePath();
  }
}

/** The sockets this master bound are held through the keep helper's duplicates; failing that, this master accepts on the servers it bound, for good. */
async function hold(bound: Listener[], forWorkers: boolean, log: Logger): Promise<void> {
  if (bound.length === 0) return;
  let dups: object[] = [];
  let held = 0;
  try {
    dups = await duplicate(bound.map((l) => l.handoffFd()));
    for (; held < bound.length; held++) await (bound[held] as Listener).hold(dups[held] as object, forWorkers);
  } catch (err) {
    for (const h of dups.slice(held)) closeHandle(h);
    log.warn('keep-helper-failed', `${(err as Error).message}: this master accepts the connections of ${bound.slice(held).map((l) => l.address()).join(', ')} itself, hands each to a worker, and cannot keep these sockets for taking service back`);
  }
}

/**
 * The sockets an old master keeps at a hand-over, for taking service back: each as it holds it,
 * unpolled (the raw handle stays, a server pauses); no process is involved. Under `baton run` the
 * supervisor holds the sockets instead. They must not outlive their use (close()): a listening
 * socket that someone still holds keeps queueing connections that nobody accepts.
 */
export class KeptSockets {
  /** Why a socket could not be kept (the others are): undefined when every one was. */
  readonly failed: string | undefined;
  private readonly kept: Listener[] = [];

  constructor(listeners: Listener[]) {
    const lost: string[] = [];
    for (const l of listeners) {
      if (l.keep()) this.kept.push(l);
      else lost.push(l.address());
    }
    if (lost.length > 0) this.failed = `cannot keep ${lost.join(', ')}: this master accepted on a socket it bound itself (the helper failed at its start)`;
  }

  /** Taking service back (lib/upgrade/take-back.ts): every kept socket accepts again; rejects when one could not be kept (the rest are let go). */
  async takeBack(): Promise<void> {
    try {
      if (this.failed !== undefined) throw new Error(this.failed);
      for (const l of this.kept) l.resume();
    } finally {
      this.close();
    }
  }

  /** Lets the kept sockets go (the new master hands over in turn or stops, or this one stops); one taken back stays open. Idempotent. */
  close(): void {
    for (const l of this.kept.splice(0)) l.release();
  }
}

const DELIVERY_TIMEOUT = 10_000;
/** Where the helper finds the sockets: after stdin, stdout, stderr and the IPC channel. */
const HELPER_FIRST_FD = 4;

/**
 * The keep helper: Node has no dup(2), so a master runs this very file as a tiny process with the
 * sockets it bound in its stdio (fd 4 on): the kernel duplicates them at spawn(), and the helper
 * sends each back over IPC as a raw handle (a duplicate again, held without accepting:
 * lib/os/internals.ts, 6) and exits. Once per socket, at the start of the master that bound it.
 * Resolves with a duplicate of each socket (by fd); rejects (closing what came) if it fails.
 */
export function duplicate(fds: number[]): Promise<object[]> {
  const got: object[] = [];
  let child: ChildProcess;
  try {
    // the user's NODE_OPTIONS (preloads) have no business in this helper
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    child = spawn(process.execPath, [path.join(__dirname, 'ledger.js'), String(fds.length)], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc', ...fds] });
  } catch (err) {
    return Promise.reject(new Error(`cannot spawn the helper that keeps the sockets: ${(err as Error).message}`));
  }
  // settled only once the helper has exited: it never outlives the start that needed it
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the helper that keeps the sockets did not deliver them within ${DELIVERY_TIMEOUT} ms`)), DELIVERY_TIMEOUT);
    let delivered = 0;
    let failed: Error | undefined;
    const fail = (err: Error): void => {
      failed ??= err;
      child.kill('SIGKILL');
    };
    child.on('error', (err) => {
      fail(new Error(`the helper that keeps the sockets failed: ${err.message}`));
      if (child.pid !== undefined) return; // its exit settles
      clearTimeout(timer);
      reject(failed);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (delivered === fds.length && failed === undefined) return resolve(got);
      for (const h of got) if (h !== undefined) closeHandle(h);
      reject(failed ?? new Error(`the helper that keeps the sockets ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it delivered them`));
    });
    child.on('message', (m: unknown, handle: unknown) => {
      if (!isBaton(m) || m.type !== 'kept' || typeof handle !== 'object' || handle === null) return;
      const i = (m as unknown as { index: number }).index;
      if (!(i >= 0 && i < fds.length) || got[i] !== undefined) return closeHandle(handle);
      got[i] = handle;
      if (++delivered === fds.length && child.connected) child.disconnect(); // the helper exits
    });
  });
}

/** The helper's side: each socket of its stdio back to the master as a raw handle; it exits when the master disconnects (or dies). */
function helper(): void {
  const count = Number(process.argv[2]);
  if (!Number.isInteger(count) || count < 0 || typeof process.send !== 'function') {
    process.stderr.write('baton: lib/sockets/ledger.js runs as a helper only when a master starts it, not by hand\n');
    process.exit(2);
  }
  // A listener keeps the channel (and this process) alive until the master disconnects:
  // Node sends a second handle only once the first is acknowledged.
  process.on('disconnect', () => process.exit(0));
  for (let i = 0; i < count; i++) {
    const socket = new net.Socket({ fd: HELPER_FIRST_FD + i, readable: false, writable: false });
    process.send(msg({ type: 'kept', index: i }), rawHandle(socket) as never);
  }
}

if (require.main === module) helper();
