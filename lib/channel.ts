// Sending on an IPC channel that may be gone: every baton process talks to others (master
// and workers, old and new master, supervisor and masters) that can die at any moment, and
// a message to a process that is gone is nobody's business but that process's exit
// handler. So each send is: if the channel is connected, send (wrapped as a baton message);
// swallow what send() throws on a channel closing under it, and what it reports later: a send
// always has a callback, because without one a write that fails (EPIPE: the other end died a
// moment ago, and this process has not yet read the EOF that makes it 'disconnect') is emitted
// as an 'error' event on `process` (and on cluster's Worker), which nobody handles: a worker
// whose master was SIGKILLed crashed that way mid-request. `written` is called once: when the
// message is in the channel (or failed to be), at once when it could not be sent, or after
// `within` ms.
import { msg } from './messages';

/** A ChildProcess, `process` in a child, or a cluster Worker. */
export interface Channel {
  connected?: boolean;
  isConnected?: () => boolean;
  send?: (...args: never[]) => boolean;
}

export interface SendOptions {
  /** A handle (socket, server) that travels with the message. */
  handle?: object;
  /** Node's keepOpen for a socket handle: the sender keeps its copy open. */
  keepOpen?: boolean;
  written?: () => void;
  /** ms after which `written` is called even if the channel has not said so. */
  within?: number;
}

function connected(ch: Channel): boolean {
  return ch.isConnected ? ch.isConnected() : ch.connected === true;
}

/** Sends `m` if `ch` is connected; never throws. Returns whether it was handed to the channel. */
export function sendIfConnected<T extends { type: string }>(ch: Channel | undefined, m: T, o: SendOptions = {}): boolean {
  const { written } = o;
  if (ch === undefined || !connected(ch) || typeof ch.send !== 'function') {
    written?.();
    return false;
  }
  let once = written;
  const done = (): void => {
    const f = once;
    once = undefined;
    clearTimeout(timer);
    f?.();
  };
  const timer = written && o.within !== undefined ? setTimeout(done, o.within) : undefined;
  const send = ch.send as unknown as (message: unknown, handle?: unknown, options?: object, cb?: () => void) => boolean;
  try {
    send.call(ch, msg(m), o.handle, o.keepOpen !== undefined ? { keepOpen: o.keepOpen } : {}, done);
    return true;
  } catch {
    // the other side is gone: its exit is handled where it is followed
    done();
    return false;
  }
}
