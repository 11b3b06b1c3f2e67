// How the master wires each generation it creates: the options it is forked with, the
// preload that reports its workers' first errors (lib/upgrade/early.ts), and what each of
// its events becomes in the master (its events, the dispatcher, the old master's channel
// while this master is a new one starting). The master decides what a generation is for.
import { Generation } from '../pool/generation';
import type { Dispatcher } from '../pool/dispatch';
import type { EnvOverlay } from '../config/envfile';
import type { ResolvedOptions } from '../config/options';
import { workerPreloads } from '../upgrade/early';
import type { Predecessor } from '../upgrade/predecessor';
import type { WorkerExec } from '../upgrade/relaunch';
import type { Listener } from '../sockets/listeners';
import type { Logger } from '../log/log';
import type { WorkerRecords } from '../log/worker-records';
import type { MasterEvents } from './events';

export interface GenerationWiring {
  opts: ResolvedOptions;
  workers: number;
  log: Logger;
  workerRecords: WorkerRecords;
  connections: Dispatcher;
  sockets: () => Listener[];
  /** Set while a master spawned by an upgrade starts: the old master follows this generation. */
  parent: Predecessor | undefined;
  /** Whether the master is still starting (the old master hears of its workers until then). */
  starting: () => boolean;
  emit: <K extends keyof MasterEvents>(event: K, ...args: MasterEvents[K]) => unknown;
  /** The generation is gone: the master forgets it (before its event), then may exit (after). */
  forget: (id: number) => void;
  drained: () => void;
}

export function createGeneration(id: number, exec: WorkerExec, env: EnvOverlay, w: GenerationWiring): Generation {
  const { opts: o, log, connections } = w;
  // errors its workers throw before they load baton reach the reason it failed (early.ts)
  const early = workerPreloads({ generation: id, format: o.logFormat }, () => ({ ...process.env, ...env }));
  const gen: Generation = new Generation(id, {
    workers: w.workers, exec, env, exitTimeout: o.exitTimeout, readyTimeout: o.readyTimeout, drainTimeout: o.drainTimeout,
    workerTimeout: o.workerTimeout, maxMemory: o.maxMemory, maxRequests: o.maxRequests,
    forkEnv: () => ({ ...w.workerRecords.env(), ...(gen.state === 'starting' ? early.env() : undefined) }),
  }, log);
  for (const ev of ['ready', 'failed', 'drained'] as const) gen.once(ev, () => early.removeAll());
  const parent = w.parent;
  gen.on('worker-ready', (slot) => {
    w.emit('worker-ready', { pid: slot.pid, generation: id });
    if (parent && w.starting()) parent.send({ type: 'worker-ready', pid: slot.pid, ready: gen.readyCount(), total: gen.target });
    connections.flush();
  });
  gen.on('orphans', (sockets) => {
    log.debug('orphans', `${sockets.length} connection(s) queued for a worker that died: handed on`);
    for (const [socket, name] of sockets) {
      const l = w.sockets().find((x) => x.name === name);
      if (l && !socket.destroyed) connections.dispatch(l, socket, 1);
    }
  });
  gen.on('worker-replaced', (slot, reason) => w.emit('worker-replaced', { pid: slot.pid, generation: id, reason }));
  gen.on('worker-exit', (slot, code, signal, expected) => {
    w.emit('worker-exit', { pid: slot.pid, generation: id, code, signal, expected });
    log.debug('worker-exit', `worker ${slot.pid} of generation ${id} exited (${signal ?? `code ${code}`})`, { workerPid: slot.pid });
  });
  // the old master re-emits what its workers report about forced closes
  gen.on('drain-forced', (slot, connections, upgraded) => w.emit('drain-forced', { generation: id, pid: slot.pid, connections, upgraded }));
  gen.on('drained', (forced) => {
    w.forget(id);
    log.info('generation-drained', `generation ${id} drained${forced ? ` (${forced} worker(s) killed at drainTimeout)` : ''}`);
    w.emit('generation-drained', { generation: id, forced });
    w.drained();
  });
  // the old master learns every pid, so that a failed upgrade can kill them all
  if (parent) gen.on('worker-forked', (slot) => parent.send({ type: 'forked', pid: slot.pid }));
  return gen;
}
