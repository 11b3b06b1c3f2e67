// The only place baton touches Node internals. Each use is checked by
// spec/unit/os/internals.spec.ts, which fails loudly if a Node release changes it.
//
// 1. The file descriptor of a listening net.Server. spawn() needs it as an integer to
//    put the socket in the new master's stdio (passing the Server object itself throws
//    after the child exists; see docs/architecture.md). Node has no public getter.
// 2. cluster's worker-side 'disconnect' handler exits at once (code 0) when the master
//    vanishes unless `worker.exitedAfterDisconnect` is true. baton sets it so that a
//    worker whose master was SIGKILLed finishes its in-flight requests first.
// 3. The handle of a listening net.Server, for the `baton run` supervisor to hold.
// 5. A socket sent to a child over IPC waits in `child._pendingMessage` until the child
//    acknowledges it. When the child dies first, Node 20 leaves it there, open: its client
//    would hang. baton closes it when a worker exits.
// 6. The raw handle of a net.Socket opened on a listening fd, and closing such a handle.
//    A raw handle sent over IPC arrives as a plain handle, held without reading or
//    accepting; a net.Socket sent the public way is read from by the receiver, which
//    fails (and closes the fd) on a listening socket. See lib/sockets/ledger.ts.
// 7. Pausing a listening server without closing it: the handle's readStop()/readStart()
//    (libuv's uv_read_stop/uv_read_start on the listening stream stop and start polling it;
//    the watcher's callback stays libuv's accept). Node's public API can only close a
//    listening server, which loses the fd. Works on a TCP or UNIX socket opened from an fd or
//    received over IPC (opened readable, as every socket a master holds and every duplicate a
//    worker gets is); a server that bound its own socket says ENOTCONN, and pauseAccepting()
//    then returns false.
// 4. net.Server applies its per-connection options (noDelay, which http.Server turns on
//    by default, keepAlive, and allowHalfOpen, which http.Server turns on too) when *it*
//    accepts; baton hands connections over with server.emit('connection'), so it applies them
//    itself, read from the server. (A socket's own `allowHalfOpen` is public: Duplex.)
import { Server, type Socket } from 'node:net';
import type { Worker } from 'node:cluster';
import type { ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';

export function listeningFd(server: Server): number {
  return fdOf((server as unknown as { _handle?: object })._handle, 'a listening server');
}

export function surviveMasterDisconnect(worker: Worker): void {
  (worker as unknown as { exitedAfterDisconnect: boolean }).exitedAfterDisconnect = true;
}

/**
 * 3. The handle of a listening net.Server (a net.Server sent the public way is listened on by the
 * receiver), and 6. the raw handle under a net.Socket opened with `{ fd }`: to send over IPC as such.
 */
export function rawHandle(owner: Server | Socket): object {
  const handle = (owner as unknown as { _handle?: unknown })._handle;
  if (typeof handle !== 'object' || handle === null || typeof (handle as { fd?: unknown }).fd !== 'number') {
    const what = owner instanceof Server ? 'a listening server' : 'a socket';
    throw new Error(`baton: cannot read the handle of ${what}; this Node version (${process.version}) is not supported`);
  }
  return handle;
}

/** 6. The fd of a raw handle (to put it in a new master's stdio). */
export function handleFd(handle: object): number {
  return fdOf(handle, 'a socket handle');
}

function fdOf(handle: object | undefined, what: string): number {
  const fd = (handle as { fd?: unknown } | undefined)?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new Error(`baton: cannot read the file descriptor of ${what} (got ${String(fd)}); this Node version (${process.version}) is not supported`);
  }
  return fd;
}

/** 6. Closes a raw handle received over IPC (its duplicate of the fd). */
export function closeHandle(handle: object): void {
  const h = handle as { close?: () => void };
  if (typeof h.close !== 'function') return;
  try {
    h.close();
  } catch {
    // already closed
  }
}

type Pollable = { readStart?: () => number; readStop?: () => number };

/** libuv's UV_EALREADY (a negative errno): readStart() on a handle that is polled already. */
const EALREADY = -(osConstants.errno.EALREADY ?? 114);

/**
 * 7. The listening server stops accepting, its socket kept open: connections wait in the
 *    socket's queue for whoever polls it. False when this Node or handle cannot.
 */
export function pauseAccepting(server: Server): boolean {
  const h = (server as unknown as { _handle?: Pollable })._handle;
  if (typeof h?.readStart !== 'function' || typeof h.readStop !== 'function') return false;
  // uv_read_stop does nothing unless the stream is marked as read: mark it (the listening
  // socket is polled already, so this changes nothing else), then stop
  const started = h.readStart();
  if (started !== 0 && started !== EALREADY) return false;
  return h.readStop() === 0;
}

/** 7. A server paused by pauseAccepting() accepts again. False when it cannot. */
export function resumeAccepting(server: Server): boolean {
  const h = (server as unknown as { _handle?: Pollable })._handle;
  if (typeof h?.readStart !== 'function') return false;
  const r = h.readStart();
  return r === 0 || r === EALREADY;
}

/** What net.Server would have applied to a connection it accepted itself (see 4. above). */
export function connectionOptions(server: Server): { noDelay: boolean; keepAlive: boolean; keepAliveInitialDelay: number; allowHalfOpen: boolean } {
  const s = server as unknown as { noDelay?: unknown; keepAlive?: unknown; keepAliveInitialDelay?: unknown; allowHalfOpen?: unknown };
  return {
    noDelay: s.noDelay === true,
    keepAlive: s.keepAlive === true,
    keepAliveInitialDelay: typeof s.keepAliveInitialDelay === 'number' ? s.keepAliveInitialDelay * 1000 : 0,
    allowHalfOpen: s.allowHalfOpen === true,
  };
}

export function applyConnectionOptions(server: Server, socket: Socket): void {
  const o = connectionOptions(server);
  if (o.noDelay) socket.setNoDelay(true);
  if (o.keepAlive) socket.setKeepAlive(true, o.keepAliveInitialDelay);
  // made by baton's acceptor or received over IPC, the socket closes its side at the client's
  // FIN; a server that keeps connections half open (http does) may still answer after it
  socket.allowHalfOpen = o.allowHalfOpen;
}

/** Closes the handle a dead child never acknowledged (see 5. above); true when there was one. */
export function releasePendingHandle(child: ChildProcess): boolean {
  const c = child as unknown as { _pendingMessage?: { handle?: { close?: () => void } } | null };
  const handle = c._pendingMessage?.handle;
  if (!handle || typeof handle.close !== 'function') return false;
  closeHandle(handle);
  c._pendingMessage = null;
  return true;
}
