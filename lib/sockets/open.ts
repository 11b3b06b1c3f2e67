// A master's listening sockets at start-up: adopted from whoever started it (the previous
// master's hand-off, or systemd's socket activation), bound when this release has a
// listener nobody passed, and inherited ones this release dropped closed. Then, with
// `accept: 'workers'`, every TCP socket it bound itself is detached: held through a
// duplicate that is never polled (lib/sockets/keep.ts), for the workers to accept on.
import type { Socket } from 'node:net';
import { takeActivatedSockets } from './activation';
import { KeptSockets } from './keep';
import { closeFd, matchInherited, type Inherited } from './inherit';
import { describeSpec, Listener } from './listeners';
import type { ListenerSpec } from '../config/types';
import type { Logger } from '../log/log';

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
    } else if (o.handedOff) log.info('listener-added', `${l.address()} (listener "${l.name}") is new in this release: bound`, { listener: l.name });
    else o.bound(l);
  }
  if (o.accept === 'workers') await detach(sockets, log);
  return { sockets, dropped };
}

/**
 * The TCP sockets this master bound are accepted on by its workers, not by itself: it
 * holds a duplicate of each that it never polls (from the helper of lib/sockets/keep.ts) and
 * closes the server it bound with. Connections it accepted meanwhile wait in the
 * dispatcher for the first worker. Sockets it adopted are held so from the start.
 */
async function detach(sockets: Listener[], log: Logger): Promise<void> {
  const detachable = sockets.filter((l) => l.detachable);
  if (detachable.length === 0) return;
  const kept = new KeptSockets(detachable);
  try {
    const handles = await kept.ready;
    for (const l of detachable) {
      const h = handles.get(l.name);
      if (h === undefined) continue;
      kept.use(h);
      l.holdRaw(h);
    }
  } catch (err) {
    log.warn('detach-failed', `${(err as Error).message}: this master accepts the connections of ${detachable.map((l) => l.address()).join(', ')} itself and hands each to a worker`);
  } finally {
    kept.close();
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
