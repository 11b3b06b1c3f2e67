// Binding a UNIX socket path so that it survives the process that bound it (the listening
// socket, the control socket): libuv unlinks the path a server bound when that server is closed,
// so the socket is bound at a private temporary name and renamed into place, and the old
// server's close() unlinks a name that no longer exists. rename() also replaces a stale socket
// file atomically.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** Whether another process answers on the socket file at `target`. */
export function socketIsLive(target: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(target);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function codeError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/**
 * Listens on `target` via a temporary name and a rename. Refuses (EADDRINUSE) when a
 * live server answers there (unless `replaceLive`: a new master taking over from the
 * old one), and (EEXIST) when the path is not a socket.
 */
export async function listenUnixAtomically(server: net.Server, target: string, opts: { backlog?: number; mode?: number; replaceLive?: boolean } = {}): Promise<void> {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync(target);
  } catch {
    stat = undefined;
  }
  if (stat !== undefined) {
    if (!stat.isSocket()) throw codeError('EEXIST', 'the path exists and is not a socket; remove it or choose another path');
    if (!opts.replaceLive && await socketIsLive(target)) throw codeError('EADDRINUSE', 'another process already listens there; stop it or choose another path');
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.baton`);
  try {
    fs.unlinkSync(tmp);
  } catch {
    // normal: no leftover
  }
  await listen(server, { path: tmp, backlog: opts.backlog });
  try {
    if (opts.mode !== undefined) fs.chmodSync(tmp, opts.mode);
    fs.renameSync(tmp, target);
  } catch (err) {
    server.close();
    throw codeError((err as NodeJS.ErrnoException).code ?? 'error', `could not move the socket into place: ${(err as Error).message}`);
  }
}

/** `server.listen()` as a promise: rejects with the error it failed with. */
export function listen(server: net.Server, what: net.ListenOptions | object, backlog?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.removeListener('error', reject);
      resolve();
    };
    if (backlog === undefined) server.listen(what as net.ListenOptions, done);
    else server.listen(what as net.ListenOptions, backlog, done);
  });
}

/** Removes the socket file at `target` (only if it is a socket). */
export function unlinkSocket(target: string): void {
  try {
    if (fs.lstatSync(target).isSocket()) fs.unlinkSync(target);
  } catch {
    // already gone
  }
}
