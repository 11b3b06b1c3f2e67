// The listening sockets, held by the master. The master accepts each connection
// (paused, no byte read) and hands it to a worker of the serving generation
// (Master.dispatch in master.ts); workers never listen themselves. The same socket is shared with the
// next master through its stdio, so there is never a moment when nobody accepts.
//
// UNIX sockets: libuv unlinks the path a server bound when that server is closed,
// which would break the path for every later generation. baton binds to a private
// temporary name and renames it into place: the close() of an old master then unlinks
// a name that no longer exists, and the path is removed only at the final stop
// (lib/unixpath.ts, shared with the control socket).
import * as fs from 'node:fs';
import * as net from 'node:net';
import { listeningFd } from './internals';
import { listenUnixAtomically, unlinkSocket } from './unixpath';

export interface ListenerSpec {
  name: string;
  port?: number;
  host?: string;
  path?: string;
  /** Permission bits of a UNIX socket file (not part of the identity: a release may change it). */
  mode?: number;
}

/** What identifies a listener across masters: a release with the same spec reuses the socket. */
export function specKey(spec: ListenerSpec): string {
  return JSON.stringify([spec.name, spec.path ?? null, spec.host ?? null, spec.port ?? null]);
}

/** The address alone, without the name: a release that renames a listener still reuses its socket. */
export function addressKey(spec: ListenerSpec): string {
  return JSON.stringify([spec.path ?? null, spec.host ?? null, spec.port ?? null]);
}

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
  readonly server: net.Server;
  /** The socket belongs to someone else (systemd socket activation): its path is never removed. */
  external = false;
  /** Announced with a 'listening' event. */
  announced = false;
  private accepting = false;
  private closed = false;

  private constructor(readonly spec: ListenerSpec, readonly fd: number | undefined, onConnection: OnConnection) {
    this.server = net.createServer({ pauseOnConnect: true });
    this.server.on('connection', (socket) => onConnection(this, socket));
  }

  get name(): string {
    return this.spec.name;
  }

  /** The address clients use: for TCP the bound port (useful with port 0). */
  address(): string {
    const a = this.server.address();
    if (a && typeof a === 'object') return describeSpec({ name: this.name, host: a.address, port: a.port });
    return describeSpec(this.spec);
  }

  port(): number | undefined {
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : this.spec.port;
  }

  /** The fd to pass to the next master. */
  handoffFd(): number {
    return this.fd ?? listeningFd(this.server);
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
  static adopt(spec: ListenerSpec, fd: number, onConnection: OnConnection): Listener {
    let stat: fs.Stats;
    try {
      stat = fs.fstatSync(fd);
    } catch (err) {
      throw new Error(`baton: inherited listener "${spec.name}" names fd ${fd}, which is not open (${(err as NodeJS.ErrnoException).code})`);
    }
    if (!stat.isSocket()) throw new Error(`baton: inherited listener "${spec.name}" names fd ${fd}, which is not a socket`);
    return new Listener(spec, fd, onConnection);
  }

  async accept(): Promise<void> {
    if (this.accepting || this.fd === undefined) return;
    await this.listenOn({ fd: this.fd });
    this.accepting = true;
  }

  /** Stops accepting. Connections waiting in the backlog stay there for the next master. */
  stopAccepting(): void {
    if (this.closed) return;
    this.closed = true;
    this.accepting = false;
    // close()'s callback would wait for the connections sent to workers; only the handle matters
    if (this.server.listening) this.server.close();
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

  private listenOn(opts: net.ListenOptions | { fd: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const code = err.code ?? 'error';
        reject(new ListenError(this.spec, code, HINTS[code] ?? err.message));
      };
      this.server.once('error', onError);
      this.server.listen(opts as net.ListenOptions, () => {
        this.server.removeListener('error', onError);
        resolve();
      });
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

/** A socket this master did not bind: from the previous master (hand-off) or from systemd. */
export interface Inherited {
  spec: ListenerSpec;
  fd: number;
  /** systemd's socket (socket activation): baton never removes its path. */
  external?: boolean;
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
    const i = left.findIndex((g) => specKey(g.spec) === specKey(spec));
    if (i >= 0) adopt.set(spec.name, left.splice(i, 1)[0] as Inherited);
  }
  for (const spec of specs) {
    if (adopt.has(spec.name) || spec.port === 0) continue;
    const same = left.filter((g) => addressKey(g.spec) === addressKey(spec));
    const rivals = specs.filter((s) => !adopt.has(s.name) && addressKey(s) === addressKey(spec));
    if (same.length === 1 && rivals.length === 1) {
      adopt.set(spec.name, same[0] as Inherited);
      left.splice(left.indexOf(same[0] as Inherited), 1);
    }
  }
  return { adopt, unused: left };
}

/** Closes an inherited fd nobody adopts; false when it was not open. */
export function closeFd(fd: number): boolean {
  try {
    fs.closeSync(fd);
    return true;
  } catch {
    return false;
  }
}
