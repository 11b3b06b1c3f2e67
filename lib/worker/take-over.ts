// Connections an app takes over (an HTTP Upgrade such as WebSocket, a CONNECT) are the
// app's to close: the drain (lib/worker/drain.ts) must know them. But listening changes what
// Node does (with no 'upgrade' listener an Upgrade is an ordinary request, with no 'connect'
// listener a CONNECT is refused), so baton listens only while the app does, following the
// app's listeners as they come and go.
import type * as http from 'node:http';
import type { Server, Socket } from 'node:net';

/** Calls `takenOver` with each socket the app's `ev` listeners take (and its request), while the app has one. */
export function followTakeOver(server: Server, ev: 'upgrade' | 'connect', takenOver: (socket: Socket, req: http.IncomingMessage) => void): void {
  const ours = (req: http.IncomingMessage, socket: Socket): void => takenOver(socket, req);
  let on = false;
  const sync = (added: number): void => {
    const theirs = server.listenerCount(ev) + added - (on ? 1 : 0);
    if (theirs > 0 && !on) {
      on = true;
      server.prependListener(ev, ours);
    } else if (theirs <= 0 && on) {
      on = false;
      server.removeListener(ev, ours);
    }
  };
  // 'newListener' comes before the listener is added, 'removeListener' after it is removed
  server.on('newListener', (name: string | symbol, fn: unknown) => {
    if (name === ev && fn !== ours) sync(1);
  });
  server.on('removeListener', (name: string | symbol, fn: unknown) => {
    if (name === ev && fn !== ours) sync(0);
  });
  sync(0);
}
