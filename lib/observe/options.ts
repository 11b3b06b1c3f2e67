// The options of issue 12: `probation` (a number or the canary's policy), `metrics`, `health`,
// `shutdownDelay`. Checked before any process is forked, in the style of lib/options.ts: an
// error names the option, says what was given and what to do.
//
// Why apart from lib/options.ts: these grew together with the rest of lib/observe/ and are
// wired into resolveOptions() by the config code, which passes its own error constructor
// (BatonOptionError) as `fail`; without one, a TypeError of the same shape is thrown.
import * as path from 'node:path';
import { CANARY_DEFAULTS } from './canary';

export const OBSERVE_OPTIONS = ['metrics', 'health', 'shutdownDelay'] as const;
export const PROBATION_FIELDS = ['ms', 'maxErrorRate', 'maxLatencyRatio', 'minRequests'] as const;
export const PROBATION_DEFAULT_MS = 1_000;
export const SHUTDOWN_DELAY_DEFAULT = 0;

/** Builds the error to throw; lib/options.ts passes `(o, m) => new BatonOptionError(o, m)`. */
export type OptionFail = (option: string, message: string) => Error;

/** The default `fail`: a TypeError shaped like BatonOptionError (name, option, message). */
export class ObserveOptionError extends TypeError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`baton: option "${option}" ${message}`);
    this.name = 'BatonOptionError';
    this.option = option;
  }
}

const defaultFail: OptionFail = (o, m) => new ObserveOptionError(o, m);

export interface ProbationPolicy {
  /** ms the new generation serves beside the old one; 0 disables probation. */
  ms: number;
  maxErrorRate: number;
  maxLatencyRatio: number;
  minRequests: number;
}

/** A checked `metrics` or `health` address. */
export type EndpointOption = { port: number; host?: string } | { path: string };

// A copy of lib/options.ts's show() (and below, of its port rule): lib/observe/ imports nothing
// from lib/ until the layout change lands; the wiring stage imports those instead.
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function plainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const MAX_MS = 600_000;

/**
 * `probation`: a number of ms (0 disables), or `{ ms?, maxErrorRate?, maxLatencyRatio?,
 * minRequests? }`; the missing fields get their defaults.
 */
export function probationOption(v: unknown, fail: OptionFail = defaultFail): ProbationPolicy {
  const { maxErrorRate, maxLatencyRatio, minRequests } = CANARY_DEFAULTS;
  const defaults: ProbationPolicy = { ms: PROBATION_DEFAULT_MS, maxErrorRate, maxLatencyRatio, minRequests };
  if (v === undefined) return defaults;
  if (typeof v === 'number') return { ...defaults, ms: probationMs('probation', v, fail) };
  if (!plainObject(v)) {
    throw fail('probation', `must be a number of milliseconds (0 disables) or an object such as { ms: 5000, maxErrorRate: 0.05, maxLatencyRatio: 3, minRequests: 20 }, got ${show(v)}.`);
  }
  for (const k of Object.keys(v)) {
    if (!(PROBATION_FIELDS as readonly string[]).includes(k)) throw fail(`probation.${k}`, `is not a probation field; known fields: ${PROBATION_FIELDS.join(', ')}.`);
  }
  const out = { ...defaults };
  if (v.ms !== undefined) out.ms = probationMs('probation.ms', v.ms, fail);
  if (v.maxErrorRate !== undefined) {
    const r = v.maxErrorRate;
    if (typeof r !== 'number' || !Number.isFinite(r) || r < 0 || r > 1) {
      throw fail('probation.maxErrorRate', `must be a number from 0 to 1 (the largest allowed excess of the new generation's 5xx share over the old one's: 0.05 is 5 points), got ${show(r)}.${typeof r === 'number' && r > 1 && r <= 100 ? ` For ${r}% write ${r / 100}.` : ''}`);
    }
    out.maxErrorRate = r;
  }
  if (v.maxLatencyRatio !== undefined) {
    const r = v.maxLatencyRatio;
    if (typeof r !== 'number' || !Number.isFinite(r) || (r !== 0 && r < 1) || r > 1000) {
      throw fail('probation.maxLatencyRatio', `must be a number from 1 to 1000 (the largest allowed new p99 / old p99), or 0 to not judge latency, got ${show(r)}.`);
    }
    out.maxLatencyRatio = r;
  }
  if (v.minRequests !== undefined) {
    const n = v.minRequests;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1_000_000_000) {
      throw fail('probation.minRequests', `must be an integer from 1 to 1000000000 (responses the new generation must serve before it is judged by them), got ${show(n)}.`);
    }
    out.minRequests = n;
  }
  if (out.ms === 0 && Object.keys(v).some((k) => k !== 'ms')) {
    throw fail('probation.ms', 'is 0, which disables probation: the other fields would judge nothing. Give ms > 0, or remove them.');
  }
  return out;
}

function probationMs(option: string, v: unknown, fail: OptionFail): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_MS) {
    throw fail(option, `must be an integer from 0 to ${MAX_MS} (milliseconds, 0 disables), got ${show(v)}.`);
  }
  return v;
}

const PORT_RULE = 'must be an integer from 0 to 65535, or a string of digits such as "9100" (as environment variables are)';

