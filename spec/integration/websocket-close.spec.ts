// WebSockets at a drain, with a real client (Node's global WebSocket, 22+) against the multi
// fixture's WebSocket endpoint (a real RFC 6455 handshake, no library; it ends the TCP
// connection when the client's Close frame arrives, as ws does). Without a `drain` handler the
// app's WebSockets are sent 1001 "going away" when their worker drains (option closeWebSockets,
// lib/worker/websocket-close.ts); with one, baton leaves them to the app; with the option off,
// they stay until drainTimeout.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { AppDir, MULTI_FIXTURE, Server } from '../support/harness';
import { waitFor } from '../support/wait';

interface Closed { code: number; reason: string; wasClean: boolean; at: number }

/** A WebSocket client, open, and what its close said. */
async function connect(port: number): Promise<{ ws: WebSocket; closed: () => Closed | undefined }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/live`);
  let closed: Closed | undefined;
  ws.addEventListener('close', (e) => {
    closed = { code: e.code, reason: e.reason, wasClean: e.wasClean, at: Date.now() };
  });
  ws.addEventListener('error', () => undefined);
  await waitFor('the WebSocket to open', () => ws.readyState === WebSocket.OPEN || closed !== undefined, 10_000);
  expect(ws.readyState, `opened (closed: ${JSON.stringify(closed)})`).to.equal(WebSocket.OPEN);
  return { ws, closed: () => closed };
}

function writeRelease(dir: AppDir, version: string): void {
  fs.writeFileSync(dir.file('release.json'), JSON.stringify({ version, listeners: [{ name: 'web', kind: 'http', host: '127.0.0.1', port: 0 }] }));
}

describe('WebSockets at a drain (integration, Node\'s WebSocket client)', function () {
  this.timeout(60_000);
  let dir: AppDir;
  let server: Server | undefined;
  const sockets: WebSocket[] = [];

  beforeEach(() => {
    dir = new AppDir(MULTI_FIXTURE);
  });
  afterEach(() => {
    for (const ws of sockets.splice(0)) ws.close();
    server?.kill();
    server = undefined;
    dir.remove();
  });

  async function start(env: Record<string, string>): Promise<number> {
    writeRelease(dir, 'v1');
    server = new Server(dir, { WORKERS: '2', READY_TIMEOUT: '30000', ...env });
    await server.waitEvent('serving', 1, 30_000);
    return (await server.waitEvent('listening', 1, 10_000, (e) => e.name === 'web')).port as number;
  }

  /** Opens `n` WebSockets, reloads, and returns how each was closed (waiting at most `waitMs`). */
  async function reloadWith(port: number, n: number, waitMs: number): Promise<Array<Closed | undefined>> {
    const s = server as Server;
    const clients: Array<{ ws: WebSocket; closed: () => Closed | undefined }> = [];
    for (let i = 0; i < n; i++) {
      const c = await connect(port);
      sockets.push(c.ws);
      clients.push(c);
    }
    await s.waitEvent('ws-open', n);
    writeRelease(dir, 'v2');
    process.kill(s.pid, 'SIGHUP');
    await waitFor('every WebSocket to close', () => clients.every((c) => c.closed() !== undefined), waitMs);
    return clients.map((c) => c.closed());
  }

  it('no drain handler: a reload sends every WebSocket 1001 "going away" at once; the clients reconnect to the new generation; nothing is forced', async () => {
    const port = await start({ DRAIN_TIMEOUT: '20000' });
    const s = server as Server;
    const t0 = Date.now();
    const closes = await reloadWith(port, 3, 10_000);
    for (const c of closes) {
      expect(c).to.deep.include({ code: 1001, reason: 'going away', wasClean: true });
      expect((c as Closed).at - t0, 'long before drainTimeout').to.be.below(10_000);
    }
    if (process.env.BATON_SPEC_VERBOSE) process.stderr.write(`      closed ${closes.map((c) => `${(c as Closed).at - t0} ms`).join(', ')} after the SIGHUP\n`);
    await s.waitEvent('generation-drained', 1, 10_000, (e) => e.generation === 1);
    expect(s.count('drain-forced'), s.stderr.slice(-2000)).to.equal(0);
    // a client reconnecting lands on the new generation
    const again = await connect(port);
    sockets.push(again.ws);
    const opened = await s.waitEvent('ws-open', 4);
    const newWorkers = s.events.filter((e) => e.ev === 'worker-ready' && e.generation === 2).map((e) => e.pid);
    expect(newWorkers).to.include(opened.worker);
  });

  it('with the app\'s own drain handler, baton sends nothing: the client gets the app\'s close (4000 "app says bye")', async () => {
    const port = await start({ DRAIN_TIMEOUT: '20000', WS_POLITE: '1' });
    const closes = await reloadWith(port, 2, 10_000);
    for (const c of closes) expect(c).to.deep.include({ code: 4000, reason: 'app says bye' });
  });

  it('closeWebSockets: false: nothing is sent; the WebSocket stays open until drainTimeout, which cuts it (1006)', async () => {
    const port = await start({ DRAIN_TIMEOUT: '1500', CLOSE_WEBSOCKETS: '0' });
    const s = server as Server;
    const closes = await reloadWith(port, 1, 15_000);
    expect(closes[0]).to.deep.include({ code: 1006, wasClean: false });
    const forced = await s.waitEvent('drain-forced', 1, 10_000);
    expect(forced).to.be.an('object');
  });
});
