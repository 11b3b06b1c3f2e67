// The polite close baton sends to WebSockets the app left open when a worker drains (option
// closeWebSockets; docs/listeners.md). A connection is a WebSocket when the app took it over from
// an `Upgrade: websocket` request (RFC 6455 section 4.1); once the app has answered the handshake
// (bytesWritten grew after the upgrade), baton writes one Close frame 1001 "going away" (section
// 7.4.1) and nothing else, reading nothing: the socket stays the app's. Frames are whole writes
// (ws writes each frame in one go), so this one never lands inside another.
import type * as http from 'node:http';
import type { Socket } from 'node:net';

/** Whether `req` asked to upgrade to a WebSocket (`Upgrade: websocket`, any case, maybe in a list). */
export function isWebSocketRequest(req: http.IncomingMessage): boolean {
  const h = req.headers.upgrade;
  return typeof h === 'string' && h.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/** The Close frame, unmasked as a server's is: FIN + opcode 8, its length, status 1001 (0x03e9), the reason. */
const GOING_AWAY = Buffer.from([0x88, 2 + 10, 0x03, 0xe9, ...Buffer.from('going away')]);

/** One WebSocket the app took over, as the drain watches it. */
export interface WebSocketConn {
  socket: Socket;
  /** socket.bytesWritten when the app took it over: more means the app answered the handshake. */
  writtenAtUpgrade: number;
  told: boolean;
}

/** Writes the Close frame once, if the app has answered the handshake and the socket is open; true if written. */
export function sayGoingAway(ws: WebSocketConn): boolean {
  if (ws.told) return false;
  const s = ws.socket;
  if (s.destroyed || !s.writable || s.bytesWritten <= ws.writtenAtUpgrade) return false;
  ws.told = true;
  s.write(GOING_AWAY);
  return true;
}
