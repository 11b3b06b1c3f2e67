// The intake (lib/pool/intake.ts) where the master dispatches: which worker gets each
// connection the master accepted (UNIX sockets, `accept: 'master'`): one of the generation that
// serves, round robin among its ready workers (pick()). With no worker ready (start-up, a
// take-back, every worker just died), connections wait here, up to PENDING_LIMIT, and go out as
// soon as one is. Held (the next master's probation), the master stops polling the sockets it
// accepts on (Listener.pause(): connections wait in their queues, for the new master) until it
// serves again (a failed upgrade) or hands over. A master that handed over hands what it
// accepted just before to any worker still connected, draining or not: it serves it to the end.
import type { Socket } from 'node:net';
import type { Generation } from './generation';
import type { Intake } from './intake';
import type { WorkerSlot } from './slot';
import { msg } from '../messages';
import type { Listener } from '../sockets/ledger';
import type { Logger } from '../log/log';

export const PENDING_LIMIT = 10_000;
/** A connection whose send to a worker fails (it died meanwhile) goes to another, this often. */
const SEND_RETRIES = 3;

export interface DispatchView {
  /** This master handed over: no generation serves any more, the draining ones still can. */
  handedOver(): boolean;
  generations(): Iterable<Generation>;
  /** The master's listening sockets (those it accepts on pause when held). */
  listeners(): Iterable<Listener>;
}

/** Hands an accepted socket to a worker; calls back false when it could not be sent. */
export function handTo(slot: WorkerSlot, listener: string, socket: Socket, done: (ok: boolean) => void): void {
  slot.sending.set(socket, listener);
  try {
    slot.worker.send(msg({ type: 'conn', listener }), socket, { keepOpen: false }, (err: Error | null) => {
      if (!slot.sending.delete(socket)) return; // already handed on as an orphan
      done(!err);
    });
  } catch {
    slot.sending.delete(socket);
    done(false);
  }
}

export class Dispatcher implements Intake {
  private pending: Array<[Listener, Socket]> = [];
  /** Round robin among ties. */
  private rr = 0;
  /** The generation that receives new connections (serve()). */
  private serving: Generation | undefined;
  private held = false;

  constructor(private view: DispatchView, private log: Logger) {}

  serve(gen: Generation): void {
    this.serving = gen;
    if (this.held) for (const l of this.view.listeners()) l.unpause();
    this.held = false;
    this.flush();
  }

  /** The next master's probation: the sockets this master accepts on stop being polled (see the top of this file). */
  hold(): void {
    this.held = true;
    for (const l of this.view.listeners()) l.pause();
  }

  dispatch(l: Listener, socket: Socket, attempt = 0): void {
    const gen = this.serving;
    let slot = gen?.state === 'serving' ? this.pick(gen) : undefined;
    if (slot === undefined && this.view.handedOver()) {
      for (const g of this.view.generations()) {
        slot = [...g.slots.values()].find((s) => s.worker.isConnected());
        if (slot !== undefined) break;
      }
    }
    if (slot === undefined) {
      if (this.pending.length >= PENDING_LIMIT) {
        this.log.warn('overload', `no worker ready and ${PENDING_LIMIT} connections waiting: closing one`);
        socket.destroy();
        return;
      }
      this.pending.push([l, socket]);
      return;
    }
    const to = slot;
    handTo(to, l.name, socket, (ok) => {
      if (ok) return;
      this.log.debug('send-failed', `a connection could not be sent to worker ${to.pid}: ${socket.destroyed ? 'closed' : 'retrying'}`);
      if (attempt + 1 < SEND_RETRIES && !socket.destroyed) this.dispatch(l, socket, attempt + 1);
      else socket.destroy();
    });
  }

  /** The ready worker of `gen` with the fewest connections in transit (round robin on ties). */
  private pick(gen: Generation): WorkerSlot | undefined {
    const ready = [...gen.slots.values()].filter((s) => s.state === 'ready');
    if (ready.length > 0) this.rr = (this.rr + 1) % ready.length;
    let best: WorkerSlot | undefined;
    for (let i = 0; i < ready.length; i++) {
      const s = ready[(this.rr + i) % ready.length] as WorkerSlot;
      if (best === undefined || s.sending.size < best.sending.size) best = s;
    }
    return best;
  }

  /** Sends the waiting connections on, once a worker can take them. */
  flush(): void {
    if (this.pending.length === 0) return;
    const serving = this.serving;
    const ready = serving?.state === 'serving' && serving.readyCount() > 0;
    if (!ready && !this.view.handedOver()) return;
    for (const [l, s] of this.pending.splice(0)) {
      if (!s.destroyed) this.dispatch(l, s, 0);
    }
  }

  /** A stop: the waiting connections are closed. */
  dropPending(): void {
    for (const [, s] of this.pending.splice(0)) s.destroy();
  }
}
