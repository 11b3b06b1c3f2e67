// The checks every option goes through, written once: the error type that names the
// option, what was given (shown as the user wrote it), integers in a range, one of a set
// (with its environment variable), TCP ports, UNIX socket paths and hosts (for `port`,
// `host`, `path` and each entry of `listeners`), and the option a typo most likely meant.
import * as path from 'node:path';

/**
 * How an option's value (given, not undefined) is checked: returns the value baton uses, or throws a
 * BatonOptionError naming `name`. `opts`: every option as given, for a rule that depends on another;
 * `env`: the environment variable the value came from, if it did.
 */
export type Rule<T> = (v: unknown, name: string, opts: Record<string, unknown>, env?: string) => T;

export class BatonOptionError extends TypeError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`baton: option "${option}" ${message}`);
    this.name = 'BatonOptionError';
    this.option = option;
  }
}

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** An object, not null nor an array: what an option given as `{ ... }` must be. */
export function plainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Throws for the first field of `v` not in `known`, named `at.field`; `what` says whose fields they are. */
export function onlyFields(at: string, v: Record<string, unknown>, known: readonly string[], what: string): void {
  const unknown = Object.keys(v).find((k) => !known.includes(k));
  if (unknown !== undefined) throw new BatonOptionError(`${at}.${unknown}`, `is not ${what}; known fields: ${known.join(', ')}.`);
}

/** An integer from `min` to `max`; `unit` follows the range in the message. */
export function ints(min: number, max: number, unit = ''): Rule<number> {
  return (v, name) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new BatonOptionError(name, `must be an integer from ${min} to ${max}${unit}, got ${show(v)}.`);
    }
    return v;
  };
}

/** A true/false option. */
export const bool: Rule<boolean> = (v, name) => {
  if (typeof v !== 'boolean') throw new BatonOptionError(name, `must be true or false, got ${show(v)}.`);
  return v;
};

const PORT_RULE = 'must be an integer from 0 to 65535, or a string of digits such as "8080" (as environment variables are)';

/** A TCP port: an integer, or a string of digits (`port: process.env.PORT`). Throws BatonOptionError. */
export function portOption(v: unknown, name: string): number {
  const n = typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  let hint = '';
  if (typeof v === 'number' && Number.isNaN(v)) hint = ' Number() of an unset or non-numeric environment variable is NaN: pass the variable itself (port: process.env.PORT), or check it.';
  else if (v === '') hint = ' An empty string: is the environment variable set but empty?';
  throw new BatonOptionError(name, `${PORT_RULE}, got ${show(v)}.${hint}`);
}

/** One of `allowed`; the message names the environment variable the value came from. */
export function oneOf<T extends string>(allowed: readonly T[]): Rule<T> {
  return (v, name, _opts, env) => {
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    const where = env !== undefined ? ` (from the environment variable ${env})` : '';
    throw new BatonOptionError(name, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}${where}, got ${show(v)}.`);
  };
}

/** Edit distance (insertions, deletions, substitutions) between two words. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The one of `known` a typo most likely meant: the nearest by edit distance, else a shared prefix. */
export function closest(word: string, known: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3))) return best;
  return known.find((k) => k.toLowerCase().startsWith(lower.slice(0, 4)) || lower.startsWith(k.toLowerCase()));
}

/** A UNIX socket path option: a non-empty string, alone, short enough once resolved. Throws BatonOptionError. */
export function socketPathOption(name: string, v: unknown, tcpToo: boolean): string {
  if (typeof v !== 'string' || v === '') throw new BatonOptionError(name, `must be a non-empty string naming a UNIX socket file, got ${show(v)}.`);
  if (tcpToo) throw new BatonOptionError(name, 'cannot be combined with "port" or "host": a listener is either a UNIX socket or a TCP address.');
  return shortSocketPath(name, path.resolve(v), 'choose a shorter path');
}

/** `resolved`, a UNIX socket path, when it has at most the 107 bytes one may have; `shorter` says what to do instead. */
export function shortSocketPath(name: string, resolved: string, shorter: string): string {
  if (Buffer.byteLength(resolved) <= 107) return resolved;
  throw new BatonOptionError(name, `resolves to ${resolved}, longer than the 107 bytes a UNIX socket path may have; ${shorter}.`);
}

/** A host option: a non-empty string. Throws BatonOptionError. */
export function hostOption(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new BatonOptionError(name, `must be a non-empty string such as "127.0.0.1" or "::", got ${show(v)}.`);
  return v;
}

/**
 * A listener's address at `at` (a `listeners` entry, `metrics`, `health`): `{ path }`, a UNIX
 * socket resolved, or `{ port, host? }`; `portNeeded` says what to give when it has neither.
 */
export function addressOption(at: string, e: Record<string, unknown>, portNeeded: string): { path: string } | { port: number; host?: string } {
  if (e.path !== undefined) return { path: socketPathOption(`${at}.path`, e.path, e.port !== undefined || e.host !== undefined) };
  if (e.port === undefined) throw new BatonOptionError(`${at}.port`, `is required: ${portNeeded}`);
  const port = portOption(e.port, `${at}.port`);
  return e.host === undefined ? { port } : { port, host: hostOption(e.host, `${at}.host`) };
}
