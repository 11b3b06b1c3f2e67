// How a master starts, up to the moment it may serve: it opens the master's socket ledger
// (lib/sockets/ledger.ts: its listening sockets, bound or adopted) and starts its first
// generation; spawned by an upgrade, it asks the old master to say go once every worker is
// ready (lib/upgrade/predecessor.ts), and serves on go, or alone when the old master goes away
// (released it, or died) and every worker is ready. Once it serves, it tells the old master so.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Generation } from '../pool/generation';
import type { Probation } from '../pool/probation';
import type { ResolvedOptions } from '../config/options';
import type { Listener, SocketLedger } from '../sockets/ledger';
import { takeActivatedSockets } from '../sockets/activation';
import type { ListenerSpec } from '../config/types';
import type { MasterContext, MasterView } from './context';
import type { MasterEvents } from './events';

export interface StartupEvents {
  /** A listener is announced (bound at a first start, or once serving). */
  listening: MasterEvents['listening'];
  /** The first generation may serve. */
  serve: [gen: Generation];
  /** Start-up failed: the master exits 1. */
  failed: [reason: string];
}

export class Startup extends EventEmitter<StartupEvents> {
  /** The listeners announced with a 'listening' event so far. */
  private readonly announced = new Set<Listener>();

  /** @param sockets the master's ledger, empty: opened here @param newGeneration creates (not starts) the first generation */
  constructor(private readonly c: MasterContext, private readonly opts: ResolvedOptions, private readonly specs: ListenerSpec[], private readonly m: Pick<MasterView, 'state'>, private readonly sockets: SocketLedger, private readonly newGeneration: () => Generation) {
    super();
  }

  /** `generations`: the master's (the first one is looked up when the old master says go); `onConnection`: where the master's accepted connections go. */
  run(generations: ReadonlyMap<number, Generation>, onConnection: (l: Listener, s: Socket) => void): void {
    const { c, m, opts } = this;
    const { handoff, parent } = c;
    if (handoff) {
      const serve = (onlyIfComplete: boolean): void => {
        const gen = generations.get(handoff.generation);
        if (gen && m.state() === 'starting' && (!onlyIfComplete || gen.complete())) this.emit('serve', gen);
      };
      parent.on('go', () => serve(false));
      parent.on('gone', () => serve(true));
      parent.watch();
    }
    this.sockets.open({
      // sockets this master does not bind: the previous master's, or systemd's at a first start
      specs: this.specs, inherited: handoff?.listeners ?? takeActivatedSockets(this.specs, c.log), upgrade: handoff !== undefined, backlog: opts.backlog, accept: opts.accept, log: c.log, onConnection,
      bound: (l) => this.announce(l),
    }).then(() => {
      const gen = this.newGeneration();
      gen.on('failed', (reason) => this.emit('failed', `generation ${gen.id} failed to start: ${reason}`));
      gen.on('ready', () => {
        if (!handoff || !parent.askToGo()) this.emit('serve', gen);
      });
      gen.start();
    }).catch((err: Error) => this.emit('failed', err.message));
  }

  private announce(l: Listener): void {
    this.announced.add(l);
    this.c.log.info('listening', `listening on ${l.address()}`, { listener: l.name });
    this.emit('listening', { name: l.name, address: l.address(), port: l.port() });
  }

  /**
   * The first generation is about to serve. Spawned by an upgrade (and not taking service
   * back), the old master still accepts and waits `probation` ms before it hands over; a
   * worker lost in that time fails this master, and the old one goes on. Returns that
   * probation, begun, for the master to set on the generation (undefined: none).
   */
  probation(takenBack: boolean): Probation | undefined {
    if (!this.c.handoff || takenBack) return undefined;
    this.c.parent.probation.begin();
    return this.c.parent.probation;
  }

  /** `gen` serves: the listeners not announced yet are, and the old master hears of it. */
  served(takenBack: boolean): void {
    for (const l of this.sockets.all) if (!this.announced.has(l)) this.announce(l);
    const { handoff } = this.c;
    if (handoff && !takenBack) this.c.parent.send({ type: 'serving', pid: process.pid, dropped: this.sockets.dropped, side: this.c.observation.observer.sideOf(handoff.generation) });
  }
}
