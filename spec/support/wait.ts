// Every wait of the specs, in real time and with a deadline: for a condition (waitFor), that a
// condition keeps holding (holds), for a promise (within). Tests never sleep for a guessed time:
// they wait for what they expect, and a timeout says what never came and how long it was given.
// The timers are the real ones, captured when this file loads, so the waits keep working while
// sinon fakes the global timers of the code under test.

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realNow = Date.now.bind(Date);

function realDelay(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/**
 * Calls `check` every `everyMs` until it returns something other than undefined or false, and
 * returns that. `check` may be asynchronous (a request, a process per look); each look is
 * awaited before the next. `what` may be a function: it is read only when the wait times out,
 * so the message can tell the state at that moment.
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = realNow() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (realNow() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await realDelay(everyMs);
  }
}

/** Asserts `check` stays true for `ms` (polled), e.g. "still alive 300 ms later". */
export async function holds(what: string, check: () => boolean, ms: number, everyMs = 20): Promise<void> {
  const end = realNow() + ms;
  for (;;) {
    if (!check()) throw new Error(`${what} stopped holding before ${ms} ms had passed`);
    if (realNow() >= end) return;
    await realDelay(everyMs);
  }
}

/** Resolves with the promise's value, or rejects after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = realSetTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => { realClearTimeout(t); resolve(v); },
      (e) => { realClearTimeout(t); reject(e); },
    );
  });
}
