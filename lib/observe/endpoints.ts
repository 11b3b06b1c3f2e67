// The master's own small HTTP listeners: `GET /metrics`, `/livez`, `/readyz`.
//
// Why the master's and not the app's: a probe must say what baton knows (a generation serves,
// the master stops or hands over) even while the app's workers are busy, starting or gone,
// and metrics must not be counted as requests or take a worker's time. Small and defensive:
// GET and HEAD only, short timeouts, few connections, no keep-alive left behind at close.
//
// One listener may serve both (`metrics` and `health` at the same address) or each its own.
// An address is `{ port, host? }` or `{ path }` (a UNIX socket, bound as the app's are:
// lib/sockets/unixpath.ts). At an upgrade the listening sockets go to the next master as fds
// (handoff()), which listens on them (`inherited`), so a probe never finds the port closed.
import * as http from 'node:http';
import { listen, listenUnixAtomically, unlinkSocket } from '../sockets/unixpath';
import { listeningFd } from '../os/internals';
import { PoliteClose } from './polite-close';
import { CONTENT_TYPE } from './prometheus';
import type { EndpointOption } from '../config/observe';
import type { ResolvedOptions } from '../config/types';

/** How long a connection accepted before a close may take to send its request (then it is cut). */
const CLOSE_GRACE_MS = 1_000;

/** `metrics` and `health`: where `/metrics`, and `/livez` and `/readyz`, are served (undefined: nowhere). */
export interface EndpointsOptions extends Partial<Pick<ResolvedOptions, 'metrics' | 'health'>> {
  /** The metrics text (Prometheus 0.0.4). */
  render: () => string;
  /** undefined when ready; otherwise why not (the 503's body), e.g. 'no generation serves'. */
  notReady: () => string | undefined;
  /** Listening sockets the previous master handed over, by address key (addressKey()). */
  inherited?: ReadonlyMap<string, number>;
}

export interface Endpoint {
  /** 'metrics', 'health', or 'metrics+health' when one listener serves both. */
  serves: string;
  /** addressKey() of the address it was asked for (what the next master matches). */
  key: string;
  server: http.Server;
  /** Closes it without cutting a request short. */
  closer: PoliteClose;
  /** The bound address (port for TCP, path for UNIX), for the log. */
  address: string;
}

/** Identifies an address across masters: `tcp:<host|*>:<port>`, `path:<path>`. */
export function addressKey(a: EndpointOption): string {
  if ('path' in a) return `path:${a.path}`;
  return `tcp:${a.host ?? '*'}:${a.port}`;
}

export class Endpoints {
  /** The listeners, in the order they were bound. */
  readonly all: Endpoint[] = [];
  /** The final stop: /livez and /readyz answer 503 to what is still asked. */
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(private readonly o: EndpointsOptions) {}

  /** Binds every listener the options name; rejects (and closes what it bound) if one cannot be. */
  static async start(o: EndpointsOptions): Promise<Endpoints> {
    const e = new Endpoints(o);
    const { metrics: m, health: h } = o;
    const one = m !== undefined && h !== undefined && addressKey(m) === addressKey(h);
    const listeners: Array<[EndpointOption | undefined, boolean, boolean]> = one ? [[m, true, true]] : [[m, true, false], [h, false, true]];
    try {
      for (const [address, metrics, health] of listeners) if (address !== undefined) await e.bind(address, metrics, health);
    } catch (err) {
      await e.close();
      throw err;
    }
    return e;
  }

  /** The listening sockets for the next master: its key and fd each. */
  handoff(): Array<{ key: string; fd: number }> {
    const out: Array<{ key: string; fd: number }> = [];
    for (const e of this.all) {
      try {
        out.push({ key: e.key, fd: listeningFd(e.server) });
      } catch {
        // not listening any more: the next master binds its own
      }
    }
    return out;
  }

  private async bind(address: EndpointOption, metrics: boolean, health: boolean): Promise<void> {
    const server = http.createServer({ requestTimeout: 5_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => this.answer(req, res, metrics, health));
    const closer = new PoliteClose(server);
    server.maxConnections = 64;
    server.maxHeadersCount = 64;
    const k = addressKey(address);
    const fd = this.o.inherited?.get(k);
    if ('path' in address && fd === undefined) {
      try {
        await listenUnixAtomically(server, address.path);
      } catch (err) {
        throw Object.assign(new Error(`baton: cannot serve ${metrics ? 'metrics' : 'health'} at ${address.path}: ${(err as Error).message}`), { code: (err as NodeJS.ErrnoException).code });
      }
    } else {
      await listen(server, fd !== undefined ? { fd } : address);
    }
    server.on('error', () => {
      // after listening: a failed accept; nothing to do, the listener goes on
    });
    const a = server.address();
    const shown = 'path' in address ? address.path : typeof a === 'string' ? a : a === null ? k : `${a.address}:${a.port}`;
    this.all.push({ serves: [metrics && 'metrics', health && 'health'].filter(Boolean).join('+'), key: k, server, closer, address: shown });
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, metrics: boolean, health: boolean): void {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.statusCode = status;
      res.setHeader('Content-Type', type);
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.setHeader('Cache-Control', 'no-store');
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const url = (req.url ?? '/').split('?')[0];
    const known = (metrics && url === '/metrics') || (health && (url === '/livez' || url === '/readyz'));
    if (!known) return send(404, `not found: ${metrics ? '/metrics' : ''}${metrics && health ? ', ' : ''}${health ? '/livez, /readyz' : ''} are served here\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(405, 'method not allowed: use GET\n');
    }
    if (url === '/metrics') {
      let text: string;
      try {
        text = this.o.render();
      } catch (err) {
        return send(500, `metrics failed: ${(err as Error).message}\n`);
      }
      return send(200, text, CONTENT_TYPE);
    }
    if (url === '/livez') return this.closed ? send(503, 'stopping\n') : send(200, 'ok\n');
    const why = this.closed ? 'stopping' : this.o.notReady();
    return why === undefined ? send(200, 'ready\n') : send(503, `not ready: ${why}\n`);
  }

  /**
   * Stops listening and closes every connection once answered (idle keep-alive ones at once,
   * one accepted just before once it is answered or after CLOSE_GRACE_MS). Idempotent.
   * `removePaths`: the final stop: also remove the UNIX socket files, and answer what is still
   * asked 503. Not after a hand-over, when the next master serves on the same sockets: a
   * connection this one accepted just before is answered as the service is (ready).
   */
  async close(removePaths = true): Promise<void> {
    if (removePaths) {
      this.closed = true;
      for (const e of this.all) if (e.key.startsWith('path:')) unlinkSocket(e.key.slice(5));
    }
    // a second close() (the exit after a hand-over) waits for the first one's connections too
    const closing = this.all.splice(0).map((e) => e.closer.close(CLOSE_GRACE_MS));
    this.closing = Promise.all([this.closing, ...closing]).then(() => undefined);
    await this.closing;
  }
}
