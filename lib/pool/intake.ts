// How new connections reach the workers of a master: two strategies behind this one interface,
// chosen per listener when the master opens its sockets (docs/architecture.md, "Processes and
// generations"): the workers accept (lib/pool/workers-accept.ts: TCP), or the master dispatches
// (lib/pool/dispatch.ts: UNIX, and every socket with `accept: 'master'`). The master tells both
// the same two things at the same moments; what each does with them is its own.
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
