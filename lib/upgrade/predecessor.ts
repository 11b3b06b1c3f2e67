// The new master's side of an upgrade: the channel to the process that spawned it (the old
// master; under `baton run`, the supervisor). lib/upgrade/attempt.ts is the other side; the
// messages both exchange are drawn in docs/architecture.md.
//
// Its first generation serves on probation from 'serving' until the release (or until the
// old master is gone: nobody to roll back to). Every message is a no-op once the channel is
// closed. What the old master says arrives as events: 'go', 'roll-back', 'gone'.
import { EventEmitter } from 'node:events';
import { sendIfConnected, type Channel } from '../channel';
import { isBaton, type FromSuccessor, type ToSuccessor } from '../messages';
import { Probation } from '../pool/probation';
import { toTallyData } from './canary';
import type { Tally } from '../observe/metrics';
import type { Warmup } from '../observe/canary';

export interface PredecessorEvents {
  /** Start accepting. */
  go: [];
  /** The old master's canary found this release worse: drain, leaving the sockets' files and the pid file to it. */
  'roll-back': [reason: string];
  /** The old master left (released this one, or died). */
  gone: [];
}

/** This process's channel to its parent (`process`; a fake in unit specs). */
export interface ParentChannel extends Channel {
  on(event: 'message' | 'disconnect', fn: (m: unknown) => void): unknown;
}

export class Predecessor extends EventEmitter<PredecessorEvents> {
  /** The first generation's probation (lib/pool/probation.ts). */
  readonly probation: Probation;
  /**
   * The first generation's responses so far but its workers' warm-up, and how many that left out,
   * for the old master's canary (set by the master's context).
   */
  report: (() => { tally: Tally; left?: Warmup }) | undefined;

  constructor(probationMs: number, private readonly channel: ParentChannel = process) {
    super();
    this.probation = new Probation(probationMs);
  }

  /** Follows what the old master says; only in a master spawned by an upgrade. */
  watch(): void {
    this.channel.on('message', (m: unknown) => {
      if (!isBaton(m)) return;
      const message = m as ToSuccessor;
      if (message.type === 'go') this.emit('go');
      if (message.type === 'release') this.probation.end(); // the old master has handed over
      if (message.type === 'report' && this.report) {
        const { tally, left } = this.report();
        this.send({ type: 'tally', tally: toTallyData(tally, left) });
      }
      if (message.type === 'roll-back') {
        this.probation.end(); // a worker lost while draining fails nothing any more
        this.emit('roll-back', typeof message.reason === 'string' ? message.reason : 'rolled back');
      }
    });
    this.channel.on('disconnect', () => {
      // with nobody to roll back to, a probation makes no sense any more
      this.probation.end();
      this.emit('gone');
    });
  }

  /** Every worker is ready: asks the old master to say go; false when there is none to ask. */
  askToGo(): boolean {
    if (this.channel.connected !== true) return false;
    this.send({ type: 'ready', pid: process.pid });
    return true;
  }

  send(m: FromSuccessor): void {
    sendIfConnected(this.channel, m);
  }
}
