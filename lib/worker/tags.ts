// Which listener a connection came in on. The worker tags each socket the master hands
// it with the listener's name; the drain tracker tags what the app's server builds on
// top of it (the TLSSocket of an https server, the Http2Session of an http2 server).
// listenerOf() finds the tag from whatever the app holds: a request, a socket, a
// session or a stream.

const tags = new WeakMap<object, string>();

export function tag(o: object, listener: string): void {
  tags.set(o, listener);
}

function field(o: object, key: string): unknown {
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined; // an http2 socket proxy throws once its session is gone
  }
}

/**
 * The name of the listener `x` came in on: `x` is a request (http, https, http2), a socket
 * (net, TLS), an Http2Session or an Http2Stream. Undefined for anything else, and in the master.
 */
export function listenerOf(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const direct = tags.get(x);
  if (direct !== undefined) return direct;
  for (const key of ['session', 'stream', 'socket'] as const) {
    const inner = field(x, key);
    if (typeof inner !== 'object' || inner === null) continue;
    const found = tags.get(inner) ?? (key === 'stream' ? listenerOf(field(inner, 'session')) : undefined);
    if (found !== undefined) return found;
  }
  return undefined;
}
