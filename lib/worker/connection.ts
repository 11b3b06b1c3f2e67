// One connection as a worker's drain tracks it (lib/worker/drain.ts): what kind of server
// it came to, where its requests arrive, whether it is idle, taken over by the app, or shed.
import type * as http from 'node:http';
import type { Server, Socket } from 'node:net';
import type { WebSocketConn } from './websocket-close';

/** How baton can drain a server's connections. */
export type Kind = 'http' | 'https' | 'other';

export interface Conn {
  raw: Socket;
  server: Server;
  kind: Kind;
  /** Where requests arrive: the raw socket (http), its TLSSocket once the handshake is done (https). */
  io: Socket | undefined;
  /** The peer as seen at accept time, to find the raw socket under a TLSSocket. */
  peer: string | undefined;
  /** performance.now() when it last became idle (or arrived). */
  idleSince: number;
  bytesAtIdle: number;
  /** Taken over by the app (Upgrade, CONNECT): never idle, closed by the app or at drainTimeout. */
  long: boolean;
  /** Taken over from an `Upgrade: websocket` request: told 1001 at the drain (lib/worker/websocket-close.ts). */
  ws: WebSocketConn | undefined;
  /**
   * HTTP/1 responses in progress, oldest first: they get `Connection: close` when the drain
   * starts. The one in progress (`res`, its request's start in `start`), and those of pipelined
   * requests behind it (`queued`, with theirs).
   */
  res: http.ServerResponse | undefined;
  start: number;
  queued: Array<[http.ServerResponse, number]> | undefined;
  /** Shed for fairness: its next response closes it (lib/pool/balance.ts). */
  shed: boolean;
  /**
   * The listener it came in on (listenerOf(), lib/worker/tags.ts): kept here rather than in a
   * WeakMap keyed by the socket, whose entry per connection cost about 1 µs each (with its
   * clean-up by the GC) under a connection per request.
   */
  listener: string | undefined;
}

/** The responses in progress on `c` that have not started yet end the connection when done. */
export function closeAfterResponse(c: Conn): void {
  if (c.res !== undefined && !c.res.headersSent) c.res.setHeader('Connection', 'close');
  for (const [res] of c.queued ?? []) if (!res.headersSent) res.setHeader('Connection', 'close');
}

/** A response started on `c` (its request's headers arrived at `t`). */
export function responseStarted(c: Conn, res: http.ServerResponse, t: number): void {
  if (c.res === undefined) {
    c.res = res;
    c.start = t;
  } else (c.queued ??= []).push([res, t]);
}

/**
 * A response on `c` finished: when its request started, or -1 if it was not one of `c`'s.
 * HTTP/1 finishes them in the order their requests came.
 */
export function responseFinished(c: Conn, res: http.ServerResponse): number {
  if (c.res !== res) {
    const i = c.queued?.findIndex(([r]) => r === res) ?? -1;
    return i < 0 ? -1 : (c.queued as Array<[http.ServerResponse, number]>).splice(i, 1)[0][1];
  }
  const start = c.start;
  const next = c.queued?.shift();
  c.res = next?.[0];
  if (next !== undefined) c.start = next[1];
  return start;
}

/** HTTP/1 requests in progress on `c` (their responses not finished). */
export function inProgress(c: Conn): number {
  return (c.res === undefined ? 0 : 1) + (c.queued?.length ?? 0);
}

/** The connection a socket (the raw one, or the TLSSocket on it) belongs to. */
const CONN = Symbol('baton.conn');
type Owned = Socket & { [CONN]?: Conn };

export function connOf(s: Socket): Conn | undefined {
  return (s as Owned)[CONN];
}

export function own(s: Socket, c: Conn): void {
  (s as Owned)[CONN] = c;
}

export function peerOf(s: Socket): string | undefined {
  return s.remotePort === undefined ? undefined : `${s.remoteAddress}|${s.remotePort}|${s.localPort}`;
}

