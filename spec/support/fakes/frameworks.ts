// Frameworks as baton recognises them, by shape: a Koa app and a Fastify instance, just enough to
// be taken for one; and the way baton's messages tell to pass a Fastify.
import * as http from 'node:http';

export const fakeKoa = (): Record<string, unknown> => ({ middleware: [], use() { return this; }, callback: () => () => undefined, context: {} });
export const fakeFastify = (): Record<string, unknown> => ({ server: http.createServer(), listen: async () => '', ready: async () => undefined, inject: async () => undefined, register() { return this; } });
export const FASTIFY_WAY = '{ createServer: async () => { await fastify.ready(); return fastify.server; } }';
