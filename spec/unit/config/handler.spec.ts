// Framework mistakes caught in the master before any fork (lib/config/handler.ts): Koa, Fastify,
// an http.Server or a factory's result passed where a handler goes, each named with what to pass
// instead. Frameworks are recognised by shape, so these use small fakes of those shapes
// (spec/support/fakes/frameworks.ts). What a factory does: spec/unit/worker/mistakes.spec.ts.
import { expect } from 'chai';
import * as http from 'node:http';
import * as net from 'node:net';
import { handlerMistake } from '../../../lib/config/handler';
import { BatonOptionError, resolveApp, resolveOptions } from '../../../lib/config/options';
import { FASTIFY_WAY, fakeFastify, fakeKoa } from '../../support/fakes/frameworks';

function handlerError(v: unknown): string {
  try {
    resolveApp(v);
  } catch (err) {
    expect(err).to.be.instanceOf(BatonOptionError);
    return (err as Error).message;
  }
  throw new Error('resolveApp accepted it');
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
