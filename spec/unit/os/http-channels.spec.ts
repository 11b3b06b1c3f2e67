// lib/os/http-channels.ts: requests and responses from Node's diagnostics channels. Fails the
// day Node stops publishing them (or publishes after the app's handler ran).
import { expect } from 'chai';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { watchHttp, type HttpWatcher } from '../../../lib/os/http-channels';
import { request } from '../../support/http-client';
import { waitFor } from '../../support/wait';

describe('http channels (lib/os/http-channels.ts)', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      (s as http.Server).closeAllConnections?.();
      await new Promise((r) => s.close(r));
    }
  });

  it('tells a watcher of each request before the app sees it, and of its response once finished, with the socket and a clock reading', async () => {
    const seen: string[] = [];
    const w: HttpWatcher = {
      started: (req, res, socket, t) => {
        seen.push(`start ${req.url} ${socket instanceof net.Socket} ${typeof t}`);
        res.setHeader('x-watched', 'yes'); // before the handler: it may still set a header
      },
      finished: (res, _socket: Socket, t) => seen.push(`finish ${res.statusCode} ${typeof t}`),
    };
    const s = http.createServer((req, res) => {
      seen.push(`handler ${req.url} ${String(res.getHeader('x-watched'))}`);
      res.end('ok');
    });
    servers.push(s);
    expect(watchHttp(s, w)).to.equal(true);
    expect(watchHttp(s, w), 'twice: watched once').to.equal(true);
    // another server nobody watches: its requests tell nobody
    const other = http.createServer((_req, res) => res.end('other'));
    servers.push(other);
    for (const srv of [s, other]) await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    for (const srv of [s, other]) await request({ port: (srv.address() as AddressInfo).port }, '/a');
    await waitFor('finished', () => seen.length >= 3, 5_000, 10);
    expect(seen).to.deep.equal(['start /a true number', 'handler /a yes', 'finish 200 number']);
  });

  it('declines servers that do not publish there: http2 and raw net (their callers follow them otherwise)', () => {
    const w: HttpWatcher = { started: () => undefined, finished: () => undefined };
    expect(watchHttp(http2.createServer(), w)).to.equal(false);
    expect(watchHttp(net.createServer(), w)).to.equal(false);
  });
});
