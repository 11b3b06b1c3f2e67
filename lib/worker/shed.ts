// Moving a worker's connections to whoever accepts now, without cutting any: fairness among
// workers (lib/pool/balance.ts) and probation (lib/pool/accepting.ts shedShare).
//
// An HTTP/1 keep-alive connection ends after its current or next response (`Connection: close`);
// with `http2` (probation), an HTTP/2 session gets a GOAWAY (its streams in progress finish, its
// next ones go to a new connection). Fairness leaves HTTP/2 sessions alone: a client may send a
// stream while the GOAWAY is on its way, and Node's server refuses it (lib/worker/h2-goaway.ts);
// once per reload or upgrade is worth it, every few seconds is not. Connections the app took over
// (upgrades) and those of raw servers are the app's: never shed.
import type { Http2Session } from 'node:http2';
import { closeAfterResponse, type Conn } from './connection';
import { goAway } from './h2-goaway';

/** Sheds up to `n` of `conns` (and, with `http2`, of `sessions`); returns how many. */
export function shed(conns: Iterable<Conn>, sessions: Iterable<Http2Session>, n: number, http2: boolean): number {
  let done = 0;
  for (const c of conns) {
    if (done >= n) break;
    if (c.shed || c.long || (c.kind !== 'http' && c.kind !== 'https') || c.io === undefined) continue;
    c.shed = true;
    done++;
    closeAfterResponse(c);
  }
  for (const s of sessions) {
    if (done >= n || !http2) break;
    if (s.closed || s.destroyed) continue;
    done++;
    goAway(s);
  }
  return done;
}
