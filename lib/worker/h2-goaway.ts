// How a worker tells an HTTP/2 session to go away (the drain, and shedding for fairness and
// probation: lib/worker/drain.ts): session.close(), one GOAWAY naming the last stream the
// server took; streams in progress finish, the client opens its next streams on a new
// connection (to whoever accepts now), and the session ends once its streams are done.
//
// Why not the graceful shutdown of RFC 9113 section 6.8 (a first GOAWAY for stream 2^31-1, a
// PING round trip, then the real GOAWAY), which would let streams already on the wire be
// served: Node's server (nghttp2) ignores every stream that arrives after it sent any GOAWAY,
// whatever its last stream id (nghttp2 allows no new incoming stream once a GOAWAY was sent,
// except after its shutdown notice, which Node does not expose). Measured on Node 22, 24 and
// 26 (spec/unit/worker/h2-goaway.spec.ts, which fails the day Node serves them): with the first GOAWAY
// the crossing streams are refused just the same, and the drain only waits longer. So a
// client that sends a stream while the GOAWAY is on its way gets REFUSED_STREAM, which says
// the stream was not processed and is safe to send again (RFC 9113 section 8.7); browsers
// do so, Node's http2 client leaves it to the application (docs/listeners.md).
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
