// The master's own small HTTP listeners: `GET /metrics`, `/livez`, `/readyz`.
//
// Why the master's and not the app's: a probe must say what baton knows (a generation serves,
// the master stops or hands over) even while the app's workers are busy, starting or gone,
// and metrics must not be counted as requests or take a worker's time. Small and defensive:
// GET and HEAD only, short timeouts, few connections, no keep-alive left behind at close.
//
// One listener may serve both (`metrics` and `health` at the same address) or each its own.
// An address is `{ port, host? }`, `{ path }` (a UNIX socket; a stale socket file is replaced)
// or `{ fd }` (a listening socket inherited from the previous master).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';

export type EndpointAddress = { port: number; host?: string } | { path: string } | { fd: number };

export interface EndpointsOptions {
  /** Where `/metrics` is served; undefined: nowhere. */
  metrics?: EndpointAddress;
  /** Where `/livez` and `/readyz` are served; undefined: nowhere. */
  health?: EndpointAddress;
  /** The metrics text (Prometheus 0.0.4). */
  render: () => string;
  /** undefined when ready; otherwise why not (the 503's body), e.g. 'no generation serves'. */
  notReady: () => string | undefined;
  /** Content-Type of /metrics. */
  contentType?: string;
}

export interface Endpoint {
  /** 'metrics', 'health', or 'metrics+health' when one listener serves both. */
  serves: string;
  server: http.Server;
  /** The bound address (port for TCP, path for UNIX), for the log. */
  address: string;
}

function key(a: EndpointAddress): string {
  if ('fd' in a) return `fd:${a.fd}`;
  if ('path' in a) return `path:${a.path}`;
  return `tcp:${a.host ?? '*'}:${a.port}`;
}

/** Whether a UNIX socket file has a listener behind it (lib/unixpath.ts's socketIsLive, which the wiring stage imports instead). */
function alive(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class Endpoints {
  private readonly endpoints: Endpoint[] = [];
  private livez = true;
  private closed = false;

  private constructor(private readonly o: EndpointsOptions) {}

  /** Binds every listener the options name; rejects (and closes what it bound) if one cannot be. */
  static async start(o: EndpointsOptions): Promise<Endpoints> {
    const e = new Endpoints(o);
    const wanted = new Map<string, { address: EndpointAddress; metrics: boolean; health: boolean }>();
    for (const [what, a] of [['metrics', o.metrics], ['health', o.health]] as const) {
      if (a === undefined) continue;
      const k = key(a);
      const w = wanted.get(k) ?? { address: a, metrics: false, health: false };
      w[what] = true;
      wanted.set(k, w);
    }
    try {
      for (const w of wanted.values()) await e.bind(w.address, w.metrics, w.health);
    } catch (err) {
      await e.close();
      throw err;
    }
    return e;
  }

  get all(): readonly Endpoint[] {
    return this.endpoints;
  }

  /** `/livez` answers 503 from now on (the master is going away); it is 200 until then. */
  stopLive(): void {
    this.livez = false;
  }

  private async bind(address: EndpointAddress, metrics: boolean, health: boolean): Promise<void> {
    const server = http.createServer({ requestTimeout: 5_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => this.answer(req, res, metrics, health));
    server.maxConnections = 64;
    server.maxHeadersCount = 64;
    if ('path' in address && fs.existsSync(address.path)) {
      if (!fs.lstatSync(address.path).isSocket()) throw new Error(`baton: ${address.path} exists and is not a socket: remove it or choose another path for ${metrics ? 'metrics' : 'health'}`);
      if (await alive(address.path)) throw Object.assign(new Error(`baton: ${address.path} is in use by another process (listen EADDRINUSE)`), { code: 'EADDRINUSE' });
      fs.unlinkSync(address.path); // a stale socket file nobody answers on
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if ('fd' in address) server.listen({ fd: address.fd }, done);
      else if ('path' in address) server.listen({ path: address.path }, done);
      else server.listen({ port: address.port, host: address.host }, done);
    });
    server.on('error', () => {
      // after listening: a failed accept; nothing to do, the listener goes on
    });
    const a = server.address();
    const shown = typeof a === 'string' ? a : a === null ? key(address) : `${a.address}:${a.port}`;
    this.endpoints.push({ serves: [metrics && 'metrics', health && 'health'].filter(Boolean).join('+'), server, address: shown });
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, metrics: boolean, health: boolean): void {
    const url = (req.url ?? '/').split('?')[0];
    const known = (metrics && url === '/metrics') || (health && (url === '/livez' || url === '/readyz'));
    if (!known) return this.send(res, req, 404, 'text/plain; charset=utf-8', `not found: ${metrics ? '/metrics' : ''}${metrics && health ? ', ' : ''}${health ? '/livez, /readyz' : ''} are served here\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.send(res, req, 405, 'text/plain; charset=utf-8', 'method not allowed: use GET\n');
    }
    if (url === '/metrics') {
      let text: string;
      try {
        text = this.o.render();
      } catch (err) {
        return this.send(res, req, 500, 'text/plain; charset=utf-8', `metrics failed: ${(err as Error).message}\n`);
      }
      return this.send(res, req, 200, this.o.contentType ?? 'text/plain; version=0.0.4; charset=utf-8', text);
    }
    if (url === '/livez') return this.livez ? this.send(res, req, 200, 'text/plain; charset=utf-8', 'ok\n') : this.send(res, req, 503, 'text/plain; charset=utf-8', 'stopping\n');
    const why = this.closed ? 'stopping' : this.o.notReady();
    if (why === undefined) return this.send(res, req, 200, 'text/plain; charset=utf-8', 'ready\n');
    return this.send(res, req, 503, 'text/plain; charset=utf-8', `not ready: ${why}\n`);
  }

  private send(res: http.ServerResponse, req: http.IncomingMessage, status: number, type: string, body: string): void {
    res.statusCode = status;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.setHeader('Cache-Control', 'no-store');
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Stops listening and closes every connection (idle keep-alive ones at once). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.livez = false;
    await Promise.all(this.endpoints.map((e) => new Promise<void>((resolve) => {
      e.server.close(() => resolve());
      e.server.closeIdleConnections();
      setTimeout(() => e.server.closeAllConnections(), 1_000).unref();
    })));
    this.endpoints.length = 0;
  }
}
