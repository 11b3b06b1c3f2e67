// What a user may pass as the app, and what to write instead when it is something else.
//
// baton accepts a request listener or `{ createServer }` (a factory returning the server baton
// feeds the connections it accepts). Frameworks make other things easy to pass: a Koa
// application, a Fastify instance, an http.Server, a Promise. baton recognises them by shape
// (no framework is loaded or required) and names them with what to write instead: the handler
// in the master before anything is forked (lib/config/listeners.ts), what a factory returned
// in the worker, whose start then fails with the reason (lib/worker/worker.ts). What a
// factory does while it runs (a listen() call) is lib/worker/mistakes.ts.
import * as net from 'node:net';
import { plainObject } from './rules';

/** What a Fastify user writes instead: the server, once Fastify is ready. */
export const FASTIFY_FACTORY = 'createServer: async () => { await fastify.ready(); return fastify.server; }';

/** A Koa application: `callback()`, `use()` and its `middleware` array. */
export function isKoa(v: unknown): boolean {
  return plainObject(v) && typeof v.callback === 'function' && typeof v.use === 'function' && Array.isArray(v.middleware);
}

/** A Fastify instance: its `server`, `listen()`, `ready()` and `inject()`. */
export function isFastify(v: unknown): boolean {
  return plainObject(v) && v.server instanceof net.Server && typeof v.listen === 'function'
    && typeof v.ready === 'function' && typeof v.inject === 'function';
}

/**
 * What the second argument of listen() (or a listener's `handler`) most likely is, when it is
 * neither a request listener nor `{ createServer }`, with what to write instead; else undefined.
 */
export function handlerMistake(v: unknown): string | undefined {
  if (isKoa(v)) return 'got a Koa application: pass app.callback() (listen(options, app.callback())).';
  if (isFastify(v)) return `got a Fastify instance: pass { ${FASTIFY_FACTORY} }.`;
  if (v instanceof net.Server) {
    const listening = v.listening ? ' (it is listening already: remove that listen() call too, baton listens)' : '';
    return `got an http.Server (or another net.Server)${listening}: pass { createServer: () => server } to have baton feed that server without it ever listening, or pass its request listener (e.g. an Express app) itself.`;
  }
  if (plainObject(v) && typeof v.then === 'function') return 'got a Promise: pass { createServer: async () => { ...; return server; } }, or await the promise before calling listen().';
  if (plainObject(v) && typeof v.createServer === 'function') {
    return `got an object with ${Object.keys(v).map((k) => `"${k}"`).join(', ')}: give { createServer } alone.`;
  }
  return undefined;
}

/** What a factory returned instead of a net.Server, with what to write instead; else undefined. */
export function factoryResultMistake(v: unknown): string | undefined {
  if (isFastify(v)) return `returned a Fastify instance: return its server once it is ready: { ${FASTIFY_FACTORY} }.`;
  if (isKoa(v)) return 'returned a Koa application: return http.createServer(app.callback()), or pass app.callback() as the handler instead of createServer.';
  if (typeof v === 'function') return 'returned a function (an Express app or a request listener?): return http.createServer(app), or pass the function itself as the handler instead of createServer.';
  return undefined;
}
