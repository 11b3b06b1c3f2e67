// Worker-side drain: finish what was accepted, reset nothing (what it does, for users: docs/signals.md,
// 'What "drain" means'). For https the idle socket is the TLSSocket the server built on the raw one
// (found from the server's 'secureConnection'), closed with a TLS close_notify; a TLS connection still
// in its handshake is left to finish it.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Http2Session } from 'node:http2';
import type { Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import type { ResponseSink } from '../observe/request-stats';
import { watchHttp, type HttpWatcher } from '../os/http-channels';
import { applyConnectionOptions } from '../os/internals';
import { goAway } from './h2-goaway';
import { tags } from './tags';
import { shed } from './shed';
import { followTakeOver } from './take-over';
import { closeAfterResponse, connOf, inProgress, own, peerOf, responseFinished, responseStarted, type Conn, type Kind } from './connection';
import { isWebSocketRequest, sayGoingAway } from './websocket-close';

export interface DrainResult {
  /** Connections closed by force at drainTimeout. */
  forced: number;
  /** How many of those the app had taken over (WebSocket and other upgrades, CONNECT). */
  upgraded: number;
}

export class ConnectionTracker implements HttpWatcher {
  /** HTTP requests seen, on every server watched (reported in the worker's heartbeats). */
  requests = 0;
  private conns = new Map<Socket, Conn>();
  private servers = new Map<Server, Kind>();
  private sessions = new Set<Http2Session>();
  private draining = false;
  /** The drain tells WebSockets the app left open that the server is going away; how many it told. */
  private closeWebSockets = false;
  webSocketsClosed = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** The drain's outcome, once drain() was called; `finish` settles it. */
  private drained: Promise<DrainResult> | undefined;
  private finish: ((r: DrainResult) => void) | undefined;
  /** The raw socket being fed, while server.emit('connection') runs (h2c builds its session then). */
  private feeding: Conn | undefined;
  /** The TLSSocket whose 'secureConnection' is being emitted (http2 builds its session then). */
  private securing: Conn | undefined;

  /** One function for every connection's 'close' (no closure per connection). */
  private readonly onClose: (this: Socket) => void;

  /**
   * @param gone called after a connection closed and was counted gone (the worker's acceptor decides again)
   * @param responses told of every HTTP/1 response this tracker saw finish, and of those a closing
   *   connection left unfinished (the worker's request counting: one watcher per request for both)
   */
  constructor(private grace: number, gone?: () => void, private readonly responses?: ResponseSink) {
    const tracker = this;
    this.onClose = function onClose(this: Socket) {
      const c = tracker.conns.get(this);
      tracker.conns.delete(this);
      const left = c === undefined ? 0 : inProgress(c);
      if (left > 0) responses?.aborted(left);
      tracker.check();
      gone?.();
    };
  }

  get size(): number {
    return this.conns.size;
  }

  /**
   * Starts tracking what `server` does with the connections fed to it. Returns whether it follows
   * the server's requests one by one (http, https: it tells its ResponseSink of each response).
   */
  watch(server: Server): boolean {
    const known = this.servers.get(server);
    if (known !== undefined) return known !== 'other';
    const kind: Kind = server instanceof https.Server ? 'https' : server instanceof http.Server ? 'http' : 'other';
    this.servers.set(server, kind);
    // http, https: requests and responses from Node's diagnostics channels (no listener per
    // response; lib/os/http-channels.ts), told before the app's handler runs, so that it
    // already sees `Connection: close`. http2: counted from its 'request' event.
    if (!watchHttp(server, this)) server.prependListener('request', () => this.requests++);
    if (server instanceof tls.Server) {
      server.prependListener('secureConnection', (s: tls.TLSSocket) => this.onSecure(server, s));
    }
    server.on('session', (session: Http2Session) => this.onSession(session));
    // Upgrade and CONNECT: connections the app takes over (lib/worker/take-over.ts)
    for (const ev of ['upgrade', 'connect'] as const) {
      followTakeOver(server, ev, (socket, req) => {
        const c = connOf(socket);
        if (c === undefined) return;
        c.long = true;
        if (ev === 'upgrade' && isWebSocketRequest(req)) c.ws = { socket, writtenAtUpgrade: socket.bytesWritten, told: false };
      });
    }
    return kind !== 'other';
  }

  /** A connection of `server` (watched), counted from now on. */
  add(socket: Socket, server: Server, listener?: string): Conn {
    const kind = this.servers.get(server) ?? 'other';
    const c: Conn = {
      raw: socket,
      server,
      kind,
      io: kind === 'http' ? socket : undefined,
      peer: server instanceof tls.Server ? peerOf(socket) : undefined,
      idleSince: performance.now(),
      bytesAtIdle: 0,
      long: false,
      ws: undefined,
      shed: false,
      res: undefined,
      start: 0,
      queued: undefined,
      listener,
    };
    this.conns.set(socket, c);
    // the record on the raw socket too (for https, c.io is the TLSSocket later): listenerOf()
    own(socket, c);
    // on(), not once(): a socket emits 'close' once, and once() builds a wrapper per connection
    socket.on('close', this.onClose);
    return c;
  }

  /** add() and hand the socket to the server, recording the listener it came in on. */
  feed(socket: Socket, server: Server, listener: string): void {
    this.watch(server);
    applyConnectionOptions(server, socket);
    this.feeding = this.add(socket, server, listener);
    try {
      server.emit('connection', socket);
    } finally {
      this.feeding = undefined;
    }
  }

  private onSecure(server: Server, s: tls.TLSSocket): void {
    // Find the raw socket this TLSSocket wraps: same peer (TCP); over a UNIX socket, which
    // has no peer address, the oldest connection of this server still in its handshake.
    const peer = peerOf(s);
    let found: Conn | undefined;
    for (const c of this.conns.values()) {
      if (c.server === server && c.io === undefined && c.peer === peer) {
        found = c;
        break;
      }
    }
    if (found === undefined) return;
    found.io = s;
    found.idleSince = performance.now();
    found.bytesAtIdle = found.raw.bytesRead;
    own(s, found); // listenerOf(s) reads found.listener
    this.securing = found;
    setImmediate(() => {
      if (this.securing === found) this.securing = undefined;
    });
  }

  private onSession(session: Http2Session): void {
    const from = this.feeding ?? this.securing;
    this.securing = undefined;
    const name = from?.listener;
    if (name !== undefined) tags.set(session, name);
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    if (this.draining) goAway(session);
  }

  /** Up to `n` connections move to whoever accepts now (lib/worker/shed.ts); how many. */
  shed(n: number, http2 = false): number {
    return shed(this.conns.values(), this.sessions, n, http2);
  }

  /** An HTTP/1 request's headers arrived (lib/os/http-channels.ts): its connection is busy. */
  started(_req: http.IncomingMessage, res: http.ServerResponse, socket: Socket, t: number): void {
    this.requests++;
    const c = connOf(socket);
    if ((this.draining || c?.shed === true) && !res.headersSent) res.setHeader('Connection', 'close');
    if (c !== undefined) responseStarted(c, res, t);
  }

  /** Its response's last byte was written at `t`: the connection is idle from then if it has no other. */
  finished(res: http.ServerResponse, socket: Socket, t: number): void {
    const c = connOf(socket);
    if (c === undefined) return;
    const start = responseFinished(c, res);
    if (start < 0) return;
    c.idleSince = t;
    c.bytesAtIdle = c.raw.bytesRead;
    this.responses?.record(res.statusCode, start, t);
  }

  /** Starts the drain; resolves when every connection is gone. `closeWebSockets`: tell them 1001. */
  drain(drainTimeout: number, closeWebSockets = false): Promise<DrainResult> {
    if (this.drained) return this.drained;
    this.draining = true;
    this.closeWebSockets = closeWebSockets;
    this.drained = new Promise((resolve) => {
      this.finish = resolve;
      for (const s of this.sessions) goAway(s);
      for (const c of this.conns.values()) closeAfterResponse(c);
      if ([...this.servers.values()].some((k) => k !== 'other')) {
        const every = Math.max(10, Math.min(100, Math.floor(this.grace / 4) || 10));
        this.sweepTimer = setInterval(() => this.sweep(), every);
        this.sweep();
      }
      this.deadline = setTimeout(() => this.forceClose(), drainTimeout);
      this.check();
    });
    return this.drained;
  }

  /** Closes HTTP/1 connections that are idle and have been for the grace period; tells WebSockets. */
  sweep(): void {
    const t = performance.now();
    for (const c of this.conns.values()) {
      if (c.ws !== undefined && this.closeWebSockets && sayGoingAway(c.ws)) this.webSocketsClosed++;
      if (c.kind === 'other' || c.long || inProgress(c) > 0) continue;
      if (c.raw.bytesRead > c.bytesAtIdle) continue; // a request (or a TLS handshake) is arriving
      if (t - c.idleSince < this.idleLimit(c)) continue;
      if (c.io) c.io.end();
      else c.raw.destroy(); // a TLS connection that never sent a byte
    }
  }

  /** How long a connection must be idle before the drain closes it. */
  private idleLimit(c: Conn): number {
    const kat = (c.server as http.Server | undefined)?.keepAliveTimeout;
    return Math.max(this.grace, typeof kat === 'number' && kat > 0 ? kat : 0);
  }

  forceClose(): void {
    const forced = this.conns.size;
    let upgraded = 0; // the app had taken them over
    for (const c of this.conns.values()) {
      if (c.long) upgraded++;
      c.io?.destroy();
      c.raw.destroy();
    }
    this.conns.clear();
    this.done({ forced, upgraded });
  }

  private check(): void {
    if (this.draining && this.conns.size === 0) this.done({ forced: 0, upgraded: 0 });
  }

  private done(r: DrainResult): void {
    clearInterval(this.sweepTimer);
    clearTimeout(this.deadline);
    this.finish?.(r); // once: a promise settles once
  }
}
