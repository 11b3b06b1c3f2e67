// Options of listen(): the user's words, checked before any process is forked.
//
// Every option has a documented default (docs/options.md). A wrong type, range or
// combination throws a BatonOptionError that names the option, says what was given
// and what to do instead.
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import { LOGGER_METHODS, type ExternalLogger } from '../log/log';
import { BatonOptionError, bool, closest, hostOption, ints, oneOf, plainObject, portOption, shortSocketPath, show, socketPathOption, type Rule } from './rules';
import { checkListeners } from './listeners';
import { endpointOption, PROBATION_DEFAULT_MS, PROBATION_DEFAULTS, probationOption, type EndpointOption, type ProbationPolicy } from './observe';
import type { AcceptMode, ListenerConfig, ListenerSpec, ListenOptions, LogFormat, LogLevel, ResolvedOptions } from './types';

export { BatonOptionError } from './rules';
export { resolveApp, resolveMainApp } from './listeners';

export type { AcceptMode, App, AppHandler, ListenerConfig, ListenerOption, ListenOptions, LogFormat, LogLevel, ResolvedOptions, ServerFactory } from './types';

export const DEFAULT_PORT = 8080;
export const DEFAULTS = {
  drainTimeout: 30_000,
  readyTimeout: 60_000,
  keepAliveGrace: 1_000,
  backlog: 2_048,
  accept: 'workers' as AcceptMode,
  logLevel: 'warn' as LogLevel,
  logFormat: 'text' as LogFormat,
  workerTimeout: 30_000,
  probation: PROBATION_DEFAULT_MS,
  exitTimeout: 10_000,
  closeWebSockets: true,
};

type Given = Record<string, unknown>;

/** One option: the rule a given value must meet, its value when not given, the environment variable that overrides it. */
interface Option<T> {
  rule: Rule<T>;
  default?: T | ((opts: Given) => T);
  env?: string;
}

/** Each option once checked; resolveOptions() makes `probation` ResolvedOptions' probation and canary. */
type Checked = Omit<ResolvedOptions, 'probation' | 'canary' | 'listeners'> & { probation: ProbationPolicy; listeners: ListenerConfig[] | undefined };

const DAY = 86_400_000;
const MS = ' (milliseconds)';

/** Every option of listen(), checked in this order (the order "known options" lists them in). */
const OPTIONS: { [K in keyof ListenOptions]-?: Option<Checked[K]> } = {
  port: { rule: portOption, default: (o) => (o.path === undefined && o.listeners === undefined ? DEFAULT_PORT : undefined) },
  host: { rule: hostOption },
  path: { rule: (v, name, o) => socketPathOption(name, v, o.port !== undefined || o.host !== undefined) },
  workers: { rule: ints(1, 1024), default: () => os.availableParallelism() },
  drainTimeout: { rule: ints(1, DAY, MS), default: DEFAULTS.drainTimeout },
  readyTimeout: { rule: ints(1, DAY, MS), default: DEFAULTS.readyTimeout },
  pidFile: { rule: (v, name) => path.resolve(filePath(name, v, 'must be a non-empty string (a file path)')) },
  manualReady: { rule: bool, default: false },
  keepAliveGrace: { rule: ints(0, 60_000, MS), default: DEFAULTS.keepAliveGrace },
  closeWebSockets: { rule: bool, default: DEFAULTS.closeWebSockets },
  backlog: { rule: ints(1, 65_535), default: DEFAULTS.backlog },
  logLevel: { rule: oneOf(['silent', 'error', 'warn', 'info', 'debug']), default: DEFAULTS.logLevel, env: 'BATON_LOG_LEVEL' },
  logFormat: { rule: oneOf(['text', 'json']), default: DEFAULTS.logFormat, env: 'BATON_LOG_FORMAT' },
  logger: { rule: loggerOption },
  workerTimeout: { rule: ints(0, DAY, ' (milliseconds, 0 disables)'), default: DEFAULTS.workerTimeout },
  maxMemory: { rule: memory, default: 0 },
  maxRequests: { rule: ints(0, Number.MAX_SAFE_INTEGER, ' (0 disables)'), default: 0 },
  controlSocket: {
    rule: (v, name) => (v === false ? undefined : controlSocket(path.resolve(filePath(name, v, 'must be a socket file path or false')))),
    default: (o) => (o.pidFile === undefined ? undefined : controlSocket(`${path.resolve(o.pidFile as string)}.sock`)),
  },
  probation: { rule: probationOption, default: PROBATION_DEFAULTS },
  listeners: { rule: checkListeners },
  exitTimeout: { rule: ints(1, DAY, MS), default: DEFAULTS.exitTimeout },
  envFile: { rule: envFileOption },
  accept: { rule: oneOf(['workers', 'master']), default: DEFAULTS.accept, env: 'BATON_ACCEPT' },
  metrics: { rule: endpointOption },
  health: { rule: endpointOption },
  shutdownDelay: { rule: ints(0, 600_000, ' (milliseconds /readyz answers 503 while the server still serves, before the drain)'), default: 0 },
};
const KNOWN = Object.keys(OPTIONS);

