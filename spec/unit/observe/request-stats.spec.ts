import { expect } from 'chai';
import * as sinon from 'sinon';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { bucketOf } from '../../../lib/observe/histogram';
import { RequestStats, isRequestDelta } from '../../../lib/observe/request-stats';
import { ConnectionTracker } from '../../../lib/worker/drain';
import { request } from '../../support/http-client';
import { waitFor } from '../../support/wait';

/**
 * Counts `server`'s requests as a worker does: each connection goes through a drain tracker,
 * which follows the requests of http and https servers and tells `stats` of each response.
 */
function countedByTracker(server: http.Server, stats: RequestStats): void {
  const tracker = new ConnectionTracker(1_000, undefined, stats);
  expect(tracker.watch(server), 'the tracker follows http servers').to.equal(true);
  tracker.watch(server); // twice: followed once
  server.prependListener('connection', (socket: net.Socket) => tracker.add(socket, server));
}

/** The status alone: the counting is by status class. */
async function get(port: number, p: string, agent: http.Agent): Promise<number> {
  return (await request({ port }, p, { agent })).status;
}

describe('observe: request stats (worker side)', () => {
  let server: http.Server | http2.Http2Server | undefined;
  let agent: http.Agent;
  /** Only performance.now() is faked: the handlers move it, so latency is whatever they say it was. */
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    clock = sinon.useFakeTimers({ toFake: ['performance'], now: 1_000 });
  });
  afterEach(async () => {
    clock.restore();
    agent.destroy();
    if (server) {
      (server as http.Server).closeAllConnections?.();
      await new Promise((r) => server?.close(r));
      server = undefined;
    }
  });

  async function start(s: http.Server | http2.Http2Server): Promise<number> {
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  }

  it('counts each response by status class and times it, from request to close', async () => {
    const stats = new RequestStats();
    const s = http.createServer((req, res) => {
      const code = Number((req.url ?? '/').slice(1)) || 200;
      clock.tick(code >= 500 ? 40 : 3); // a 5xx takes 40 ms, the rest 3 ms
      res.statusCode = code;
      res.end('x');
    });
    countedByTracker(s, stats);
    const port = await start(s);
    expect(stats.takeDelta()).to.equal(undefined);
    for (const p of ['/200', '/201', '/204', '/302', '/404', '/500', '/503', '/200']) await get(port, p, agent);
    await waitFor('8 responses counted', () => stats.counted === 8, 5_000, 10);
    const d = stats.takeDelta();
    expect(isRequestDelta(d)).to.equal(true);
    expect(d?.codes).to.deep.equal({ '2xx': 4, '3xx': 1, '4xx': 1, '5xx': 2 });
    expect(d?.aborted).to.equal(0);
    expect(d?.latency.n).to.equal(8);
    expect(d?.latency.sum).to.equal(6 * 3 + 2 * 40);
    expect(d?.latency.b).to.deep.equal([bucketOf(3), 6, bucketOf(40), 2]);
    expect(stats.takeDelta(), 'nothing new: no delta').to.equal(undefined);
    await get(port, '/200', agent);
    await waitFor('one more', () => stats.counted > 0, 5_000, 10);
    expect(stats.takeDelta()?.codes).to.deep.equal({ '2xx': 1 });
  });

  it('counts a request whose connection closes before the app answers as aborted, untimed', async () => {
    const stats = new RequestStats();
    let arrived = 0;
    const s = http.createServer((req, res) => {
      arrived++;
      if (req.url === '/hang') return; // never answered: the client gives up
      res.end('ok');
    });
    countedByTracker(s, stats);
    const port = await start(s);
    await new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/hang' });
      req.on('error', () => resolve());
      const t = setInterval(() => {
        if (arrived > 0) {
          clearInterval(t);
          req.destroy();
        }
      }, 5);
    });
    await waitFor('the aborted one counted', () => stats.counted > 0, 5_000, 10);
    expect(stats.takeDelta()).to.deep.equal({ codes: {}, aborted: 1, latency: { n: 0, sum: 0, b: [] } });
  });

  it('pipelined requests on one connection: each response counted once, in order; one left unanswered when the connection closes is aborted', async () => {
    const stats = new RequestStats();
    const s = http.createServer((req, res) => {
      if (req.url === '/hang') return;
      clock.tick(5);
      res.end(req.url);
    });
    countedByTracker(s, stats);
    const port = await start(s);
    const replies = await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1');
      let got = '';
      c.on('data', (d: Buffer) => {
        got += d.toString();
        if ((got.match(/HTTP\/1\.1 200/g) ?? []).length === 3) c.destroy(); // the fourth never comes
      });
      c.on('close', () => resolve(got));
      c.on('error', reject);
      c.write(['/a', '/b', '/c', '/hang'].map((u) => `GET ${u} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    });
    expect(replies.match(/\r\n\r\n\/[abc]/g)).to.deep.equal(['\r\n\r\n/a', '\r\n\r\n/b', '\r\n\r\n/c']);
    await waitFor('3 answered, 1 aborted', () => stats.counted === 4, 5_000, 10);
    const d = stats.takeDelta();
    expect(d?.codes).to.deep.equal({ '2xx': 3 });
    expect(d?.aborted).to.equal(1);
    expect(d?.latency.n).to.equal(3);
  });

  it('leaves the app its own request listeners and status codes', async () => {
    const stats = new RequestStats();
    const seen: string[] = [];
    const s = http.createServer();
    s.on('request', (req, res) => {
      seen.push(req.url as string);
      res.writeHead(418).end();
    });
    countedByTracker(s, stats);
    const port = await start(s);
    expect(await get(port, '/tea', agent)).to.equal(418);
    expect(seen).to.deep.equal(['/tea']);
    await waitFor('counted', () => stats.counted > 0, 5_000, 10);
    expect(stats.takeDelta()?.codes).to.deep.equal({ '4xx': 1 });
  });

  it('counts HTTP/2 requests (the compatibility API)', async () => {
    const stats = new RequestStats();
    const s = http2.createServer((req, res) => {
      clock.tick(7);
      res.statusCode = req.url === '/fail' ? 502 : 200;
      res.end('x');
    });
    stats.watch(s as unknown as import('node:net').Server);
    const port = await start(s);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      for (const p of ['/', '/fail', '/']) {
        await new Promise<void>((resolve, reject) => {
          const r = client.request({ ':path': p });
          r.on('error', reject);
          r.resume();
          r.on('end', () => resolve());
          r.end();
        });
      }
    } finally {
      client.close();
    }
    await waitFor('3 h2 responses counted', () => stats.counted === 3, 5_000, 10);
    const d = stats.takeDelta();
    expect(d?.codes).to.deep.equal({ '2xx': 2, '5xx': 1 });
    expect(d?.latency.sum).to.equal(21);
  });

  it('counts the responses to requests that arrived in the worker\'s first warmupMs (from its first request) apart, as its warm-up', async () => {
    const stats = new RequestStats(500);
    const s = http.createServer((req, res) => {
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end('x');
    });
    countedByTracker(s, stats);
    const port = await start(s);
    clock.tick(4_000); // a worker idle since its start is still cold: the warm-up runs from its first request
    await get(port, '/', agent); // the first: warm-up
    clock.tick(499);
    await get(port, '/fail', agent); // 499 ms after the first: warm-up
    clock.tick(1);
    await get(port, '/', agent); // 500 ms after: counted alone
    await waitFor('3 responses counted', () => stats.counted === 3, 5_000, 10);
    const d = stats.takeDelta();
    expect(isRequestDelta(d)).to.equal(true);
    expect(d?.codes).to.deep.equal({ '2xx': 2, '5xx': 1 });
    expect(d?.warm?.codes).to.deep.equal({ '2xx': 1, '5xx': 1 });
    expect(d?.warm?.latency.n).to.equal(2);
    clock.tick(3_500);
    await get(port, '/', agent);
    await waitFor('one more', () => stats.counted > 0, 5_000, 10);
    expect(stats.takeDelta()?.warm, 'after the warm-up: none').to.equal(undefined);
    // without a warm-up, never
    const none = new RequestStats();
    const s2 = http.createServer((_req, res) => res.end('x'));
    countedByTracker(s2, none);
    await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
    try {
      await get((s2.address() as AddressInfo).port, '/', agent);
      await waitFor('counted', () => none.counted > 0, 5_000, 10);
      expect(none.takeDelta()?.warm).to.equal(undefined);
    } finally {
      s2.closeAllConnections();
      await new Promise((r) => s2.close(r));
    }
  });

  for (const [label, d] of [
    ['null', null],
    ['a warm-up larger than the delta', { codes: { '2xx': 1 }, aborted: 0, latency: { n: 1, sum: 1, b: [0, 1] }, warm: { codes: { '2xx': 2 }, latency: { n: 2, sum: 2, b: [0, 2] } } }],
    ['a malformed warm-up', { codes: { '2xx': 1 }, aborted: 0, latency: { n: 1, sum: 1, b: [0, 1] }, warm: { codes: { '2xx': 1 }, latency: { n: 2, sum: 2, b: [0, 2] } } }],
    ['a warm-up that is not an object', { codes: { '2xx': 1 }, aborted: 0, latency: { n: 1, sum: 1, b: [0, 1] }, warm: 3 }],
    ['an unknown class', { codes: { '6xx': 1 }, aborted: 0, latency: { n: 1, sum: 1, b: [0, 1] } }],
    ['codes not matching the latency count', { codes: { '2xx': 2 }, aborted: 0, latency: { n: 1, sum: 1, b: [0, 1] } }],
    ['a negative aborted', { codes: {}, aborted: -1, latency: { n: 0, sum: 0, b: [] } }],
    ['bad histogram data', { codes: { '2xx': 1 }, aborted: 0, latency: { n: 1, sum: 1, b: [999, 1] } }],
  ] as Array<[string, unknown]>) {
    it(`rejects a delta with ${label}`, () => {
      expect(isRequestDelta(d)).to.equal(false);
    });
  }
});
