import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { Endpoints } from '../../../lib/observe/endpoints';
import { BatonMetrics } from '../../../lib/observe/metrics';
import { CONTENT_TYPE } from '../../../lib/observe/prometheus';
import { request } from '../../support/http-client';
import { parsePrometheus, sampleValue } from '../../support/prom-parse';
import { Lines, Pids, removeDir, tempDir } from '../../support/unit';

function portOf(e: Endpoints, i = 0): number {
  return (e.all[i]?.server.address() as net.AddressInfo).port;
}

describe('observe: endpoints (/metrics, /livez, /readyz)', () => {
  let e: Endpoints | undefined;
  let dir: string | undefined;
  const metrics = new BatonMetrics();
  metrics.addGeneration(1);
  let notReady: string | undefined;
  const pids = new Pids();
  const base = { render: () => metrics.render(), notReady: () => notReady };

  beforeEach(() => {
    notReady = undefined;
  });
  afterEach(async () => {
    pids.killAll();
    await e?.close();
    e = undefined;
    removeDir(dir);
    dir = undefined;
  });

  it('serves /metrics as Prometheus text 0.0.4 and /livez, /readyz on one listener when both are at one address', async () => {
    e = await Endpoints.start({ ...base, metrics: { port: 0, host: '127.0.0.1' }, health: { port: 0, host: '127.0.0.1' } });
    expect(e.all).to.have.length(1);
    expect(e.all[0]?.serves).to.equal('metrics+health');
    const port = portOf(e);
    const m = await request({ port }, '/metrics');
    expect(m.status).to.equal(200);
    expect(m.headers['content-type']).to.equal(CONTENT_TYPE);
    expect(sampleValue(parsePrometheus(m.body), 'baton_requests_total', { generation: '1', code: '2xx' })).to.equal(0);
    expect(m.headers['cache-control']).to.equal('no-store');
    expect((await request({ port }, '/livez')).status).to.equal(200);
    expect(await request({ port }, '/readyz')).to.deep.include({ status: 200, body: 'ready\n' });
    expect((await request({ port }, '/metrics?x=1')).status).to.equal(200);
  });

  it('answers /readyz 503 with the reason while no generation serves, 200 again once one does', async () => {
    e = await Endpoints.start({ ...base, health: { port: 0, host: '127.0.0.1' } });
    const port = portOf(e);
    notReady = 'no generation serves';
    expect(await request({ port }, '/readyz')).to.deep.include({ status: 503, body: 'not ready: no generation serves\n' });
    expect((await request({ port }, '/livez')).status, 'still alive').to.equal(200);
    notReady = undefined;
    expect((await request({ port }, '/readyz')).status).to.equal(200);
  });

  it('serves metrics and health on separate listeners, each only its own paths (404 otherwise)', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const hp = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));
    e = await Endpoints.start({ ...base, metrics: { port: 0, host: '127.0.0.1' }, health: { port: hp, host: '127.0.0.1' } });
    expect(e.all.map((x) => x.serves)).to.deep.equal(['metrics', 'health']);
    const mp = portOf(e, 0);
    expect(portOf(e, 1)).to.equal(hp);
    expect((await request({ port: mp }, '/metrics')).status).to.equal(200);
    expect(await request({ port: mp }, '/readyz')).to.deep.include({ status: 404, body: 'not found: /metrics are served here\n' });
    expect((await request({ port: hp }, '/readyz')).status).to.equal(200);
    expect(await request({ port: hp }, '/metrics')).to.deep.include({ status: 404, body: 'not found: /livez, /readyz are served here\n' });
  });

  it('answers HEAD without a body, 405 to other methods, 404 to other paths', async () => {
    e = await Endpoints.start({ ...base, metrics: { port: 0, host: '127.0.0.1' }, health: { port: 0, host: '127.0.0.1' } });
    const port = portOf(e);
    const head = await request({ port }, '/metrics', { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.body).to.equal('');
    expect(Number(head.headers['content-length'])).to.be.greaterThan(100);
    const post = await request({ port }, '/metrics', { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.allow).to.equal('GET, HEAD');
    expect((await request({ port }, '/')).status).to.equal(404);
    expect((await request({ port }, '/metricsx')).status).to.equal(404);
  });

  it('answers 500 with the reason when rendering throws, and goes on serving', async () => {
    let broken = true;
    e = await Endpoints.start({ render: () => { if (broken) throw new Error('boom'); return ''; }, notReady: () => undefined, metrics: { port: 0, host: '127.0.0.1' } });
    const port = portOf(e);
    expect(await request({ port }, '/metrics')).to.deep.include({ status: 500, body: 'metrics failed: boom\n' });
    broken = false;
    expect((await request({ port }, '/metrics')).status).to.equal(200);
  });

  it('serves on a UNIX socket path, replacing a stale socket file, refusing a live one or a plain file', async () => {
    dir = tempDir('baton-ep-');
    const sock = path.join(dir, 'metrics.sock');
    // a stale socket file: its server was SIGKILLed (closing a server unlinks its path; a kill does not)
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    pids.add(child.pid);
    await new Lines(child).wait(/^up$/);
    const gone = new Promise((r) => child.once('exit', r));
    process.kill(child.pid as number, 'SIGKILL');
    await gone;
    expect(fs.statSync(sock).isSocket()).to.equal(true);
    e = await Endpoints.start({ ...base, metrics: { path: sock } });
    expect((await request({ socketPath: sock }, '/metrics')).status).to.equal(200);
    // a second one on the same path: in use
    let err: unknown;
    await Endpoints.start({ ...base, metrics: { path: sock } }).catch((x: unknown) => (err = x));
    expect((err as NodeJS.ErrnoException)?.code).to.equal('EADDRINUSE');
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, 'x');
    await Endpoints.start({ ...base, health: { path: plain } }).then(() => expect.fail('bound over a plain file'), (x: Error) => expect(x.message).to.match(/is not a socket/));
    expect(fs.readFileSync(plain, 'utf8')).to.equal('x');
  });

  it('serves on a listening socket inherited at an fd (as a new master gets it)', async () => {
    const held = net.createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = (held.address() as net.AddressInfo).port;
    const fd = (held as unknown as { _handle: { fd: number } })._handle.fd;
    const lib = path.resolve(__dirname, '../../../lib/observe/endpoints.ts');
    const code = `
      const { Endpoints } = require(${JSON.stringify(lib)});
      Endpoints.start({ render: () => '', notReady: () => 'inherited', health: { fd: 3 } }).then(() => console.log('up'));`;
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], { stdio: ['ignore', 'pipe', 'inherit', fd] });
    pids.add(child.pid);
    const lines = new Lines(child);
    held.close(); // only the child's duplicate is left listening
    await lines.wait(/^up$/, 20_000);
    expect(await request({ port }, '/readyz')).to.deep.include({ status: 503, body: 'not ready: inherited\n' });
  });

  it('rejects when a port is taken, closing what it had bound', async () => {
    const other = net.createServer();
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as net.AddressInfo).port;
    try {
      let err: unknown;
      await Endpoints.start({ ...base, metrics: { port: 0, host: '127.0.0.1' }, health: { port, host: '127.0.0.1' } }).catch((x: unknown) => (err = x));
      expect((err as NodeJS.ErrnoException)?.code).to.equal('EADDRINUSE');
    } finally {
      other.close();
    }
  });

  it('closes idle keep-alive connections at close(), at once', async () => {
    e = await Endpoints.start({ ...base, health: { port: 0, host: '127.0.0.1' } });
    const port = portOf(e);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await request({ port }, '/readyz', { agent })).status).to.equal(200);
      const sockets = Object.values(agent.freeSockets).flat();
      expect(sockets).to.have.length(1);
      const closed = new Promise<void>((r) => sockets[0]?.once('close', () => r()));
      const t0 = Date.now();
      await e.close();
      await closed;
      expect(Date.now() - t0, 'closed at once, not after keepAliveTimeout').to.be.below(1_000);
      e = undefined;
    } finally {
      agent.destroy();
    }
  });
});