/** Checks the options object and fills in defaults. Throws BatonOptionError. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const opts = input === undefined ? {} : input;
  if (!plainObject(opts)) throw new BatonOptionError('options', `must be an object such as { port: 8080 }, got ${show(opts)}.`);
  const unknown = Object.keys(opts).find((k) => !KNOWN.includes(k));
  if (unknown !== undefined) {
    const hint = closest(unknown, KNOWN);
    throw new BatonOptionError(unknown, `is not a baton option${hint ? ` (did you mean "${hint}"?)` : ''}; known options: ${KNOWN.join(', ')}.`);
  }
  if (opts.listeners !== undefined) {
    const given = (['port', 'host', 'path'] as const).filter((k) => opts[k] !== undefined);
    if (given.length > 0) {
      throw new BatonOptionError('listeners', `cannot be combined with ${given.map((k) => `"${k}"`).join(', ')}: give each listener its own port/host or path.`);
    }
  }
  const checked: Given = {};
  for (const [name, o] of Object.entries(OPTIONS) as Array<[string, Option<unknown>]>) {
    const env = o.env !== undefined && process.env[o.env] ? o.env : undefined;
    const v = env !== undefined ? process.env[env] : opts[name];
    checked[name] = v !== undefined ? o.rule(v, name, opts, env) : typeof o.default === 'function' ? o.default(opts) : o.default;
  }
  const { listeners, probation, ...rest } = checked as Checked;
  const spec = rest.path !== undefined ? { name: 'default', path: rest.path } : { name: 'default', port: rest.port, host: rest.host };
  const all = listeners ?? [{ spec, app: undefined }];
  checkEndpoints(rest.metrics, rest.health, all.map((l) => l.spec));
  const { ms, ...canary } = probation;
  return { ...rest, listeners: all, probation: ms, canary };
}

function sameAddress(a: EndpointOption, b: ListenerSpec): boolean {
  if ('path' in a) return b.path !== undefined && path.resolve(b.path) === a.path;
  if (b.port === undefined || a.port === 0 || b.port !== a.port) return false;
  const wild = (h: string | undefined): boolean => h === undefined || h === '0.0.0.0' || h === '::';
  return wild(a.host) || wild(b.host) || a.host === b.host;
}

/**
 * Neither endpoint may be at one of the app's addresses (they are never served through the app);
 * `metrics` and `health` at the same address share one listener, and must then agree on the host.
 */
function checkEndpoints(metrics: EndpointOption | undefined, health: EndpointOption | undefined, app: readonly ListenerSpec[]): void {
  for (const [name, e] of [['metrics', metrics], ['health', health]] as const) {
    if (e === undefined) continue;
    const clash = app.find((l) => sameAddress(e, l));
    if (clash) {
      const where = 'path' in e ? e.path : `port ${e.port}`;
      throw new BatonOptionError(name, `is at ${where}, where the app's listener "${clash.name}" is: baton serves ${name} on its own listener, never through the app. Choose another ${'path' in e ? 'path' : 'port'}.`);
    }
  }
  if (metrics && health && 'port' in metrics && 'port' in health && metrics.port === health.port && metrics.port !== 0 && (metrics.host ?? '') !== (health.host ?? '')) {
    throw new BatonOptionError('health', `is at port ${health.port} like "metrics" but with another host (${show(health.host ?? 'every interface')} vs ${show(metrics.host ?? 'every interface')}): give both the same address to share one listener, or another port.`);
  }
}

/** A file path option: a non-empty string; `rule` says what it must be. Throws BatonOptionError. */
function filePath(name: string, v: unknown, rule: string): string {
  if (typeof v !== 'string' || v === '') throw new BatonOptionError(name, `${rule}, got ${show(v)}.`);
  return v;
}

function controlSocket(resolved: string): string {
  return shortSocketPath('controlSocket', resolved, 'set a shorter controlSocket');
}

function envFileOption(v: unknown, name: string): string {
  filePath(name, v, 'must be a non-empty string (a file path such as ".env")');
  if (typeof (util as { parseEnv?: unknown }).parseEnv !== 'function') {
    throw new BatonOptionError(name, `needs util.parseEnv, which this Node (${process.version}) does not have: use Node 20.12+ or 21.7+, or remove envFile and set the environment yourself.`);
  }
  return v as string;
}

/** The `logger` option: an object with error, warn, info and debug methods. */
function loggerOption(l: unknown, name: string, opts: Given): ExternalLogger {
  if ((typeof l !== 'object' && typeof l !== 'function') || l === null) {
    throw new BatonOptionError(name, `must be a logger object with error, warn, info and debug methods (pino, bunyan, winston or console), got ${show(l)}.`);
  }
  const missing = LOGGER_METHODS.filter((m) => typeof (l as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw new BatonOptionError(name, `has no ${missing.map((m) => `"${m}"`).join(', ')} method${missing.length > 1 ? 's' : ''}: baton calls logger.error/warn/info/debug(fields, message), as pino, bunyan, winston and console have them.`);
  }
  if (opts.logFormat !== undefined) {
    throw new BatonOptionError('logFormat', 'cannot be combined with "logger": the logger formats its own lines; remove one of them.');
  }
  return l as ExternalLogger;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** maxMemory: bytes, or a string such as '512M' / '1.5G' / '300MB'. */
function memory(v: unknown): number {
  if (v === 0) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1_048_576) return v;
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*$/i.exec(v);
    if (m) {
      const bytes = Math.round(Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1));
      if (bytes >= 1_048_576) return bytes;
    }
  }
  throw new BatonOptionError('maxMemory', `must be a number of bytes of at least 1 MiB, or a string such as "512M" or "1G", or 0 to disable, got ${show(v)}.`);
}

