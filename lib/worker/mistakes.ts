// Framework mistakes a worker finds while it runs the app, named with what to write instead:
// a server factory that calls listen() (fastify.listen(), app.listen()), a listen() on the
// server baton serves, a Fastify that serves before it is ready. They fail the worker's start
// with the reason (which the master reports as the reason its start, reload or upgrade
// failed), or add a hint to its crash. What the user passed as the handler, and what a factory
// returned, are checked by shape in lib/config/handler.ts.
import * as net from 'node:net';
import { FASTIFY_FACTORY } from '../config/handler';

const LISTEN_ADVICE = 'baton listens on the sockets and feeds the server its connections: return the server without calling listen(). '
  + `For Fastify: { ${FASTIFY_FACTORY} }; for Express or Koa: return http.createServer(app) or http.createServer(app.callback()).`;

export class ListenMistake extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenMistake';
  }
}

/**
 * Runs a server factory, noting which servers call listen() meanwhile (net.Server.prototype.listen
 * is wrapped while it runs; calls go through unchanged). Throws a ListenMistake when the server
 * it returns is one of them (or when the factory failed with a listen error after a listen()
 * call: fastify.listen() on baton's own port fails with EADDRINUSE). From then on, listen() on
 * the server it returned throws (forbidListen).
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

/** An error as Node prints it: its stack, else its message; anything thrown that is not an Error, as a string. */
export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/**
 * An uncaught error's text, with a hint when it names a known mistake: an error thrown
 * through Fastify's request entry (`preRouting`) is what a Fastify that serves before
 * `ready()` throws at its first request (once ready, Fastify catches what a route throws).
 */
export function explainCrash(err: unknown, servers: Iterable<net.Server>): string {
  const text = errorText(err);
  const fastify = [...servers].some((s) => s.listeners('request').some((l) => (l as { name?: string }).name === 'preRouting'));
  if (fastify && /\bpreRouting\b/.test(text)) {
    return `${text}\nbaton: this is what Fastify throws when it serves before it is ready: return fastify.server only after await fastify.ready(), as in { ${FASTIFY_FACTORY} }`;
  }
  return text;
}
