// "A second signal forces the stop": the policy every baton process follows (master,
// supervisor, worker). The first SIGTERM, SIGINT or SIGQUIT stops gracefully; a second
// SIGTERM or SIGINT means "now"; SIGQUIT is the graceful stop and never forces. Only signals
// count: a stop asked for otherwise (the control socket, the supervisor's message after a
// Ctrl-C that reached every process already) is not a first signal.
export type StopSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT';
export const STOP_SIGNALS: readonly StopSignal[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];

export function isStopSignal(s: string): s is StopSignal {
  return (STOP_SIGNALS as readonly string[]).includes(s);
}

export class StopSignals {
  private count = 0;

  /** Counts `sig`: 'first', or for a repeated one 'force' (SIGTERM, SIGINT) or 'again' (SIGQUIT). */
  note(sig: StopSignal): 'first' | 'force' | 'again' {
    this.count++;
    if (this.count < 2) return 'first';
    return sig === 'SIGQUIT' ? 'again' : 'force';
  }
}
