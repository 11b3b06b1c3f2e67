// Options of listen(): the user's words, checked before any process is forked.
//
// Every option has a documented default (docs/options.md). A wrong type, range or
// combination throws a BatonOptionError that names the option, says what was given
// and what to do instead.
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import { LOGGER_METHODS, type ExternalLogger } from '../log/log';
import { BatonOptionError, closest, flag, hostOption, integer, KNOWN, oneOf, plainObject, portOption, show, socketPathOption } from './rules';
import { checkListeners } from './listeners';
import { observeOptions, PROBATION_DEFAULT_MS, probationOption, type AppAddress } from './observe';
import type { AcceptMode, LogFormat, LogLevel, ResolvedOptions } from './types';

export { BatonOptionError, portOption } from './rules';
export { resolveApp, resolveListeners, resolveMainApp, type App, type ListenerConfig } from './listeners';

export type { AcceptMode, AppHandler, ListenerOption, ListenOptions, LogFormat, LogLevel, ResolvedOptions, ServerFactory } from './types';

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

const LOG_LEVELS: readonly LogLevel[] = ['silent', 'error', 'warn', 'info', 'debug'];
const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
const ACCEPT_MODES: readonly AcceptMode[] = ['workers', 'master'];
/** Checks the options object and fills in defaults. Throws BatonOptionError. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const opts = input === undefined ? {} : input;
  if (!plainObject(opts)) throw new BatonOptionError('options', `must be an object such as { port: 8080 }, got ${show(opts)}.`);
  for (const key of Object.keys(opts)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      const hint = closest(key);
      throw new BatonOptionError(key, `is not a baton option${hint ? ` (did you mean "${hint}"?)` : ''}; known options: ${KNOWN.join(', ')}.`);
    }
  }

  let app: AppAddress[] = [];
  if (opts.listeners !== undefined) {
    const given = (['port', 'host', 'path'] as const).filter((k) => opts[k] !== undefined);
    if (given.length > 0) {
      throw new BatonOptionError('listeners', `cannot be combined with ${given.map((k) => `"${k}"`).join(', ')}: give each listener its own port/host or path.`);
    }
    app = checkListeners(opts.listeners).map((l) => l.spec);
  }

  const sockPath = opts.path !== undefined ? socketPathOption('path', opts.path, opts.port !== undefined || opts.host !== undefined) : undefined;
  const host = opts.host !== undefined ? hostOption('host', opts.host) : undefined;
  const port = sockPath === undefined && opts.listeners === undefined ? (opts.port === undefined ? DEFAULT_PORT : portOption('port', opts.port)) : undefined;
  if (opts.listeners === undefined) app = [{ name: 'default', port, host, path: sockPath }];
  const probation = probationOption(opts.probation);
  const observe = observeOptions(opts, app);

  const pidFile = opts.pidFile === undefined ? undefined : path.resolve(filePath('pidFile', opts.pidFile, 'must be a non-empty string (a file path)'));
  const controlSocket = opts.controlSocket === false ? undefined
    : opts.controlSocket !== undefined ? path.resolve(filePath('controlSocket', opts.controlSocket, 'must be a socket file path or false'))
      : pidFile !== undefined ? `${pidFile}.sock` : undefined;
  if (controlSocket !== undefined && Buffer.byteLength(controlSocket) > 107) {
    throw new BatonOptionError('controlSocket', `resolves to ${controlSocket}, longer than the 107 bytes a UNIX socket path may have; set a shorter controlSocket.`);
  }

  if (opts.envFile !== undefined) {
    filePath('envFile', opts.envFile, 'must be a non-empty string (a file path such as ".env")');
    if (typeof (util as { parseEnv?: unknown }).parseEnv !== 'function') {
      throw new BatonOptionError('envFile', `needs util.parseEnv, which this Node (${process.version}) does not have: use Node 20.12+ or 21.7+, or remove envFile and set the environment yourself.`);
    }
  }

  return {
    port,
    host,
    path: sockPath,
    workers: integer(opts, 'workers', 1, 1024, os.availableParallelism()),
    drainTimeout: integer(opts, 'drainTimeout', 1, 86_400_000, DEFAULTS.drainTimeout, ' (milliseconds)'),
    readyTimeout: integer(opts, 'readyTimeout', 1, 86_400_000, DEFAULTS.readyTimeout, ' (milliseconds)'),
    pidFile,
    manualReady: flag(opts, 'manualReady', false),
    keepAliveGrace: integer(opts, 'keepAliveGrace', 0, 60_000, DEFAULTS.keepAliveGrace, ' (milliseconds)'),
    closeWebSockets: flag(opts, 'closeWebSockets', DEFAULTS.closeWebSockets),
    backlog: integer(opts, 'backlog', 1, 65_535, DEFAULTS.backlog),
    logLevel: oneOf(opts, 'logLevel', LOG_LEVELS, DEFAULTS.logLevel, 'BATON_LOG_LEVEL'),
    logFormat: oneOf(opts, 'logFormat', LOG_FORMATS, DEFAULTS.logFormat, 'BATON_LOG_FORMAT'),
    accept: oneOf(opts, 'accept', ACCEPT_MODES, DEFAULTS.accept, 'BATON_ACCEPT'),
    logger: checkLogger(opts),
    workerTimeout: integer(opts, 'workerTimeout', 0, 86_400_000, DEFAULTS.workerTimeout, ' (milliseconds, 0 disables)'),
    maxMemory: memory(opts.maxMemory),
    maxRequests: integer(opts, 'maxRequests', 0, Number.MAX_SAFE_INTEGER, 0, ' (0 disables)'),
    controlSocket,
    probation: probation.ms,
    canary: { maxErrorRate: probation.maxErrorRate, maxLatencyRatio: probation.maxLatencyRatio, minRequests: probation.minRequests, warmupMs: probation.warmup },
    metrics: observe.metrics,
    health: observe.health,
    shutdownDelay: observe.shutdownDelay,
    exitTimeout: integer(opts, 'exitTimeout', 1, 86_400_000, DEFAULTS.exitTimeout, ' (milliseconds)'),
    envFile: opts.envFile as string | undefined,
  };
}

/** A file path option: a non-empty string; `rule` says what it must be. Throws BatonOptionError. */
function filePath(name: string, v: unknown, rule: string): string {
  if (typeof v !== 'string' || v === '') throw new BatonOptionError(name, `${rule}, got ${show(v)}.`);
  return v;
}

/** The `logger` option: an object with error, warn, info and debug methods. */
function checkLogger(opts: Record<string, unknown>): ExternalLogger | undefined {
  const l = opts.logger;
  if (l === undefined) return undefined;
  if ((typeof l !== 'object' && typeof l !== 'function') || l === null) {
    throw new BatonOptionError('logger', `must be a logger object with error, warn, info and debug methods (pino, bunyan, winston or console), got ${show(l)}.`);
  }
  const missing = LOGGER_METHODS.filter((m) => typeof (l as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw new BatonOptionError('logger', `has no ${missing.map((m) => `"${m}"`).join(', ')} method${missing.length > 1 ? 's' : ''}: baton calls logger.error/warn/info/debug(fields, message), as pino, bunyan, winston and console have them.`);
  }
  if (opts.logFormat !== undefined) {
    throw new BatonOptionError('logFormat', 'cannot be combined with "logger": the logger formats its own lines; remove one of them.');
  }
  return l as ExternalLogger;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** maxMemory: bytes, or a string such as '512M' / '1.5G' / '300MB'. */
export function memory(v: unknown): number {
  if (v === undefined || v === 0) return 0;
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