/**
 * `metrics` / `health`: `{ port, host? }` (port as a number or a string of digits) or
 * `{ path }` (a UNIX socket, resolved, at most 107 bytes); undefined or false: none.
 */
export function endpointOption(name: string, v: unknown, fail: OptionFail = defaultFail): EndpointOption | undefined {
  if (v === undefined || v === false) return undefined;
  const example = `{ port: ${name === 'metrics' ? 9100 : 9101}, host: '127.0.0.1' } or { path: '/run/app/${name}.sock' }`;
  if (!plainObject(v)) {
    const hint = typeof v === 'number' || typeof v === 'string' ? ` For a port write { port: ${show(v)} }.` : v === true ? ' true names no address.' : '';
    throw fail(name, `must be an object such as ${example}, or false for none, got ${show(v)}.${hint}`);
  }
  for (const k of Object.keys(v)) {
    if (!['port', 'host', 'path'].includes(k)) throw fail(`${name}.${k}`, `is not a field of ${name}; known fields: port, host, path.`);
  }
  if (v.path !== undefined) {
    if (typeof v.path !== 'string' || v.path === '') throw fail(`${name}.path`, `must be a non-empty string naming a UNIX socket file, got ${show(v.path)}.`);
    if (v.port !== undefined || v.host !== undefined) throw fail(`${name}.path`, 'cannot be combined with "port" or "host": give a TCP address or a UNIX socket path.');
    const p = path.resolve(v.path);
    if (Buffer.byteLength(p) > 107) throw fail(`${name}.path`, `resolves to ${p}, longer than the 107 bytes a UNIX socket path may have; choose a shorter path.`);
    return { path: p };
  }
  if (v.port === undefined) throw fail(`${name}.port`, `is required: give a TCP "port" or a UNIX socket "path", e.g. ${example}.`);
  const n = typeof v.port === 'string' && /^[0-9]{1,5}$/.test(v.port) ? Number(v.port) : v.port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    const nan = typeof v.port === 'number' && Number.isNaN(v.port) ? ' Number() of an unset or non-numeric environment variable is NaN: pass the variable itself, or check it.' : '';
    throw fail(`${name}.port`, `${PORT_RULE}, got ${show(v.port)}.${nan}`);
  }
  const out: EndpointOption = { port: n };
  if (v.host !== undefined) {
    if (typeof v.host !== 'string' || v.host === '') throw fail(`${name}.host`, `must be a non-empty string such as "127.0.0.1" or "::", got ${show(v.host)}.`);
    out.host = v.host;
  }
  return out;
}

/** `shutdownDelay`: ms, 0 to 600000, default 0. */
export function shutdownDelayOption(v: unknown, fail: OptionFail = defaultFail): number {
  if (v === undefined) return SHUTDOWN_DELAY_DEFAULT;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_MS) {
    throw fail('shutdownDelay', `must be an integer from 0 to ${MAX_MS} (milliseconds /readyz answers 503 while the server still serves, before the drain), got ${show(v)}.`);
  }
  return v;
}

/** An address the app listens on, as lib/listeners.ts specs carry it. */
export interface AppAddress {
  name: string;
  port?: number;
  host?: string;
  path?: string;
}

function sameAddress(a: EndpointOption, b: AppAddress): boolean {
  if ('path' in a) return b.path !== undefined && path.resolve(b.path) === a.path;
  if (b.port === undefined || a.port === 0 || b.port !== a.port) return false;
  const wild = (h: string | undefined): boolean => h === undefined || h === '0.0.0.0' || h === '::';
  return wild(a.host) || wild(b.host) || a.host === b.host;
}

/**
 * The checked `metrics`, `health` and `shutdownDelay`, and their combinations: neither endpoint
 * may be at one of the app's addresses (they are never served through the app); `metrics` and
 * `health` at the same address share one listener, and must then agree on the host.
 */
export function observeOptions(opts: Record<string, unknown>, app: readonly AppAddress[], fail: OptionFail = defaultFail): { metrics?: EndpointOption; health?: EndpointOption; shutdownDelay: number } {
  const metrics = endpointOption('metrics', opts.metrics, fail);
  const health = endpointOption('health', opts.health, fail);
  const shutdownDelay = shutdownDelayOption(opts.shutdownDelay, fail);
  for (const [name, e] of [['metrics', metrics], ['health', health]] as const) {
    if (e === undefined) continue;
    const clash = app.find((l) => sameAddress(e, l));
    if (clash) {
      const where = 'path' in e ? e.path : `port ${e.port}`;
      throw fail(name, `is at ${where}, where the app's listener "${clash.name}" is: baton serves ${name} on its own listener, never through the app. Choose another ${'path' in e ? 'path' : 'port'}.`);
    }
  }
  if (metrics && health && 'port' in metrics && 'port' in health && metrics.port === health.port && metrics.port !== 0 && (metrics.host ?? '') !== (health.host ?? '')) {
    throw fail('health', `is at port ${health.port} like "metrics" but with another host (${show(health.host ?? 'every interface')} vs ${show(metrics.host ?? 'every interface')}): give both the same address to share one listener, or another port.`);
  }
  return { ...(metrics ? { metrics } : {}), ...(health ? { health } : {}), shutdownDelay };
}
