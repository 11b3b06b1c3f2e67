// The intake (lib/pool/intake.ts) where the workers accept: the generation that serves
// accepts on duplicates of the master's TCP sockets (lib/pool/accepting.ts in each generation,
// lib/worker/acceptor.ts in each worker). Here only which generation that is.
import type { Generation } from './generation';
import type { Intake } from './intake';
import type { Listener } from '../sockets/ledger';

export class WorkersAccept implements Intake {
  /** The generation its workers accept for, or last did (held). */
  private current: Generation | undefined;

  /** @param sockets the master's listening sockets (those the workers accept on: TCP; none: nothing to do) */
  constructor(private readonly sockets: () => Listener[]) {}

  serve(gen: Generation): void {
    const before = this.current;
    this.current = gen;
    // the new one first: a connection never finds nobody accepting in between
    gen.acceptOn(this.sockets());
    if (before !== undefined && before !== gen) before.accepting.off();
  }

  hold(): void {
    this.current?.accepting.off();
  }
}
