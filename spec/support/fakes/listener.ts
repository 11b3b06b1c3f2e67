// A listener that hands over the fd of a test's own server: what KeptSockets (lib/sockets/keep.ts)
// asks of a Listener, and nothing more.
import type * as net from 'node:net';
import type { Listener } from '../../../lib/sockets/listeners';
import { fdOf } from '../unit';

export function listenerOn(name: string, server: net.Server): Listener {
  return { name, handoffFd: () => fdOf(server) } as unknown as Listener;
}
