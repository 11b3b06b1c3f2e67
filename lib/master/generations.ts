// A master's generations: how it wires each one it creates (the options it is forked with,
// the preload that reports its workers' first errors, lib/upgrade/early.ts; the dispatcher
// of the connections the master accepts; the old master's channel while this master is a new one starting), numbers them, drains
// them, and reports what they do as the master's events (which the master re-emits). The
// master decides what a generation is for.
import { EventEmitter } from 'node:events';
import { Generation } from '../pool/generation';
import { Dispatcher } from '../pool/dispatch';
import type { Intake } from '../pool/intake';
import { WorkersAccept } from '../pool/workers-accept';
import { mayAccept } from '../pool/slot';
import type { EnvOverlay } from '../config/envfile';
import type { ResolvedOptions } from '../config/options';
import { workerPreloads } from '../upgrade/early';
import type { Predecessor } from '../upgrade/predecessor';
import type { WorkerExec } from '../os/relaunch';
import type { Logger } from '../log/log';
import { WorkerRecords } from '../worker/worker-records';
import type { MasterView } from './context';
import type { MasterEvents } from './events';

export const GENERATION_EVENTS = ['worker-ready', 'worker-exit', 'worker-replaced', 'drain-forced', 'generation-draining', 'generation-drained'] as const;
export type GenerationsEvents = Pick<MasterEvents, (typeof GENERATION_EVENTS)[number]>;

export class Generations extends EventEmitter<GenerationsEvents> implements Intake {
  readonly all = new Map<number, Generation>();
  /** Hands each connection the master accepted to a worker of the right generation (lib/pool/dispatch.ts). */
  readonly connections: Dispatcher;
  /** Which generation's workers accept on the TCP sockets themselves (lib/pool/workers-accept.ts). */
  private readonly workersAccept: WorkersAccept;
  /** Workers' log records, forwarded to the master's 'log' event while it has a listener. */
  private readonly workerRecords: WorkerRecords;

  /**
   * @param next the number the next generation gets (kept across upgrades)
   * @param m what they read of their master: whether it handed over, and its sockets
   */
  constructor(public next: number, master: EventEmitter, private readonly opts: ResolvedOptions, private readonly log: Logger, private readonly m: Pick<MasterView, 'state' | 'sockets'>) {
    super();
    this.connections = new Dispatcher({ handedOver: () => m.state() === 'handed-over', generations: () => this.all.values(), listeners: () => m.sockets() }, log);
    this.workersAccept = new WorkersAccept(() => m.sockets());
    this.workerRecords = new WorkerRecords(master, (m) => this.broadcast(m));
  }

  /**
   * Creates (not starts) generation `next`. `parent`: set while a master spawned by an
   * upgrade starts, the old master follows this generation.
   */
  create(exec: WorkerExec, env: EnvOverlay, workers: number, parent: Predecessor | undefined): Generation {
    const id = this.next++;
    const gen = this.wire(id, exec, env, workers, parent);
    this.all.set(id, gen);
    return gen;
  }

  /** Both intakes (lib/pool/intake.ts): `gen` takes the new connections, whichever way they come. */
  serve(gen: Generation): void {
    this.workersAccept.serve(gen);
    this.connections.serve(gen);
  }

  /** Both intakes: none of this master's generations takes new connections for now. */
  hold(): void {
    this.workersAccept.hold();
    this.connections.hold();
  }

  broadcast(m: { type: string; [k: string]: unknown }): void {
    for (const g of this.all.values()) g.broadcast(m);
  }

  abortAll(): void {
    for (const g of this.all.values()) g.abort();
  }

  drainAll(reason: string): void {
    for (const g of this.all.values()) this.drain(g, reason);
  }

  /** Resolves once no worker of any generation accepts on its duplicates any more (or after `boundMs`). */
  async acceptorsClosed(boundMs: number): Promise<void> {
    const until = Date.now() + boundMs;
    while (Date.now() < until && [...this.all.values()].some((g) => [...g.slots.values()].some(mayAccept))) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  drain(gen: Generation, reason: string): void {
    if (gen.state === 'draining' || gen.state === 'done') return;
    this.log.info('generation-draining', `generation ${gen.id} drains (${reason})`);
    this.emit('generation-draining', { generation: gen.id, reason });
    gen.drain(reason);
  }

  private wire(id: number, exec: WorkerExec, env: EnvOverlay, workers: number, parent: Predecessor | undefined): Generation {
    const { opts: o, log, connections, m } = this;
    // errors its workers throw before they load baton reach the reason it failed (early.ts)
    const early = workerPreloads({ generation: id, format: o.logFormat }, () => ({ ...process.env, ...env }));
    const gen: Generation = new Generation(id, {
      workers, exec, env, backlog: o.backlog, exitTimeout: o.exitTimeout, readyTimeout: o.readyTimeout, drainTimeout: o.drainTimeout,
      workerTimeout: o.workerTimeout, maxMemory: o.maxMemory, maxRequests: o.maxRequests,
      forkEnv: () => ({ ...this.workerRecords.env(), ...(gen.state === 'starting' ? early.env() : undefined) }),
    }, log);
    for (const ev of ['ready', 'failed', 'drained'] as const) gen.once(ev, () => early.removeAll());
    gen.on('worker-ready', (slot) => {
      this.emit('worker-ready', { pid: slot.pid, generation: id });
      if (parent && gen.state === 'starting') parent.send({ type: 'worker-ready', pid: slot.pid, ready: gen.readyCount(), total: gen.target });
      connections.flush();
    });
    gen.on('orphans', (sockets) => {
      log.debug('orphans', `${sockets.length} connection(s) queued for a worker that died: handed on`);
      for (const [socket, name] of sockets) {
        const l = m.sockets().find((x) => x.name === name);
        if (l && !socket.destroyed) connections.dispatch(l, socket, 1);
      }
    });
    gen.on('worker-replaced', (slot, reason) => this.emit('worker-replaced', { pid: slot.pid, generation: id, reason }));
    gen.on('worker-exit', (slot, code, signal, expected) => {
      this.emit('worker-exit', { pid: slot.pid, generation: id, code, signal, expected });
      log.debug('worker-exit', `worker ${slot.pid} of generation ${id} exited (${signal ?? `code ${code}`})`, { workerPid: slot.pid });
    });
    // the old master re-emits what its workers report about forced closes
    gen.on('drain-forced', (slot, connections, upgraded) => this.emit('drain-forced', { generation: id, pid: slot.pid, connections, upgraded }));
    gen.on('drained', (forced) => {
      this.all.delete(id); // forgotten before its event
      log.info('generation-drained', `generation ${id} drained${forced ? ` (${forced} worker(s) killed at drainTimeout)` : ''}`);
      this.emit('generation-drained', { generation: id, forced });
    });
    // the old master learns every pid, so that a failed upgrade can kill them all
    if (parent) gen.on('worker-forked', (slot) => parent.send({ type: 'forked', pid: slot.pid }));
    return gen;
  }
}
