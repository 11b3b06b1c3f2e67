// Framework mistakes named (lib/config/handler.ts, lib/worker/mistakes.ts): Koa, Fastify and
// http.Server passed where a handler goes, factories that listen themselves or return the
// wrong thing, a Fastify that serves before it is ready, a port from the environment.
// Frameworks are recognised by shape, so the unit tests use small fakes of those shapes; the
// integration tests run the fixture's mistake modes in real workers and read the reason the
// master reports.
import { expect } from 'chai';
import * as http from 'node:http';
import * as net from 'node:net';
import { factoryResultMistake, handlerMistake } from '../../lib/config/handler';
import { explainCrash, forbidListen, ListenMistake, runFactory } from '../../lib/worker/mistakes';
import { BatonOptionError, resolveApp, resolveOptions } from '../../lib/config/options';
import { perTest, running, Server } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

const fakeKoa = (): Record<string, unknown> => ({ middleware: [], use() { return this; }, callback: () => () => undefined, context: {} });
const fakeFastify = (): Record<string, unknown> => ({ server: http.createServer(), listen: async () => '', ready: async () => undefined, inject: async () => undefined, register() { return this; } });
const FASTIFY_WAY = '{ createServer: async () => { await fastify.ready(); return fastify.server; } }';

function handlerError(v: unknown): string {
  try {
    resolveApp(v);
  } catch (err) {
    expect(err).to.be.instanceOf(BatonOptionError);
    return (err as Error).message;
  }
  throw new Error('resolveApp accepted it');
}

function closeAll(servers: net.Server[]): void {
  for (const s of servers.splice(0)) s.close();
}

describe('framework mistakes: the second argument of listen() (checked in the master, before any fork)', () => {
  const PREFIX = 'baton: option "handler" (the second argument of listen) must be a request listener (req, res) => {...} or { createServer: () => server }, ';

  it('a Koa application: pass app.callback()', () => {
    expect(handlerError(fakeKoa())).to.equal(`${PREFIX}got a Koa application: pass app.callback() (listen(options, app.callback())).`);
  });

  it('a Fastify instance: pass a factory that awaits ready() and returns fastify.server', () => {
    expect(handlerError(fakeFastify())).to.equal(`${PREFIX}got a Fastify instance: pass ${FASTIFY_WAY}.`);
  });

  it('an http.Server: pass { createServer: () => server } or its request listener; one already listening is told so too', async () => {
    const server = http.createServer();
    expect(handlerError(server)).to.equal(`${PREFIX}got an http.Server (or another net.Server): pass { createServer: () => server } to have baton feed that server without it ever listening, or pass its request listener (e.g. an Express app) itself.`);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      expect(handlerError(server)).to.contain('(it is listening already: remove that listen() call too, baton listens)');
    } finally {
      server.close();
    }
    expect(handlerError(net.createServer())).to.contain('got an http.Server (or another net.Server)');
  });

  it('a Promise (an async app factory called, not passed)', () => {
    const p = Promise.resolve(() => undefined);
    expect(handlerError(p)).to.equal(`${PREFIX}got a Promise: pass { createServer: async () => { ...; return server; } }, or await the promise before calling listen().`);
  });

  it('{ createServer } with other keys: give it alone', () => {
    expect(handlerError({ createServer: () => http.createServer(), port: 80 })).to.equal(`${PREFIX}got an object with "createServer", "port": give { createServer } alone.`);
  });

  it('anything else keeps the plain message; a function and { createServer } are accepted', () => {
    expect(handlerError({ handle: () => undefined })).to.equal(`${PREFIX}got an object.`);
    expect(handlerError(42)).to.equal(`${PREFIX}got 42.`);
    expect(handlerMistake({ callback: () => undefined, use: () => undefined })).to.equal(undefined); // no middleware array: not Koa
    expect(handlerMistake({ server: {}, listen() {}, ready() {}, inject() {} })).to.equal(undefined); // no net.Server: not Fastify
    expect(resolveApp(() => undefined).kind).to.equal('handler');
    expect(resolveApp({ createServer: () => http.createServer() }).kind).to.equal('factory');
  });

  it('a listener\'s own handler gets the same diagnosis', () => {
    let caught: unknown;
    try {
      resolveOptions({ listeners: [{ name: 'web', port: 0, handler: fakeKoa() as never }] });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(BatonOptionError);
    expect((caught as BatonOptionError).option).to.equal('listeners[0].handler');
    expect((caught as Error).message).to.contain('must be a request listener (req, res) => {...}, got a Koa application: pass app.callback()');
  });
});

