// The rules of the options of issue 12: `probation` (a number or the canary's policy), `metrics`
// and `health` (lib/config/options.ts's table checks them).
//
// The canary's policy (CanaryPolicy, CANARY_DEFAULTS) is defined here, not beside its judge
// in lib/observe/canary.ts: it is what the `probation` option gives, and lib/config/ ranks
// below lib/observe/ (spec/repo/layout.spec.ts), so observe reads it from here.
import { addressOption, BatonOptionError, ints, onlyFields, plainObject, show, type Rule } from './rules';

export const PROBATION_DEFAULT_MS = 3_000;

/** What the probation judge (lib/observe/canary.ts) holds the new generation to. */
export interface CanaryPolicy {
  /** Largest allowed excess of the new 5xx share over the old one, 0 to 1. Default 0.05. */
  maxErrorRate: number;
  /** Largest allowed new p99 / old p99; 0 turns the latency rule off. Default 3. */
  maxLatencyRatio: number;
  /** Responses the new generation must have served to be judged by what it serves. Default 20. */
  minRequests: number;
  /** The old p99 counts as at least this (ms) in the latency rule. Default LATENCY_FLOOR_MS (lib/observe/canary.ts). */
  latencyFloorMs?: number;
  /** ms of each worker's serving, from its first request, left out as its warm-up. Default: a third of probation. */
  warmupMs?: number;
}

export const CANARY_DEFAULTS: Readonly<CanaryPolicy> = Object.freeze({ maxErrorRate: 0.05, maxLatencyRatio: 3, minRequests: 20 });

/** `probation` checked: `ms` the new generation serves beside the old one (0 disables), and the canary's policy. */
export type ProbationPolicy = Required<Omit<CanaryPolicy, 'latencyFloorMs'>> & { ms: number };

/** The warm-up when none is given: a third of probation (1000 ms of the default 3000). */
function defaultWarmup(ms: number): number {
  return Math.floor(ms / 3);
}

/** `probation` when not given. */
export const PROBATION_DEFAULTS: Readonly<ProbationPolicy> = Object.freeze({ ...CANARY_DEFAULTS, ms: PROBATION_DEFAULT_MS, warmupMs: defaultWarmup(PROBATION_DEFAULT_MS) });

/** A checked `metrics` or `health` address. */
export type EndpointOption = { port: number; host?: string } | { path: string };

const MAX_MS = 600_000;
const probationMs = ints(0, MAX_MS, ' (milliseconds, 0 disables)');

/** The fields of `probation: { ... }` but `warmup` (bounded by `ms`), each with its rule, checked in this order. */
const POLICY: { [K in Exclude<keyof ProbationPolicy, 'warmupMs'>]: Rule<number> } = {
  ms: probationMs,
  maxErrorRate: (v, name) => finite(name, v, (r) => r >= 0 && r <= 1, 'a number from 0 to 1 (the largest allowed excess of the new generation\'s 5xx share over the old one\'s: 0.05 is 5 points)',
    typeof v === 'number' && v > 1 && v <= 100 ? ` For ${v}% write ${v / 100}.` : ''),
  maxLatencyRatio: (v, name) => finite(name, v, (r) => (r === 0 || r >= 1) && r <= 1000, 'a number from 1 to 1000 (the largest allowed new p99 / old p99), or 0 to not judge latency'),
  minRequests: ints(1, 1_000_000_000, ' (responses the new generation must serve before it is judged by them)'),
};

/**
 * `probation`: a number of ms (0 disables), or `{ ms?, maxErrorRate?, maxLatencyRatio?,
 * minRequests?, warmup? }`; the missing fields get their defaults.
 */
export function probationOption(v: unknown): ProbationPolicy {
  if (typeof v === 'number') {
    const ms = probationMs(v, 'probation', {});
    return { ...PROBATION_DEFAULTS, ms, warmupMs: defaultWarmup(ms) };
  }
  if (!plainObject(v)) {
    throw new BatonOptionError('probation', `must be a number of milliseconds (0 disables) or an object such as { ms: 5000, maxErrorRate: 0.05, maxLatencyRatio: 3, minRequests: 20 }, got ${show(v)}.`);
  }
  onlyFields('probation', v, [...Object.keys(POLICY), 'warmup'], 'a probation field');
  const out = { ...PROBATION_DEFAULTS };
  for (const [k, rule] of Object.entries(POLICY)) {
    if (v[k] !== undefined) out[k as keyof typeof POLICY] = rule(v[k], `probation.${k}`, v);
  }
  out.warmupMs = defaultWarmup(out.ms);
  if (v.warmup !== undefined) {
    const w = v.warmup;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || (out.ms > 0 && w >= out.ms)) {
      throw new BatonOptionError('probation.warmup', `must be an integer number of ms from 0 to less than probation.ms (${out.ms}): how long each new worker serves, from its first request, before the canary counts its responses (its first, slower ones are left out), got ${show(w)}.`);
    }
    out.warmupMs = w;
  }
  if (out.ms === 0 && Object.keys(v).some((k) => k !== 'ms')) {
    throw new BatonOptionError('probation.ms', 'is 0, which disables probation: the other fields would judge nothing. Give ms > 0, or remove them.');
  }
  return out;
}

/** `v`, a finite number that `ok` accepts; else it must be `rule` (and `hint` says more). Throws BatonOptionError. */
function finite(name: string, v: unknown, ok: (n: number) => boolean, rule: string, hint = ''): number {
  if (typeof v === 'number' && Number.isFinite(v) && ok(v)) return v;
  throw new BatonOptionError(name, `must be ${rule}, got ${show(v)}.${hint}`);
}

/**
 * `metrics` / `health`: `{ port, host? }` (port as a number or a string of digits) or
 * `{ path }` (a UNIX socket, resolved, at most 107 bytes); false: none.
 */
export function endpointOption(v: unknown, name: string): EndpointOption | undefined {
  if (v === false) return undefined;
  const example = `{ port: ${name === 'metrics' ? 9100 : 9101}, host: '127.0.0.1' } or { path: '/run/app/${name}.sock' }`;
  if (!plainObject(v)) {
    const hint = typeof v === 'number' || typeof v === 'string' ? ` For a port write { port: ${show(v)} }.` : v === true ? ' true names no address.' : '';
    throw new BatonOptionError(name, `must be an object such as ${example}, or false for none, got ${show(v)}.${hint}`);
  }
  onlyFields(name, v, ['port', 'host', 'path'], `a field of ${name}`);
  return addressOption(name, v, `give a TCP "port" or a UNIX socket "path", e.g. ${example}.`);
}
