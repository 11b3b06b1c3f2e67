// How a worker tells an HTTP/2 session to go away (the drain, and shedding for probation):
// session.close(), one GOAWAY naming the last stream the server took; streams in progress
// finish, the client opens its next streams on a new connection (to whoever accepts now).
//
// Not the graceful shutdown of RFC 9113 section 6.8 (a first GOAWAY for stream 2^31-1, a PING
// round trip, then the real one): Node's server (nghttp2) ignores every stream that arrives
// after any GOAWAY, so that would only make the drain longer. A stream crossing the GOAWAY gets
// REFUSED_STREAM, safe to send again (RFC 9113 section 8.7; docs/listeners.md, "HTTP/2").
// Measured on Node 22, 24 and 26: spec/unit/worker/h2-goaway.spec.ts fails the day Node serves them.
import type { Http2Session } from 'node:http2';

/** Tells `session` to go away (once): its streams in progress finish, then it ends. */
export function goAway(session: Http2Session): void {
  if (session.closed || session.destroyed) return;
  try {
    session.close();
  } catch {
    // already going away
  }
}
