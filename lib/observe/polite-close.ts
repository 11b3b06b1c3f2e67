// Closing a small HTTP server without cutting a request short: what the master's endpoints
// (lib/observe/endpoints.ts) do at a hand-over and at the final stop.
//
// Node's `http.Server.close()` (since Node 19) also closes the connections it counts as idle,
// and from Node 26 a connection that was just accepted and whose request is not parsed yet
// counts as idle too: destroying it with the request unread in the kernel's buffer sends a
// reset, so a probe or a scrape that connected a moment before the close failed with
// ECONNRESET (spec/integration/observe.spec.ts caught it across upgrades on Node 26, where this began;
// spec/unit/observe/polite-close.spec.ts shows it).
// So here:
// - the listening handle closes alone (`net.Server.prototype.close`, the listener without
//   http's sweep of idle connections); at a hand-over the next master serves on the same socket;
// - every response from then on carries `Connection: close`;
// - a connection idle after a response closes at once (a keep-alive scraper reconnects);
// - a connection that has not sent its first request yet gets until `graceMs` to send it, and
//   is answered; after that whatever is left is destroyed.
import * as http from 'node:http';
import * as net from 'node:net';

export class PoliteClose {
  /** Each connection's requests answered or under way, and its responses not finished yet. */
  private readonly conns = new Map<net.Socket, { requests: number; open: number }>();
  private closing = false;

  constructor(private readonly server: http.Server) {
    server.on('connection', (socket: net.Socket) => {
      this.conns.set(socket, { requests: 0, open: 0 });
      socket.on('close', () => this.conns.delete(socket));
    });
    // before the handler: a response begun after close() still says Connection: close
    server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const c = this.conns.get(req.socket);
      if (c === undefined) return;
      c.requests++;
      c.open++;
      if (this.closing) res.setHeader('Connection', 'close');
      res.on('close', () => {
        c.open--;
        if (this.closing && c.open === 0) req.socket.end();
      });
    });
  }

  /**
   * Stops listening and closes every connection once it is answered or idle; resolves when
   * the listener and every connection are closed (net.Server's close callback waits for both).
   */
  close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const [socket, c] of this.conns) if (c.requests > 0 && c.open === 0) socket.end();
    const timer = setTimeout(() => {
      for (const socket of this.conns.keys()) socket.destroy();
    }, graceMs).unref();
    return new Promise<void>((resolve) => {
      // not this.server.close(): http's sweeps the connections it counts idle first
      net.Server.prototype.close.call(this.server, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
