// beforeExit(fn): the app's clean-up before a baton process leaves (docs/options.md, "Clean-up
// before exit"): after a worker's connections are done ('drain' comes too early: requests still
// run), or a master's generations are gone; bounded by exitTimeout. A function that throws,
// rejects or is still running then is logged (one line each), and never keeps the process.
import type { Logger } from '../log/log';
import { errorText } from './mistakes';

/** A clean-up function: it may return a promise, which the process waits for. */
export type ExitHook = (reason: string) => unknown;

export class ExitHooks {
  private readonly fns: ExitHook[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  add(fn: unknown): void {
    if (typeof fn !== 'function') {
      throw new TypeError(`baton: beforeExit() takes a function (reason) => void | Promise<void>, got ${fn === null ? 'null' : typeof fn}`);
    }
    this.fns.push(fn as ExitHook);
  }

  /** Calls every function once with `reason`; resolves (never rejects) when all settled or at `timeoutMs`. */
  run(reason: string, timeoutMs: number): Promise<void> {
    this.running ??= this.runAll(reason, timeoutMs);
    return this.running;
  }

  private async runAll(reason: string, timeoutMs: number): Promise<void> {
    const fns = this.fns.slice();
    if (fns.length === 0) return;
    const started = Date.now();
    this.log.debug('before-exit', `running ${fns.length} beforeExit function(s) (${reason}); exitTimeout ${timeoutMs} ms`);
    const pending = new Set<string>();
    const calls = fns.map((fn, i) => {
      const name = `beforeExit #${i + 1}${fn.name ? ` (${fn.name})` : ''}`;
      pending.add(name);
      // a synchronous throw becomes a rejection
      return new Promise<unknown>((resolve) => resolve(fn(reason))).catch((err: unknown) => {
        this.log.error('before-exit-failed', `${name} failed: ${errorText(err)}`);
      }).finally(() => pending.delete(name));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')));
    const result = await Promise.race([Promise.all(calls), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.log.error('before-exit-timeout', `${[...pending].join(', ')} still running at exitTimeout (${timeoutMs} ms): exiting without waiting for ${pending.size === 1 ? 'it' : 'them'}`);
    } else this.log.debug('before-exit-done', `beforeExit function(s) done in ${Date.now() - started} ms`);
  }
}
