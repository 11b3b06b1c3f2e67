// The keep helper of lib/sockets/keep.ts, run for a moment at a master's start, once for the
// sockets that master bound: it gets them in its stdio (fd 4 on) and sends each back over IPC
// as a raw handle, so that the master ends up with a duplicate it can hold without accepting.
// It exits when the master disconnects (or dies).
import * as net from 'node:net';
import { FIRST_FD } from './inherit';
import { socketHandle } from '../os/internals';
import { msg } from '../messages';

const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 0 || typeof process.send !== 'function') {
  process.stderr.write('baton: dup-child is started by a master (lib/sockets/keep.ts), not by hand\n');
  process.exit(2);
}
// A listener keeps the channel (and this process) alive until the old master disconnects:
// Node sends a second handle only once the first is acknowledged.
process.on('disconnect', () => process.exit(0));
for (let i = 0; i < count; i++) {
  const socket = new net.Socket({ fd: FIRST_FD + i, readable: false, writable: false });
  process.send(msg({ type: 'kept', index: i }), socketHandle(socket) as never);
}
