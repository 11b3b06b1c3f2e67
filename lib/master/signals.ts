// What each signal asks of a master, as nginx has it: USR2 upgrade, HUP reload, TERM/INT/QUIT
// stop (a second TERM/INT stops at once: lib/os/signals.ts), TTIN/TTOU one worker more or
// less, USR1 passed on to the workers (nginx reopens its logs on USR1; a listener on it
// also keeps Node from starting its inspector).
import { STOP_SIGNALS, type StopSignal } from '../os/signals';

export interface SignalActions {
  upgrade(): void;
  reload(): void;
  stop(sig: StopSignal): void;
  /** +1 or -1 worker per generation. */
  scaleBy(delta: 1 | -1): void;
  passOn(sig: 'SIGUSR1'): void;
}

export function installSignals(a: SignalActions): void {
  process.on('SIGUSR2', () => a.upgrade());
  process.on('SIGHUP', () => a.reload());
  for (const sig of STOP_SIGNALS) process.on(sig, () => a.stop(sig));
  process.on('SIGTTIN', () => a.scaleBy(1));
  process.on('SIGTTOU', () => a.scaleBy(-1));
  process.on('SIGUSR1', () => a.passOn('SIGUSR1'));
}
