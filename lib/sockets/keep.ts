// Taking service back: an old master keeps a duplicate of every listening socket after it
// hands over, so that if the new master dies while this one is still draining, it can
// listen again and start a fresh generation (master.ts, takeBack). Under `baton run` the
// supervisor holds the sockets instead, and this is not used.
//
// A TCP socket the workers accept on is held by the master as a raw handle it never polls:
// at the hand-over that very handle is kept (Listener.keepRaw(), atHandOver()), nothing else
// is needed. A socket the master accepts on itself (a UNIX socket, `accept: 'master'`) is a
// listening server, and Node has no dup(2): closing the server closes its fd, and libuv cannot
// stop polling it without closing it (a listening pipe, or a socket the process bound itself,
// refuses readStop: ENOTCONN). So, just before it stops accepting, the old master spawns a tiny
// helper (lib/sockets/dup-child.ts) with those sockets in its stdio: the kernel duplicates them
// into the helper at spawn(), which is synchronous, so the old master may close its servers at
// once. The helper sends each socket back over IPC as a raw handle (a duplicate again, held here
// without accepting: lib/os/internals.ts, 6) and exits. A master that binds its own TCP sockets
// for its workers gets the raw handle the same way, once, at its start (lib/sockets/open.ts).
//
// The duplicates must not outlive their use: a listening socket that someone still holds
// keeps queueing connections that nobody accepts. They are closed as soon as the new
// master hands over in turn, stops, or this master stops.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { closeHandle } from '../os/internals';
import type { Listener } from './listeners';
import { isBaton } from '../messages';

const DELIVERY_TIMEOUT = 10_000;

export class KeptSockets {
  private readonly handles = new Map<string, object>();
  private readonly child: ChildProcess | undefined;
  /** Resolves with the handles by listener name once the helper delivered them all. */
  readonly ready: Promise<Map<string, object>>;
  private closed = false;
  /** Handles now listened on by a server (taken back): never closed here. */
  private readonly inUse = new Set<object>();

  /** At a hand-over: the raw handles this master holds are kept as they are; the helper duplicates the rest. */
  static atHandOver(listeners: Listener[]): KeptSockets {
    const held = new Map<string, object>();
    const rest: Listener[] = [];
    for (const l of listeners) {
      const h = l.keepRaw();
      if (h !== undefined) held.set(l.name, h);
      else rest.push(l);
    }
    return new KeptSockets(rest, held);
  }

  /** @param held handles of other sockets, kept as they are (this closes them with the rest) */
  constructor(listeners: Listener[], held: ReadonlyMap<string, object> = new Map()) {
    for (const [name, h] of held) this.handles.set(name, h);
    const names = listeners.map((l) => l.name);
    const expected = held.size + names.length;
    if (names.length === 0) {
      this.ready = Promise.resolve(this.handles);
      return;
    }
    let child: ChildProcess;
    try {
      // the user's NODE_OPTIONS (preloads) have no business in this helper
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      child = spawn(process.execPath, [path.join(__dirname, 'dup-child.js'), String(names.length)], {
        env,
        stdio: ['ignore', 'ignore', 'inherit', 'ipc', ...listeners.map((l) => l.handoffFd())],
      });
    } catch (err) {
      this.ready = Promise.reject(new Error(`cannot spawn the helper that keeps the sockets: ${(err as Error).message}`));
      this.ready.catch(() => undefined);
      return;
    }
    this.child = child;
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`the helper that keeps the sockets did not deliver them within ${DELIVERY_TIMEOUT} ms`)), DELIVERY_TIMEOUT);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        if (child.connected) child.disconnect();
        if (err) {
          child.kill('SIGKILL');
          reject(err);
        } else resolve(this.handles);
      };
      child.on('error', (err) => done(new Error(`the helper that keeps the sockets failed: ${err.message}`)));
      child.on('exit', (code, signal) => {
        if (this.handles.size < expected) done(new Error(`the helper that keeps the sockets ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it delivered them`));
      });
      child.on('message', (m: unknown, handle: unknown) => {
        if (!isBaton(m) || m.type !== 'kept' || typeof handle !== 'object' || handle === null) return;
        const name = names[(m as unknown as { index: number }).index];
        if (name === undefined) return;
        if (this.closed) closeHandle(handle);
        else this.handles.set(name, handle);
        if (this.handles.size === expected) done();
      });
    });
    this.ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The handle is now a listening server's: close() leaves it alone. */
  use(handle: object): void {
    this.inUse.add(handle);
  }

  /** Lets the duplicates go (the ones not taken back); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.handles.values()) if (!this.inUse.has(h)) closeHandle(h);
    this.handles.clear();
    // a helper that has not delivered yet still holds duplicates of its own
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
