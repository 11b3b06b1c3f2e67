// A master's listening sockets at start-up, the one road to "held" (lib/sockets/listeners.ts):
// adopted from whoever started it (the previous master's hand-off, or systemd's socket
// activation), or bound when this release has a listener nobody passed and then held through
// the keep helper's duplicate, once (lib/sockets/keep.ts); inherited ones this release dropped
// are closed.
import type { Socket } from 'node:net';
import { takeActivatedSockets } from './activation';
import { duplicate } from './keep';
import { closeFd, matchInherited, type Inherited } from './inherit';
import { describeSpec, Listener } from './listeners';
import type { ListenerSpec } from '../config/types';
import type { Logger } from '../log/log';
import { closeHandle } from '../os/internals';

export interface OpenOptions {
  specs: ListenerSpec[];
  /** The previous master's sockets (an upgrade); undefined at a first start. */
  handedOff: Inherited[] | undefined;
  backlog: number;
  accept: 'workers' | 'master';
  log: Logger;
  onConnection: (l: Listener, s: Socket) => void;
  /** A listener bound at a first start: the master announces it ('listening'). */
  bound: (l: Listener) => void;
}

export interface Opened {
  sockets: Listener[];
  /** Inherited listeners this release does not have (told to the old master). */
  dropped: string[];
}

export async function openListeners(o: OpenOptions): Promise<Opened> {
  const { log } = o;
  const sockets: Listener[] = [];
  const bound: Listener[] = [];
  const dropped: string[] = [];
  // Sockets this master does not bind: the previous master's, or systemd's at a first start.
  const given = o.handedOff ?? takeActivatedSockets(o.specs, log);
  const { adopt, unused } = matchInherited(o.specs, given);
  for (const u of unused) {
    // a release that dropped this listener: only the old master holds it now; it closes it when it hands over
    closeFd(u.fd);
    dropped.push(u.spec.name);
    log.info('listener-dropped', `listener "${u.spec.name}" (${describeSpec(u.spec)}) is not in this release: closed the inherited fd ${u.fd}`, { listener: u.spec.name });
  }
  for (const spec of o.specs) {
    const from = adopt.get(spec.name);
    const l = from !== undefined
      // listen(2) on a listening socket sets its backlog anew: always baton's option (systemd's too)
      ? Listener.adopt(spec, from.fd, o.backlog, o.onConnection, o.accept === 'workers')
      : await Listener.bind(spec, o.backlog, o.onConnection);
    l.onAcceptError = (err) => log.warn('accept-error', `${l.address()}: ${err.message}`);
    sockets.push(l);
    if (from !== undefined) {
      l.external = from.external === true;
      const why = l.applyMode();
      if (why !== undefined) log.warn('listener-mode', `${l.address()}: cannot set mode ${spec.mode?.toString(8)}: ${why}`);
      log.debug('listener-adopted', `${l.address()} inherited at fd ${from.fd}${from.spec.name !== spec.name ? ` (was "${from.spec.name}")` : ''}`);
      continue;
    }
    bound.push(l);
    if (o.handedOff) log.info('listener-added', `${l.address()} (listener "${l.name}") is new in this release: bound`, { listener: l.name });
    else o.bound(l);
  }
  await hold(bound, o.accept === 'workers', log);
  return { sockets, dropped };
}

/**
 * The sockets this master bound are held through the keep helper's duplicates (once, here),
 * since a socket a process bound itself cannot be left unpolled at a hand-over; the servers that
 * bound them close. Failing that, this master accepts on the servers it bound, for good.
 */
async function hold(bound: Listener[], forWorkers: boolean, log: Logger): Promise<void> {
  if (bound.length === 0) return;
  let dups: object[] = [];
  let held = 0;
  try {
    dups = await duplicate(bound.map((l) => l.handoffFd()));
    for (; held < bound.length; held++) await (bound[held] as Listener).hold(dups[held] as object, forWorkers);
  } catch (err) {
    for (const h of dups.slice(held)) closeHandle(h);
    log.warn('detach-failed', `${(err as Error).message}: this master accepts the connections of ${bound.slice(held).map((l) => l.address()).join(', ')} itself, hands each to a worker, and cannot keep these sockets for taking service back`);
  }
}

/** A TCP socket the workers accept on themselves (lib/worker/acceptor.ts). */
export interface SharedSocket {
  listener: string;
  handle: object;
  backlog: number;
}

/** The sockets the serving generation's workers accept on themselves. */
export function sharedSockets(sockets: Listener[], backlog: number): SharedSocket[] {
  const out: SharedSocket[] = [];
  for (const l of sockets) {
    const handle = l.workerHandle();
    if (handle !== undefined) out.push({ listener: l.name, handle, backlog });
  }
  return out;
}
