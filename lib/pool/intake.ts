// How new connections reach the workers of a master: two strategies behind this one interface.
// Which one serves a listener is chosen once, when the master opens its sockets
// (lib/sockets/ledger.ts: the `accept` option; a UNIX socket always goes through the master):
// - the workers accept (lib/pool/workers-accept.ts): the generation that serves gets duplicates
//   of the TCP sockets, its workers accept on them themselves and keep fair on their own
//   (lib/worker/acceptor.ts); no connection passes through the master;
// - the master dispatches (lib/pool/dispatch.ts): it accepts, and hands each connection to a
//   ready worker of the generation that serves.
// The master tells both the same two things, at the same moments (start, reload, roll-back,
// take-back, an upgrade's probation); what each does with them is its own.
import type { Generation } from './generation';

export interface Intake {
  /** `gen` takes the new connections from now on; the generation that took them before stops. */
  serve(gen: Generation): void;
  /**
   * The next master's probation: it alone should take new connections, which wait in the
   * sockets' queues meanwhile. The workers stop accepting; the master that dispatches stops
   * polling the sockets it accepts on (lib/pool/dispatch.ts). serve() ends it (a failed upgrade).
   */
  hold(): void;
}
