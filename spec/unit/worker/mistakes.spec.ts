// What a factory does, in this process (lib/worker/mistakes.ts): one that listens itself is
// refused, one that returns the wrong thing is named, and a crash thrown through a Fastify that
// serves before it is ready is explained. The mistakes in real workers:
// spec/integration/mistakes.spec.ts.
import { expect } from 'chai';
import * as http from 'node:http';
import * as net from 'node:net';
import { factoryResultMistake } from '../../../lib/config/handler';
import { explainCrash, forbidListen, ListenMistake, runFactory } from '../../../lib/worker/mistakes';
import { waitFor } from '../../support/wait';
import { FASTIFY_WAY, fakeFastify, fakeKoa } from '../../support/fakes/frameworks';

function closeAll(servers: net.Server[]): void {
  for (const s of servers.splice(0)) s.close();
}

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
