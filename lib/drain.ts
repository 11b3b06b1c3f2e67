// Worker-side drain: finish what was accepted, reset nothing.
//
// Once draining starts (the master stopped sending connections to this worker):
// - every HTTP/1 response not yet started carries `Connection: close`, so busy
//   keep-alive connections end after their current request;
// - a plain-HTTP socket with no request in progress is closed once it has been idle
//   for `keepAliveGrace` ms (a socket that never sent a byte counts as idle since it
//   arrived): a request already on the wire in that window is served, not reset;
// - at `drainTimeout` whatever remains is destroyed and counted as forced.
// Servers baton cannot look into (TLS, HTTP/2, raw net) keep their connections until
// the app closes them (it is told through the drain signal) or until drainTimeout.
import * as http from 'node:http';
import * as tls from 'node:tls';
import type { Server, Socket } from 'node:net';

interface Conn {
  active: number;
  idleSince: number;
  bytesAtIdle: number;
}

export interface DrainResult {
  /** Connections closed by force at drainTimeout. */
  forced: number;
}

export class ConnectionTracker {
  private conns = new Map<Socket, Conn>();
  private draining = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private finish: ((r: DrainResult) => void) | undefined;
  private readonly plainHttp: boolean;

  constructor(server: Server, private grace: number, private now: () => number = Date.now) {
    this.plainHttp = server instanceof http.Server && !(server instanceof tls.Server);
    // Registered first, so the app's own handler already sees `Connection: close`.
    server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res));
  }

  get size(): number {
    return this.conns.size;
  }

  /** A connection handed to this worker by the master. */
  add(socket: Socket): void {
    const c: Conn = { active: 0, idleSince: this.now(), bytesAtIdle: 0 };
    this.conns.set(socket, c);
    socket.once('close', () => {
      this.conns.delete(socket);
      this.check();
    });
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const c = this.conns.get(req.socket as Socket);
    if (this.draining && res instanceof http.ServerResponse && !res.headersSent) res.setHeader('Connection', 'close');
    if (c === undefined) return;
    c.active++;
    res.once('close', () => {
      c.active--;
      c.idleSince = this.now();
      c.bytesAtIdle = req.socket.bytesRead;
    });
  }

  /** Starts the drain; resolves when every connection is gone. */
  drain(drainTimeout: number): Promise<DrainResult> {
    if (this.draining) return new Promise((resolve) => this.chain(resolve));
    this.draining = true;
    return new Promise((resolve) => {
      this.finish = resolve;
      if (this.plainHttp) {
        const every = Math.max(10, Math.min(100, Math.floor(this.grace / 4) || 10));
        this.sweepTimer = setInterval(() => this.sweep(), every);
        this.sweep();
      }
      this.deadline = setTimeout(() => this.forceClose(), drainTimeout);
      this.check();
    });
  }

  private chain(resolve: (r: DrainResult) => void): void {
    const prev = this.finish;
    this.finish = (r) => {
      prev?.(r);
      resolve(r);
    };
  }

  /** Closes plain-HTTP sockets that are idle and have been for the grace period. */
  sweep(): void {
    const t = this.now();
    for (const [socket, c] of this.conns) {
      if (c.active > 0) continue;
      if (socket.bytesRead > c.bytesAtIdle) continue; // a request is arriving
      if (t - c.idleSince < this.grace) continue;
      socket.end();
    }
  }

  forceClose(): void {
    const forced = this.conns.size;
    for (const socket of this.conns.keys()) socket.destroy();
    this.conns.clear();
    this.done({ forced });
  }

  private check(): void {
    if (this.draining && this.conns.size === 0) this.done({ forced: 0 });
  }

  private done(r: DrainResult): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.deadline) clearTimeout(this.deadline);
    this.sweepTimer = undefined;
    this.deadline = undefined;
    const f = this.finish;
    this.finish = undefined;
    f?.(r);
  }
}
