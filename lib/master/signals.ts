// What each signal asks of a master, as nginx has it: USR2 upgrade, HUP reload, TERM/INT/QUIT
// stop (a second TERM/INT stops at once: lib/os/signals.ts), TTIN/TTOU one worker more or
// less, USR1 passed on to the workers (nginx reopens its logs on USR1; a listener on it
// also keeps Node from starting its inspector).
import { STOP_SIGNALS, type StopSignal } from '../os/signals';

/** What the signals ask of: the master (lib/master/master.ts). */
export interface SignalTarget {
  readonly workers: number;
  upgrade(): unknown;
  reload(): unknown;
  stop(sig: StopSignal): void;
  scale(n: number): unknown;
}

/** `passOn`: USR1 goes to every worker. */
export function installSignals(m: SignalTarget, passOn: (sig: 'SIGUSR1') => void): void {
  process.on('SIGUSR2', () => void m.upgrade());
  process.on('SIGHUP', () => void m.reload());
  for (const sig of STOP_SIGNALS) process.on(sig, () => m.stop(sig));
  process.on('SIGTTIN', () => void m.scale(m.workers + 1));
  process.on('SIGTTOU', () => void m.scale(m.workers - 1));
  process.on('SIGUSR1', () => passOn('SIGUSR1'));
}
