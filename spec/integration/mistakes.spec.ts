// Framework mistakes in real workers (lib/config/handler.ts, lib/worker/mistakes.ts): factories
// that listen themselves, a Fastify that serves before it is ready, a port from the environment.
// These run the fixture's mistake modes and read the reason the master reports; the same mistakes
// named in this process, with small fakes of the frameworks' shapes:
// spec/unit/config/handler.spec.ts, spec/unit/worker/mistakes.spec.ts.
import { expect } from 'chai';
import * as net from 'node:net';
import { perTest, running, Server } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

describe('framework mistakes in real workers (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  /** Serves v0, reloads to a release with `mode`, returns the reason the reload failed. */
  async function reloadFails(mode: 'factory-listens' | 'fastify-listens' | 'fastify-listens-later', port?: number): Promise<string> {
    t.dir.release({ version: 'mistake', mode, port });
    process.kill(t.server!.pid, 'SIGHUP');
    const failed = await t.server!.waitEvent('reload-failed', 1, 15_000);
    expect((await request({ port: await t.server!.port() })).json?.version).to.equal('v0');
    return failed.reason as string;
  }

  it('a first start whose factory calls server.listen(0) fails, naming the mistake (it used to serve, with a second, hidden listener)', async () => {
    t.dir.release({ version: 'mistake', mode: 'factory-listens' });
    t.server = new Server(t.dir, { WORKERS: '1' });
    await waitFor('master exit', () => t.server?.exitCode !== undefined, 15_000);
    expect(t.server.exitCode).to.equal(1);
    expect(t.server.count('serving')).to.equal(0);
    expect(t.server.stderr).to.match(/start-failed: generation 1 failed to start: ListenMistake: baton: createServer\(\) called listen\(\) on the server it returned/);
  });

  it('a reload whose factory awaits fastify.listen() on baton\'s own port fails with the mistake, not a bare EADDRINUSE', async () => {
    t.server = new Server(t.dir, { WORKERS: '1' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const reason = await reloadFails('fastify-listens', port);
    expect(reason).to.contain(`baton: createServer() called listen() (fastify.listen(), app.listen() or server.listen()), which failed: bind EADDRINUSE 127.0.0.1:${port}. baton listens on the sockets and feeds the server its connections`);
    expect(reason).to.contain('For Fastify: { createServer: async () => { await fastify.ready(); return fastify.server; } }');
  });

  it('a reload whose factory calls fastify.listen() without awaiting it fails with the mistake', async () => {
    t.server = new Server(t.dir, { WORKERS: '1', PROBATION: '2000' });
    await t.server.waitEvent('serving');
    const reason = await reloadFails('fastify-listens-later');
    expect(reason).to.contain('baton: listen() was called on the server baton serves (fastify.listen(), app.listen() or server.listen(), after createServer() returned it)');
  });

  it('a Fastify server returned before ready(): its first request kills the worker, and the master says why', async () => {
    t.dir.release({ version: 'mistake', mode: 'fastify-not-ready' });
    t.server = new Server(t.dir, { WORKERS: '1' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const worker = (await t.server.waitEvent('worker-ready')).pid as number;
    await request({ port }).then(() => undefined, () => undefined); // the connection dies with the worker
    await waitFor('the worker died', () => !running(worker), 10_000);
    await waitFor(() => `the master's reason\n${t.server?.stderr}`, () => /worker-died: worker \d+ exited unexpectedly \(code 1\): TypeError: Cannot read properties of undefined \(reading 'length'\).*baton: this is what Fastify throws when it serves before it is ready: return fastify.server only after await fastify.ready\(\)/.test(t.server?.stderr ?? ''), 10_000);
  });

  it('port: process.env.PORT (a string) serves on that port', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));
    t.server = new Server(t.dir, { PORT: String(port), PORT_RAW: '1', WORKERS: '1' });
    expect(await t.server.port()).to.equal(port);
    await t.server.waitEvent('serving');
    expect((await request({ port })).json?.version).to.equal('v0');
  });

  it('port: process.env.PORT that is not a number stops the master before anything is forked', async () => {
    t.server = new Server(t.dir, { PORT: 'http', PORT_RAW: '1' });
    await waitFor('master exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(1);
    expect(t.server.stderr).to.contain('baton: option "port" must be an integer from 0 to 65535, or a string of digits such as "8080" (as environment variables are), got "http".');
    expect(t.server.events).to.deep.equal([]);
  });
});
