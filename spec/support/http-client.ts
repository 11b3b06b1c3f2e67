// The specs' one HTTP client: a single request to a server under test (a TCP port or a UNIX
// socket, plain or TLS), read to the end, with a timeout so that a server that never answers
// fails the test instead of hanging it. It reports what the tests look at: the status, the
// headers, the body, the body parsed when it is a JSON object, and whether the server said it
// would close the connection.
import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface Target {
  /** 127.0.0.1 unless said. */
  host?: string;
  port?: number;
  socketPath?: string;
  /** HTTPS; the server's certificate is accepted whoever signed it (the specs make their own). */
  tls?: boolean;
}

export interface RequestOptions {
  /** GET unless said. */
  method?: string;
  /** No agent (a connection of its own, closed after) unless one is given. */
  agent?: http.Agent | false;
  /** 5 s unless said. */
  timeoutMs?: number;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed, when it is a JSON object (the fixture apps answer one). */
  json: Record<string, unknown> | undefined;
  /** The response said `Connection: close` (a drain, or a connection shed for fairness). */
  closed: boolean;
  /** With `tls`: the SHA-256 fingerprint of the certificate the server presented. */
  fingerprint?: string;
}

function jsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function request(target: Target, pathname = '/', opts: RequestOptions = {}): Promise<Reply> {
  const { tls, ...where } = target;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const options: https.RequestOptions = {
    ...where,
    host: where.host ?? '127.0.0.1',
    path: pathname,
    method: opts.method ?? 'GET',
    agent: opts.agent ?? false,
    timeout: timeoutMs,
    ...(tls === true ? { rejectUnauthorized: false } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (tls === true ? https : http).request(options, (res) => {
      // read now: the socket is detached from the response once it is done
      const fingerprint = tls === true ? (res.socket as TLSSocket).getPeerCertificate().fingerprint256 : undefined;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: jsonObject(body),
          closed: res.headers.connection === 'close',
          ...(fingerprint !== undefined ? { fingerprint } : {}),
        });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request timeout after ${timeoutMs} ms: ${req.method} ${pathname}`)));
    req.on('error', reject);
    req.end();
  });
}
