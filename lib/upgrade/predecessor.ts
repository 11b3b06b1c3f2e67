// The new master's side of an upgrade: the channel to the process that spawned it (the old
// master; under `baton run`, the supervisor). upgrade.ts is the other side.
//
//   -> forked {pid}, worker-ready   while its generation starts (so a failure can kill them all)
//   -> ready                        every worker is ready
//   <- go                           start accepting
//   -> serving
//   <- release                      the old master handed over: the probation is over
//   -> handed-over | stopping       this master is no longer the one serving (the old master,
//                                   still draining, would otherwise take service back if it died)
//   disconnect                      the old master left (released this one, or died)
//
// Every message is a no-op once the channel is closed.
import { isBaton, msg, type FromSuccessor, type ToSuccessor } from '../messages';

export interface PredecessorEvents {
  go(): void;
  release(): void;
  gone(): void;
}

export class Predecessor {
  get connected(): boolean {
    return process.connected === true;
  }

  /** Follows what the old master says; only in a master spawned by an upgrade. */
  watch(on: PredecessorEvents): void {
    process.on('message', (m: unknown) => {
      if (!isBaton(m)) return;
      const message = m as ToSuccessor;
      if (message.type === 'go') on.go();
      if (message.type === 'release') on.release();
    });
    process.on('disconnect', () => on.gone());
  }

  send(m: FromSuccessor): void {
    if (!this.connected) return;
    try {
      process.send?.(msg(m));
    } catch {
      // the old master is gone
    }
  }
}
