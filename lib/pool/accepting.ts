// Which workers of a generation accept on the shared TCP sockets themselves, and the share
// they accept under (lib/pool/balance.ts). Each worker that is ready gets one duplicate of
// every socket and is told to accept; from then on it pauses and resumes itself
// (lib/worker/acceptor.ts). The master sends the share when it changes, and asks a worker
// holding too many keep-alive connections to shed some. Nothing of this runs per connection.
import { NO_LIMIT, Shedding, TICK, shareOf } from './balance';
import { sendIfConnected } from '../channel';
import type { WorkerSlot } from './slot';
import type { Listener } from '../sockets/ledger';

export class Accepting {
  /** While set, its ready workers accept on these sockets themselves (TCP: Listener.workerHandle()). */
  private shared: Listener[] | undefined;
  private readonly shedding = new Shedding();
  private timer: NodeJS.Timeout | undefined;
  /** The share its accepting workers were sent last. */
  private limit = NO_LIMIT;
  /** A report came (or a worker left) since the last tick. */
  private changed = false;

  /** @param backlog what each worker's listen() sets anew on the shared sockets */
  constructor(private readonly slots: Map<number, WorkerSlot>, private readonly backlog: number) {}

  /**
   * Every ready worker accepts on those of `listeners` that workers accept on (TCP), from now on;
   * one that becomes ready later joins in.
   */
  on(listeners: Listener[]): void {
    const sockets = listeners.filter((l) => l.workerHandle() !== undefined);
    this.shared = sockets;
    if (sockets.length === 0) return;
    for (const slot of this.slots.values()) this.let(slot);
    this.wake();
  }

  /** Something changed (a report, a worker left): the ticks run again until it settles. */
  wake(): void {
    this.changed = true;
    if (this.timer !== undefined || this.shared === undefined) return;
    this.timer = setInterval(() => this.tick(), TICK);
    this.timer.unref();
  }

  /** Its workers stop taking new connections (for now: on() again resumes). */
  off(): void {
    this.stop();
    for (const slot of this.slots.values()) {
      if (!slot.accepting) continue;
      slot.accepting = false;
      sendIfConnected(slot.worker, { type: 'accept', on: false });
    }
  }

  /**
   * Every worker sheds `share` of its connections (HTTP/1 keep-alive ones close after their next
   * response, HTTP/2 sessions get a GOAWAY), so that their clients reconnect to whoever accepts
   * now: a new generation on probation then serves clients that never reconnect by themselves.
   * Returns how many.
   */
  shedShare(share: number): number {
    let n = 0;
    for (const slot of this.slots.values()) {
      if (slot.state !== 'ready') continue;
      const k = Math.floor(slot.connections * share);
      if (k <= 0) continue;
      slot.fairness.shed += k;
      sendIfConnected(slot.worker, { type: 'shed', connections: k, http2: true });
      n += k;
    }
    return n;
  }

  /** No more accepting and no more ticks (the generation drains or is aborted). */
  stop(): void {
    this.shared = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A worker that is ready accepts too, if its generation accepts. */
  let(slot: WorkerSlot): void {
    const shared = this.shared;
    if (shared === undefined || slot.state !== 'ready' || slot.accepting) return;
    for (const l of shared) {
      const handle = l.workerHandle();
      if (handle === undefined || slot.given.has(l.name)) continue;
      slot.given.add(l.name);
      sendIfConnected(slot.worker, { type: 'handle', listener: l.name, backlog: this.backlog }, { handle });
    }
    slot.accepting = true;
    // one more worker: the share again, for the others; then this one's, before it accepts
    this.reshare(true);
    sendIfConnected(slot.worker, { type: 'share', limit: this.limit });
    sendIfConnected(slot.worker, { type: 'accept', on: true });
  }

  /**
   * The share again, from the workers' last reports; sent to every worker that accepts if it
   * changed. A larger share goes out at once (workers wait for it); a smaller one only on a
   * tick (`lower`), so that short connections coming and going do not send one per change.
   */
  reshare(lower = false): void {
    if (this.shared === undefined) return;
    if (!lower) this.wake(); // a report: the next ticks look at it
    const members = this.members();
    const limit = shareOf(members.map((s) => ({ id: s.worker.id, open: s.connections })));
    if (limit === this.limit || (limit < this.limit && !lower)) return;
    this.limit = limit;
    for (const slot of members) sendIfConnected(slot.worker, { type: 'share', limit });
  }

  private members(): WorkerSlot[] {
    return [...this.slots.values()].filter((s) => s.accepting && s.state === 'ready');
  }

  /** Every TICK ms while something changes: who sheds, and the share again, smaller too (a worker that left changes it). */
  private tick(): void {
    if (!this.changed && !this.shedding.watching) {
      // nothing new and nobody over the mean: sleep until the next report
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    this.changed = false;
    this.reshare(true);
    for (const [id, connections] of this.shedding.tick(this.members().map((s) => ({ id: s.worker.id, open: s.connections })))) {
      const slot = this.slots.get(id);
      if (slot === undefined) continue;
      slot.fairness.shed += connections;
      sendIfConnected(slot.worker, { type: 'shed', connections });
    }
  }
}
