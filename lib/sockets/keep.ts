// Keeping the listening sockets, in the two moments it happens.
//
// At a master's start, once per socket it binds itself (lib/sockets/open.ts): a socket a process
// bound itself cannot be left open and unpolled (libuv refuses readStop: ENOTCONN), and Node has no
// dup(2). So the master spawns a tiny helper (lib/sockets/dup-child.ts) with those sockets in its
// stdio: the kernel duplicates them into the helper at spawn(), and the helper sends each back over
// IPC as a raw handle (a duplicate again, held here without accepting: lib/os/internals.ts, 6) and
// exits. The master holds the socket through that duplicate from then on (Listener.hold()). An
// inherited socket needs no helper: its fd is not one this process bound.
//
// At a hand-over, for taking service back (lib/upgrade/take-back.ts): the old master keeps every
// socket as it holds it, unpolled (Listener.keepRaw(): the raw handle stays, a server pauses); no
// process is involved. Under `baton run` the supervisor holds the sockets instead, and this is not
// used. The kept sockets must not outlive their use: a listening socket that someone still holds
// keeps queueing connections that nobody accepts. They are let go as soon as the new master hands
// over in turn, stops, or this master stops.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { closeHandle } from '../os/internals';
import type { Listener } from './listeners';
import { isBaton } from '../messages';

const DELIVERY_TIMEOUT = 10_000;

/** A duplicate of each socket (by fd), from the helper; rejects (closing what came) if it fails. */
export function duplicate(fds: number[]): Promise<object[]> {
  const got: object[] = [];
  let child: ChildProcess;
  try {
    // the user's NODE_OPTIONS (preloads) have no business in this helper
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    child = spawn(process.execPath, [path.join(__dirname, 'dup-child.js'), String(fds.length)], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc', ...fds] });
  } catch (err) {
    return Promise.reject(new Error(`cannot spawn the helper that keeps the sockets: ${(err as Error).message}`));
  }
  // settled only once the helper has exited: it never outlives the start that needed it
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the helper that keeps the sockets did not deliver them within ${DELIVERY_TIMEOUT} ms`)), DELIVERY_TIMEOUT);
    let delivered = 0;
    let failed: Error | undefined;
    const fail = (err: Error): void => {
      failed ??= err;
      child.kill('SIGKILL');
    };
    child.on('error', (err) => {
      fail(new Error(`the helper that keeps the sockets failed: ${err.message}`));
      if (child.pid !== undefined) return; // its exit settles
      clearTimeout(timer);
      reject(failed);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (delivered === fds.length && failed === undefined) return resolve(got);
      for (const h of got) if (h !== undefined) closeHandle(h);
      reject(failed ?? new Error(`the helper that keeps the sockets ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it delivered them`));
    });
    child.on('message', (m: unknown, handle: unknown) => {
      if (!isBaton(m) || m.type !== 'kept' || typeof handle !== 'object' || handle === null) return;
      const i = (m as unknown as { index: number }).index;
      if (!(i >= 0 && i < fds.length) || got[i] !== undefined) return closeHandle(handle);
      got[i] = handle;
      if (++delivered === fds.length && child.connected) child.disconnect(); // the helper exits
    });
  });
}

/** The sockets an old master keeps after a hand-over. */
export class KeptSockets {
  /** The handles by listener name; rejects when a socket could not be kept. */
  readonly ready: Promise<Map<string, object>>;
  private readonly kept: Listener[] = [];

  static atHandOver(listeners: Listener[]): KeptSockets {
    return new KeptSockets(listeners);
  }

  private constructor(listeners: Listener[]) {
    const handles = new Map<string, object>();
    const lost: string[] = [];
    for (const l of listeners) {
      const h = l.keepRaw();
      if (h === undefined) lost.push(l.address());
      else {
        handles.set(l.name, h);
        this.kept.push(l);
      }
    }
    this.ready = lost.length === 0 ? Promise.resolve(handles)
      : Promise.reject(new Error(`cannot keep ${lost.join(', ')}: this master accepted on a socket it bound itself (the helper failed at its start)`));
    this.ready.catch(() => undefined);
  }

  /** Lets the kept sockets go; one taken back (Listener.resume()) is open again and stays. Idempotent. */
  close(): void {
    for (const l of this.kept.splice(0)) l.release();
  }
}
