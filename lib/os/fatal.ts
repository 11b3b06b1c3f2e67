// With `logFormat: 'json'`, an uncaught error is one JSON record (level 60, `err` with its
// stack) instead of Node's raw stack lines between the records, which a log shipper would
// take for a dozen events of unknown level.
//
// Node prints an uncaught error and exits 1 unless somebody listens to 'uncaughtException'.
// baton listens, and does what Node would, as a record: only when nobody else listens
// (an app's own handler keeps Node's "the handler decides" meaning, and so does the
// worker's start-up handler, which reports the error itself). Errors thrown before baton
// loads (a syntax error in the entry file) are written the same way by the preload of
// lib/upgrade/early.ts, whose handler this one replaces.
import type { Logger } from '../log/log';

/** The preload's JSON 'uncaughtException' handler (lib/upgrade/early.ts), which this file replaces. */
export const EARLY_FATAL = Symbol.for('baton.early-fatal');

/** Called by listen(): from now on the options of this process decide (text: Node's own output). */
export function takeOverUncaught(log: Logger): void {
  const early = (globalThis as Record<symbol, unknown>)[EARLY_FATAL];
  if (typeof early === 'function') process.removeListener('uncaughtException', early as () => void);
  if (log.format !== 'json') return;
  process.on('uncaughtException', (err, origin) => {
    if (process.listenerCount('uncaughtException') > 1) return;
    const what = origin === 'unhandledRejection' ? 'unhandled promise rejection' : 'uncaught exception';
    log.fatal('uncaught-exception', `${what}: ${err instanceof Error ? err.message : String(err)}`, { err });
    process.exit(1);
  });
}