describe('framework mistakes: what a factory does (lib/worker/mistakes.ts, in this process)', () => {
  const opened: net.Server[] = [];
  afterEach(() => closeAll(opened));

  it('names what a factory returned instead of a server', () => {
    expect(factoryResultMistake(fakeFastify())).to.equal(`returned a Fastify instance: return its server once it is ready: ${FASTIFY_WAY}.`);
    expect(factoryResultMistake(fakeKoa())).to.contain('returned a Koa application: return http.createServer(app.callback())');
    expect(factoryResultMistake(() => undefined)).to.contain('returned a function (an Express app or a request listener?): return http.createServer(app)');
    expect(factoryResultMistake({})).to.equal(undefined);
  });

  it('a factory that calls listen() on the server it returns, at once (server.listen(0), app.listen())', async () => {
    const err = await runFactory(() => {
      const s = http.createServer();
      opened.push(s);
      return s.listen(0, '127.0.0.1');
    }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ListenMistake);
    expect((err as Error).message).to.match(/^baton: createServer\(\) called listen\(\) on the server it returned \(fastify\.listen\(\), app\.listen\(\) or server\.listen\(\)\)\. baton listens on the sockets and feeds the server its connections: return the server without calling listen\(\)\. For Fastify: /);
  });

  it('a factory that awaits a listen() that fails (fastify.listen() on baton\'s own port: EADDRINUSE)', async () => {
    const taken = http.createServer();
    opened.push(taken);
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    const err = await runFactory(async () => {
      const s = http.createServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', resolve);
      });
      return s;
    }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ListenMistake);
    expect((err as Error).message).to.contain(`baton: createServer() called listen() (fastify.listen(), app.listen() or server.listen()), which failed: listen EADDRINUSE: address already in use 127.0.0.1:${port}. baton listens`);
  });

  it('leaves other servers alone: one the factory listens on and does not return, and every error that is not a listen error', async () => {
    const before = net.Server.prototype.listen;
    let metrics: net.Server | undefined;
    const served = await runFactory(() => {
      metrics = http.createServer().listen(0, '127.0.0.1');
      opened.push(metrics);
      return http.createServer();
    });
    expect(served).to.be.instanceOf(http.Server);
    await waitFor('the other server listening', () => metrics?.listening);
    const boom = new Error('no database');
    expect(await runFactory(() => Promise.reject(boom)).then(() => undefined, (e: unknown) => e)).to.equal(boom);
    // listen() is the prototype's own again
    expect(Object.prototype.hasOwnProperty.call(http.createServer(), 'listen')).to.equal(false);
    expect(net.Server.prototype.listen).to.equal(before);
  });

  it('restores net.Server.prototype.listen even when the factory throws', async () => {
    const before = net.Server.prototype.listen;
    await runFactory(() => {
      expect(net.Server.prototype.listen).to.not.equal(before);
      throw new Error('x');
    }).catch(() => undefined);
    expect(net.Server.prototype.listen).to.equal(before);
  });

  it('a listen() on the returned server after the factory returned (fastify.listen() not awaited) throws, saying why', async () => {
    const s = (await runFactory(() => http.createServer())) as http.Server;
    expect(() => s.listen(0)).to.throw(ListenMistake, /^baton: listen\(\) was called on the server baton serves \(fastify\.listen\(\), app\.listen\(\) or server\.listen\(\), after createServer\(\) returned it\)\. baton listens/);
    expect(s.listening).to.equal(false);
    const other = http.createServer();
    forbidListen(other);
    expect(() => other.listen(0)).to.throw(ListenMistake);
  });

  it('explains a crash thrown through Fastify\'s request entry (a Fastify serving before ready); nothing else', () => {
    const fastifyServer = http.createServer(function preRouting() { /* Fastify's */ });
    const plain = http.createServer(() => undefined);
    const crash = new TypeError("Cannot read properties of undefined (reading 'length')");
    crash.stack = `${crash.message}\n    at next (/app/node_modules/fastify/lib/hooks.js:341:32)\n    at Server.preRouting (/app/node_modules/fastify/fastify.js:849:14)`;
    const hint = `baton: this is what Fastify throws when it serves before it is ready: return fastify.server only after await fastify.ready(), as in ${FASTIFY_WAY}`;
    expect(explainCrash(crash, [fastifyServer])).to.equal(`${crash.stack}\n${hint}`);
    expect(explainCrash(crash, [plain])).to.equal(crash.stack);
    const other = new Error('a bug of the app');
    expect(explainCrash(other, [fastifyServer])).to.equal(other.stack);
    expect(explainCrash('a string', [fastifyServer])).to.equal('a string');
  });
});

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
