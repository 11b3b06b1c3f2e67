// Which workers of a generation accept on the shared TCP sockets themselves, and the
// fairness ticks that pause, resume and shed them (lib/pool/balance.ts). Each worker that
// is ready gets duplicates of every socket (one to listen on, one spare to resume with at
// once), is told to accept, and gets a new spare each time it uses one. Nothing of this runs
// per connection.
import { Balancer, TICK } from './balance';
import { sendIfConnected } from '../channel';
import type { SharedSocket, WorkerSlot } from './slot';

/** Duplicates each worker gets of a socket: one to listen on, one spare to resume with at once. */
const HANDLES_PER_WORKER = 2;

export class Accepting {
  /** While set, its ready workers accept on these sockets themselves. */
  private shared: SharedSocket[] | undefined;
  private readonly balancer = new Balancer();
  private balanceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly slots: Map<number, WorkerSlot>) {}

  /** Every ready worker accepts on `sockets` from now on; one that becomes ready later joins in. */
  on(sockets: SharedSocket[]): void {
    this.shared = sockets;
    if (sockets.length === 0) return;
    for (const slot of this.slots.values()) this.let(slot);
    if (this.balanceTimer === undefined) {
      this.balanceTimer = setInterval(() => this.balance(), TICK);
      this.balanceTimer.unref();
    }
  }

  /** Its workers stop taking new connections (for now: on() again resumes). */
  off(): void {
    this.stop();
    for (const slot of this.slots.values()) {
      this.balancer.forget(slot.worker.id);
      if (!slot.accepting) continue;
      slot.accepting = false;
      slot.paused = false;
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
      const k = Math.floor(Math.max(slot.open, slot.connections) * share);
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
    if (this.balanceTimer) clearInterval(this.balanceTimer);
    this.balanceTimer = undefined;
  }

  /** A worker that is ready accepts too, if its generation accepts. */
  let(slot: WorkerSlot): void {
    const shared = this.shared;
    if (shared === undefined || slot.state !== 'ready' || slot.accepting) return;
    for (const s of shared) {
      if (slot.given.has(s.listener)) continue;
      slot.given.add(s.listener);
      for (let i = 0; i < HANDLES_PER_WORKER; i++) this.sendHandle(slot, s);
    }
    slot.accepting = true;
    slot.paused = false;
    this.balancer.forget(slot.worker.id);
    sendIfConnected(slot.worker, { type: 'accept', on: true });
  }

  private sendHandle(slot: WorkerSlot, s: SharedSocket, written?: () => void): void {
    // gone: its 'exit' follows
    slot.fairness.handles++;
    sendIfConnected(slot.worker, { type: 'handle', listener: s.listener, backlog: s.backlog }, { handle: s.handle, written });
  }

  /** A worker used a spare duplicate: it gets another, one at a time. */
  topUp(slot: WorkerSlot, needs: string[]): void {
    for (const name of needs) {
      const s = this.shared?.find((x) => x.listener === name);
      if (s === undefined || slot.spareInFlight.has(name) || slot.state === 'draining') continue;
      slot.spareInFlight.add(name);
      this.sendHandle(slot, s, () => slot.spareInFlight.delete(name));
    }
  }

  /** One round of the fairness control (lib/pool/balance.ts) over the workers that accept. */
  private balance(): void {
    const members = [...this.slots.values()].filter((s) => s.accepting && s.state === 'ready');
    const decision = this.balancer.tick(members.map((s) => ({ id: s.worker.id, open: s.open, accepted: s.accepted })));
    for (const id of decision.pause) {
      const slot = this.slots.get(id);
      if (slot === undefined) continue;
      slot.paused = true;
      slot.fairness.pauses++;
      sendIfConnected(slot.worker, { type: 'accept', on: false });
    }
    for (const id of decision.resume) {
      const slot = this.slots.get(id);
      if (slot === undefined || !slot.accepting) continue;
      slot.paused = false;
      sendIfConnected(slot.worker, { type: 'accept', on: true });
    }
    for (const [id, connections] of decision.shed) {
      const slot = this.slots.get(id);
      if (slot === undefined) continue;
      slot.fairness.shed += connections;
      sendIfConnected(slot.worker, { type: 'shed', connections });
    }
  }
}
