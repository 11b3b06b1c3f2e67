// The only place baton touches Node internals. Each use is checked by
// spec/internals.spec.ts, which fails loudly if a Node release changes it.
//
// 1. The file descriptor of a listening net.Server. spawn() needs it as an integer to
//    put the socket in the new master's stdio (passing the Server object itself throws
//    after the child exists; see docs/architecture.md). Node has no public getter.
// 2. cluster's worker-side 'disconnect' handler exits at once (code 0) when the master
//    vanishes unless `worker.exitedAfterDisconnect` is true. baton sets it so that a
//    worker whose master was SIGKILLed finishes its in-flight requests first.
import type { Server } from 'node:net';
import type { Worker } from 'node:cluster';

export function listeningFd(server: Server): number {
  const handle = (server as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new Error(`baton: cannot read the file descriptor of a listening server (got ${String(fd)}); this Node version (${process.version}) is not supported`);
  }
  return fd;
}

export function surviveMasterDisconnect(worker: Worker): void {
  (worker as unknown as { exitedAfterDisconnect: boolean }).exitedAfterDisconnect = true;
}
