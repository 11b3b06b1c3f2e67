// A worker accepting connections itself, on a duplicate of each TCP socket its master holds, and
// the one place that decides whether it accepts now. Why and the measurements behind it (a TCP
// handle is listened on in the worker itself, not through cluster; the share; the churn, its
// bound and the 9 % it saves): docs/architecture.md, "The data path", and docs/benchmarks.md.
//
// It accepts while its generation takes new connections (`want()`) and it holds fewer than its share
// (`share()`), deciding again after each connection that comes or goes (`update()`), asking nobody. Its
// churn (its recent closes, CHURN_WINDOW) lets it hold more, up to twice its share: short connections
// coming and going would otherwise pause and resume it at nearly every connection. Pausing keeps the
// duplicate open and stops polling it (lib/os/internals.ts, 7): connections wait in the socket's queue.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { closeHandle, pauseAccepting, resumeAccepting } from '../os/internals';

/** Closes in the last CHURN_WINDOW to 2 x CHURN_WINDOW ms: how many more than its share a worker may hold. */
export const CHURN_WINDOW = 25;

export interface AcceptorEvents {
  /** A connection this worker accepted on `listener`. */
  connection: (listener: string, socket: net.Socket) => void;
  /** listen() on a handle failed, or pausing is not possible (the master logs it from the worker's report). */
  error: (listener: string, err: Error) => void;
  /** How many connections this worker holds now (accepted, handed over, long-lived: all). */
  held: () => number;
  /** It stopped (false) or started (true) accepting. */
  changed?: (accepting: boolean) => void;
}

/** A listening server on the duplicate of one listener's socket; `on`: polled now. */
type Listening = { server: net.Server; on: boolean };

export class Acceptor {
  private readonly listening = new Map<string, Listening>();
  /** Its generation takes new connections (the master's 'accept'). */
  private wanted = false;
  /** It accepts while it holds fewer connections than this (the master's 'share'). */
  private limit = Infinity;
  private closed = false;
  /** What it decided last: it accepts. */
  private now = false;
  /** This Node cannot pause a listening handle (lib/os/internals.ts, 7): no share then. */
  private unpausable = false;
  /** Closes counted in the current churn window (from `churnAt`), and in the one before. */
  private churnAt = -Infinity;
  private churnNow = 0;
  private churnBefore = 0;
  /** Times it stopped accepting because it held its share. */
  pauses = 0;

  constructor(private readonly on: AcceptorEvents) {}

  /** The duplicate of listener's socket: listened on at once, polled only while this worker accepts. */
  take(listener: string, handle: object, backlog: number): void {
    if (this.closed || this.listening.has(listener)) {
      closeHandle(handle);
      return;
    }
    const server = net.createServer((socket) => {
      this.on.connection(listener, socket);
      this.update();
    });
    const l: Listening = { server, on: true };
    server.on('error', (err) => {
      if (this.listening.get(listener) === l) this.listening.delete(listener);
      this.on.error(listener, err);
    });
    this.listening.set(listener, l);
    // the backlog as its own argument: listen(2) on the shared socket sets it anew. listen()
    // on a handle is synchronous: no connection is accepted before update() pauses it
    server.listen(handle as net.ListenOptions, backlog);
    this.apply(this.should());
  }

  /** Whether its generation takes new connections (for now: want(true) again resumes). */
  want(on: boolean): void {
    this.wanted = on;
    this.update();
  }

  /** The most connections it may hold and still accept (Infinity: no limit). */
  share(limit: number): void {
    this.limit = limit;
    this.update();
  }

  /** A connection it held closed: counted as churn, and it decides again. */
  left(): void {
    const t = performance.now();
    if (t - this.churnAt >= CHURN_WINDOW) {
      this.churnBefore = t - this.churnAt < 2 * CHURN_WINDOW ? this.churnNow : 0;
      this.churnNow = 0;
      this.churnAt = t;
    }
    this.churnNow++;
    this.update();
  }

  /** How many more than its share it may hold now: its recent closes (CHURN_WINDOW), before the bound. */
  private churn(): number {
    const age = performance.now() - this.churnAt;
    if (age >= 2 * CHURN_WINDOW) return 0;
    return age >= CHURN_WINDOW ? this.churnNow : this.churnNow + this.churnBefore;
  }

  /** Decides again (a connection came or went). */
  update(): void {
    const should = this.should();
    if (should !== this.now) this.apply(should);
  }

  /** For good (drain, exit): every duplicate this worker holds is closed. */
  close(): void {
    this.closed = true;
    this.now = false;
    // close() stops accepting at once; its callback would wait for the connections, which
    // the app's server owns (net.Server.close closes only the listening handle)
    for (const l of this.listening.values()) if (l.server.listening) l.server.close();
    this.listening.clear();
  }

  get accepting(): boolean {
    return this.now && this.listening.size > 0;
  }

  private should(): boolean {
    if (this.closed || !this.wanted) return false;
    if (this.unpausable) return true;
    const held = this.on.held();
    // below its share it accepts whatever the churn: no clock read (2 of the 6 per connection
    // were here; with all 6 gone a worker served 1.025 x under a connection per request)
    return held < this.limit || held < this.limit + Math.min(this.churn(), this.limit);
  }

  private apply(on: boolean): void {
    const was = this.now;
    this.now = on;
    for (const [name, l] of this.listening) {
      if (l.on === on || !l.server.listening) continue;
      if (on ? resumeAccepting(l.server) : pauseAccepting(l.server)) {
        l.on = on;
        continue;
      }
      if (on) continue; // not polled and cannot be: its error was said when it paused
      this.on.error(name, new Error(`cannot pause accepting on this Node version (${process.version}): its listening handle has no readStop() (lib/os/internals.ts, 7); ${this.wanted ? 'this worker accepts beyond its share' : 'this worker closes its duplicate'}`));
      if (this.wanted) {
        // a share pause: accepting more than the share beats losing the socket (were every
        // worker to close its duplicate, nobody would accept)
        this.unpausable = true;
        this.now = true;
        return;
      }
      this.listening.delete(name); // its generation stops: the other generation accepts
      l.server.close();
    }
    if (on !== was) {
      if (!on && this.wanted) this.pauses++;
      this.on.changed?.(on);
    }
  }
}
