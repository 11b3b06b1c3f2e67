// A worker accepting connections itself, on the TCP listening sockets its master holds.
//
// The master holds each TCP socket as a raw handle it never polls (lib/sockets/listeners.ts) and
// sends this worker duplicates of it over IPC (each send is a new fd here). The worker
// listens on one (`server.listen(handle)`: a TCP handle is listened on in the worker
// itself, not routed through cluster) and keeps the others as spares. So the master is
// off the per-connection path: no accept, no IPC send, no acknowledgement per connection.
//
// Node cannot stop accepting on a listening handle without closing it, so pausing (the
// master's fairness control, lib/pool/balance.ts, or a generation that no longer takes new
// connections) closes this worker's duplicate, and resuming listens on a spare. Closing a
// duplicate loses nothing: connections waiting in the kernel's queue belong to the socket,
// which the master and the other workers still hold. The master tops the spares up.
import * as net from 'node:net';
import { closeHandle } from '../os/internals';

export interface AcceptorEvents {
  /** A connection this worker accepted on `listener`. */
  connection: (listener: string, socket: net.Socket) => void;
  /** listen() on a handle failed (the master logs it from the worker's report). */
  error: (listener: string, err: Error) => void;
}

interface Slot {
  server: net.Server | undefined;
  spares: object[];
  backlog: number;
}

export class Acceptor {
  private readonly slots = new Map<string, Slot>();
  /** The master wants this worker to accept. */
  private wanted = false;
  private closed = false;
  /** Connections accepted since start: the master's fairness control reads the rate. */
  accepted = 0;

  constructor(private readonly on: AcceptorEvents) {}

  /** A duplicate of listener's socket: used at once when this worker should accept and has none listening, else kept. */
  take(listener: string, handle: object, backlog: number): void {
    if (this.closed) {
      closeHandle(handle);
      return;
    }
    let slot = this.slots.get(listener);
    if (slot === undefined) {
      slot = { server: undefined, spares: [], backlog };
      this.slots.set(listener, slot);
    }
    slot.backlog = backlog;
    slot.spares.push(handle);
    if (this.wanted && slot.server === undefined) this.listen(listener, slot);
  }

  /** Starts (or resumes) accepting on every listener this worker has a handle for. */
  resume(): void {
    if (this.closed) return;
    this.wanted = true;
    for (const [name, slot] of this.slots) if (slot.server === undefined) this.listen(name, slot);
  }

  /** Stops accepting for now; what was accepted is served as usual. */
  pause(): void {
    this.wanted = false;
    for (const slot of this.slots.values()) this.stop(slot);
  }

  /** For good (drain, exit): every duplicate this worker holds is closed. */
  close(): void {
    this.pause();
    this.closed = true;
    for (const slot of this.slots.values()) for (const h of slot.spares.splice(0)) closeHandle(h);
  }

  get accepting(): boolean {
    for (const slot of this.slots.values()) if (slot.server !== undefined) return true;
    return false;
  }

  /** Listeners whose spare duplicates ran out: the master sends another. */
  needs(): string[] {
    const out: string[] = [];
    for (const [name, slot] of this.slots) if (slot.spares.length === 0) out.push(name);
    return out;
  }

  private listen(name: string, slot: Slot): void {
    const handle = slot.spares.shift();
    if (handle === undefined) return; // the master sends more
    const server = net.createServer((socket) => {
      this.accepted++;
      this.on.connection(name, socket);
    });
    server.on('error', (err) => {
      if (slot.server === server) slot.server = undefined;
      this.on.error(name, err);
    });
    slot.server = server;
    // the backlog as its own argument: listen(2) on the shared socket sets it anew
    server.listen(handle as net.ListenOptions, slot.backlog);
  }

  private stop(slot: Slot): void {
    const server = slot.server;
    slot.server = undefined;
    // close() stops accepting at once; its callback would wait for the connections, which
    // the app's server owns (net.Server.close closes only the listening handle)
    if (server?.listening) server.close();
  }
}
