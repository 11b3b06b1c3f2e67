// Framework mistakes, named: what a user most likely passed or did, and what to write instead.
//
// baton accepts a request listener or `{ createServer }` and feeds the server it builds the
// connections it accepts. Frameworks make other things easy to pass: a Koa application, a
// Fastify instance, an http.Server, a server whose listen() the factory already called
// (fastify.listen(), app.listen()). baton recognises them by shape (no framework is loaded
// or required) and says what to write instead, in the master before anything is forked when
// it can, else by failing the worker's start with the reason (which the master reports as
// the reason its start, reload or upgrade failed).
//
// A factory's listen() calls are seen by wrapping net.Server.prototype.listen while the
// factory runs (calls go through unchanged; the wrapper only notes which server called), and
// by replacing listen() on the server baton serves once it has it (nothing may listen it).
import * as net from 'node:net';

const FASTIFY_FACTORY = 'createServer: async () => { await fastify.ready(); return fastify.server; }';
const KOA_HANDLER = 'app.callback() (listen(options, app.callback()))';

type Shape = Record<string, unknown>;

function isObject(v: unknown): v is Shape {
  return typeof v === 'object' && v !== null;
}

/** A Koa application: `callback()`, `use()` and its `middleware` array. */
export function isKoa(v: unknown): boolean {
  return isObject(v) && typeof v.callback === 'function' && typeof v.use === 'function' && Array.isArray(v.middleware);
}

/** A Fastify instance: its `server`, `listen()`, `ready()` and `inject()`. */
export function isFastify(v: unknown): boolean {
  return isObject(v) && v.server instanceof net.Server && typeof v.listen === 'function'
    && typeof v.ready === 'function' && typeof v.inject === 'function';
}

function isThenable(v: unknown): boolean {
  return isObject(v) && typeof v.then === 'function';
}

/**
 * What the second argument of listen() (or a listener's `handler`) most likely is, when it is
 * neither a request listener nor `{ createServer }`, with what to write instead; else undefined.
 */
export function handlerMistake(v: unknown): string | undefined {
  if (isKoa(v)) return `got a Koa application: pass ${KOA_HANDLER}.`;
  if (isFastify(v)) return `got a Fastify instance: pass { ${FASTIFY_FACTORY} }.`;
  if (v instanceof net.Server) {
    const listening = v.listening ? ' (it is listening already: remove that listen() call too, baton listens)' : '';
    return `got an http.Server (or another net.Server)${listening}: pass { createServer: () => server } to have baton feed that server without it ever listening, or pass its request listener (e.g. an Express app) itself.`;
  }
  if (isThenable(v)) return 'got a Promise: pass { createServer: async () => { ...; return server; } }, or await the promise before calling listen().';
  if (isObject(v) && typeof v.createServer === 'function') {
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

const LISTEN_ADVICE = 'baton listens on the sockets and feeds the server its connections: return the server without calling listen(). '
  + `For Fastify: { ${FASTIFY_FACTORY} }; for Express or Koa: return http.createServer(app) or http.createServer(app.callback()).`;

export class ListenMistake extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenMistake';
  }
}

/**
 * Runs a server factory, noting which servers call listen() meanwhile. Throws a ListenMistake
 * when the server it returns is one of them (or when the factory failed with a listen error
 * after a listen() call: fastify.listen() on baton's own port fails with EADDRINUSE). From
 * then on, listen() on the server it returned throws (forbidListen).
 */
export async function runFactory(factory: () => unknown): Promise<unknown> {
  const listened = new Set<net.Server>();
  const proto = net.Server.prototype;
  const original = proto.listen;
  const wrapper = function listen(this: net.Server, ...args: unknown[]): net.Server {
    listened.add(this);
    return (original as (...a: unknown[]) => net.Server).apply(this, args);
  };
  proto.listen = wrapper as typeof proto.listen;
  let result: unknown;
  try {
    result = await factory();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (listened.size > 0 && (e?.syscall === 'bind' || e?.syscall === 'listen')) {
      throw new ListenMistake(`baton: createServer() called listen() (fastify.listen(), app.listen() or server.listen()), which failed: ${e.message}. ${LISTEN_ADVICE}`);
    }
    throw err;
  } finally {
    // only undo our own wrapper (something else may have wrapped it meanwhile)
    if (proto.listen === (wrapper as typeof proto.listen)) proto.listen = original;
  }
  if (result instanceof net.Server) {
    if (listened.has(result) || result.listening) {
      throw new ListenMistake(`baton: createServer() called listen() on the server it returned (fastify.listen(), app.listen() or server.listen()). ${LISTEN_ADVICE}`);
    }
    forbidListen(result); // at once: a fastify.listen() not awaited calls it a moment later
  }
  return result;
}

/** From now on, listen() on the server baton serves throws, saying why (a fastify.listen() not awaited). */
export function forbidListen(server: net.Server): void {
  Object.defineProperty(server, 'listen', {
    configurable: true,
    writable: true,
    value: function listen(): never {
      throw new ListenMistake(`baton: listen() was called on the server baton serves (fastify.listen(), app.listen() or server.listen(), after createServer() returned it). ${LISTEN_ADVICE}`);
    },
  });
}

/** A server Fastify built: its request listener is Fastify's router entry, `preRouting`. */
function isFastifyServer(server: net.Server): boolean {
  return server.listeners('request').some((l) => (l as { name?: string }).name === 'preRouting');
}

/**
 * An uncaught error's text, with a hint when it names a known mistake: an error thrown
 * through Fastify's request entry (`preRouting`) is what a Fastify that serves before
 * `ready()` throws at its first request (once ready, Fastify catches what a route throws).
 */
export function explainCrash(err: unknown, servers: Iterable<net.Server>): string {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const fastify = [...servers].some(isFastifyServer);
  if (fastify && /\bpreRouting\b/.test(text)) {
    return `${text}\nbaton: this is what Fastify throws when it serves before it is ready: return fastify.server only after await fastify.ready(), as in { ${FASTIFY_FACTORY} }`;
  }
  return text;
}
