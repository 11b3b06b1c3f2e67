// Which listener a connection came in on. The drain tracker's record of each connection
// the worker accepts holds the listener's name (lib/worker/connection.ts), and the raw
// socket and its TLSSocket point to that record; what else the app's server builds on top
// of a connection (the Http2Session of an http2 server) is tagged here. listenerOf() finds
// the name from whatever the app holds: a request, a socket, a session or a stream.
import type { Socket } from 'node:net';
import { connOf } from './connection';

/** The listener of what a server built on a connection (an Http2Session), set by the drain tracker. */
export const tags = new WeakMap<object, string>();

/** What `read` returns, or undefined if it throws (an http2 socket proxy does once its session is gone). */
function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** The listener of a tagged object, or of a connection's socket (from the tracker's record). */
function tagOf(o: object): string | undefined {
  return tags.get(o) ?? safely(() => connOf(o as Socket)?.listener);
}

function field(o: object, key: string): unknown {
  return safely(() => (o as Record<string, unknown>)[key]);
}

/**
 * The name of the listener `x` came in on: `x` is a request (http, https, http2), a socket
 * (net, TLS), an Http2Session or an Http2Stream. Undefined for anything else, and in the master.
 */
export function listenerOf(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const direct = tagOf(x);
  if (direct !== undefined) return direct;
  for (const key of ['session', 'stream', 'socket'] as const) {
    const inner = field(x, key);
    if (typeof inner !== 'object' || inner === null) continue;
    const found = tagOf(inner) ?? (key === 'stream' ? listenerOf(field(inner, 'session')) : undefined);
    if (found !== undefined) return found;
  }
  return undefined;
}
