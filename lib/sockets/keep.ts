// The keep helper: how a master comes to hold a socket it bound itself (lib/sockets/ledger.ts),
// once per socket, at that master's start. A socket a process bound itself cannot be left open
// and unpolled (libuv refuses readStop: ENOTCONN), and Node has no dup(2). So the master runs
// this file as a tiny helper process with those sockets in its stdio (fd 4 on): the kernel
// duplicates them into the helper at spawn(), and the helper sends each back over IPC as a raw
// handle (a duplicate again, held by the master without accepting: lib/os/internals.ts, 6) and
// exits. An inherited socket needs no helper: its fd is not one the master bound, and nothing
// here runs at a hand-over.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { closeHandle, socketHandle } from '../os/internals';
import { isBaton, msg } from '../messages';

const DELIVERY_TIMEOUT = 10_000;
/** Where the helper finds the sockets: after stdin, stdout, stderr and the IPC channel. */
const HELPER_FIRST_FD = 4;

/** A duplicate of each socket (by fd), from the helper; rejects (closing what came) if it fails. */
export function duplicate(fds: number[]): Promise<object[]> {
  const got: object[] = [];
  let child: ChildProcess;
  try {
    // the user's NODE_OPTIONS (preloads) have no business in this helper
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    child = spawn(process.execPath, [path.join(__dirname, 'keep.js'), String(fds.length)], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc', ...fds] });
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

/** The helper's side: each socket of its stdio back to the master as a raw handle; it exits when the master disconnects (or dies). */
function helper(): void {
  const count = Number(process.argv[2]);
  if (!Number.isInteger(count) || count < 0 || typeof process.send !== 'function') {
    process.stderr.write('baton: the keep helper is started by a master (lib/sockets/ledger.ts), not by hand\n');
    process.exit(2);
  }
  // A listener keeps the channel (and this process) alive until the master disconnects:
  // Node sends a second handle only once the first is acknowledged.
  process.on('disconnect', () => process.exit(0));
  for (let i = 0; i < count; i++) {
    const socket = new net.Socket({ fd: HELPER_FIRST_FD + i, readable: false, writable: false });
    process.send(msg({ type: 'kept', index: i }), socketHandle(socket) as never);
  }
}

if (require.main === module) helper();
