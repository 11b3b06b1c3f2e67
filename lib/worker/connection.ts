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
  active: number;
  idleSince: number;
  bytesAtIdle: number;
  /** Taken over by the app (Upgrade, CONNECT): never idle, closed by the app or at drainTimeout. */
  long: boolean;
  /** Taken over from an `Upgrade: websocket` request: told 1001 at the drain (lib/worker/websocket-close.ts). */
  ws: WebSocketConn | undefined;
  /** HTTP/1 responses in progress, oldest first: they get `Connection: close` when the drain starts. */
  responses: http.ServerResponse[];
  /** Shed for fairness: its next response closes it (lib/pool/balance.ts). */
  shed: boolean;
}

export interface DrainResult {
  /** Connections closed by force at drainTimeout. */
  forced: number;
  /** How many of those the app had taken over (WebSocket and other upgrades, CONNECT). */
  upgraded: number;
}

/** The responses in progress on `c` that have not started yet end the connection when done. */
export function closeAfterResponse(c: Conn): void {
  for (const res of c.responses) if (!res.headersSent) res.setHeader('Connection', 'close');
}

export function peerOf(s: Socket): string | undefined {
  return s.remotePort === undefined ? undefined : `${s.remoteAddress}|${s.remotePort}|${s.localPort}`;
}

