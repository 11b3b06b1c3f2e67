// Options of listen(): the user's words, checked before any process is forked.
//
// Every option has a documented default (docs/options.md). A wrong type, range or
// combination throws a BatonOptionError that names the option, says what was given
// and what to do instead.
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import type { RequestListener } from 'node:http';
import type { Server } from 'node:net';
import type { ListenerSpec } from '../sockets/listeners';
import { handlerMistake } from '../worker/mistakes';
import { LOGGER_METHODS, type ExternalLogger } from '../log/log';

export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';

export interface ListenOptions {
  /**
   * TCP port (0 picks a free one, kept across upgrades). Default 8080 unless `path` is set.
   * A string of digits is read as a number: `port: process.env.PORT` works.
   */
  port?: number | string;
  /** Address to bind. Default: every interface, as Node does. */
  host?: string;
  /** UNIX socket path, instead of port/host. */
  path?: string;
  /**
   * Several named sockets instead of port/host/path, e.g.
   * `[{ name: 'web', port: 8080 }, { name: 'admin', path: '/run/app/admin.sock', mode: 0o660 }]`.
   * An entry may carry its own `handler` or `createServer`; otherwise the second argument of
   * listen() serves it.
   */
  listeners?: ListenerOption[];
  /** Worker processes per generation. Default os.availableParallelism(). */
  workers?: number;
  /** ms a draining generation may take before its connections are closed and its workers killed. */
  drainTimeout?: number;
  /** ms a new generation (reload or upgrade) may take to become ready before it is rolled back. */
  readyTimeout?: number;
  /** File that names the serving master's pid; `<pidFile>.oldbin` names the old one during an upgrade. */
  pidFile?: string;
  /** When true a worker is ready only once the app calls `ready()` on the object listen() returned. */
  manualReady?: boolean;
  /** ms an idle keep-alive socket of a draining worker is left open in case a request is on the wire. */
  keepAliveGrace?: number;
  /** Listen backlog of the sockets baton binds. */
  backlog?: number;
  /**
   * Who accepts TCP connections: 'workers' (default; each worker accepts on a duplicate of the
   * socket, kept fair by the master) or 'master' (the master accepts and hands each connection
   * to a worker, as cluster's round robin does). UNIX sockets are always accepted by the master.
   * Env BATON_ACCEPT overrides.
   */
  accept?: AcceptMode;
  /** Which log lines are printed (to stderr). Default 'warn'; env BATON_LOG_LEVEL overrides. */
  logLevel?: LogLevel;
  /** 'text' (default) or 'json', one line per event; env BATON_LOG_FORMAT overrides. */
  logFormat?: LogFormat;
  /**
   * The app's logger (pino, bunyan, console, ...): baton calls `logger.info(fields, message)`
   * (error, warn, info, debug) instead of printing its own lines. Create it in every process:
   * the same file runs in the master and in each worker.
   */
  logger?: ExternalLogger;
  /** ms without a heartbeat after which a serving worker is deemed hung and replaced; 0 disables. */
  workerTimeout?: number;
  /** RSS above which a worker is recycled (replacement first, then drain): bytes, or '512M', '1G'; 0 disables. */
  maxMemory?: number | string;
  /** Requests after which a worker is recycled; 0 disables. */
  maxRequests?: number;
  /** Control socket for the `baton` CLI: a path, or false for none. Default `<pidFile>.sock` when pidFile is set. */
  controlSocket?: string | false;
  /**
   * ms a new generation (reload, upgrade) serves on probation: a worker of it that dies in that
   * time rolls the change back while the old generation is still there. 0 disables.
   */
  probation?: number;
  /**
   * ms the beforeExit functions may take once a worker's connections are done (or a master's
   * generations are gone); then the process exits anyway. Default 10000.
   */
  exitTimeout?: number;
  /**
   * A file of NAME=value lines (Node's util.parseEnv) read by every new master and every new
   * generation (reload, upgrade): its variables override the inherited environment. Relative
   * to the master's working directory as the user named it ($PWD). See docs/options.md.
   */
  envFile?: string;
}

export type ServerFactory = () => Server | Promise<Server>;
export type AppHandler = RequestListener | { createServer: ServerFactory };

/** One entry of the `listeners` option: a TCP address or a UNIX socket, with a unique name. */
export interface ListenerOption {
  /** Unique, non-empty; tells the app which socket a connection came in on (listenerOf()). */
  name: string;
  /** TCP port (0 picks a free one, kept across upgrades); a string of digits is read as a number. */
  port?: number | string;
  /** Address to bind with `port`. Default: every interface, as Node does. */
  host?: string;
  /** UNIX socket path, instead of port/host. */
  path?: string;
  /** Permission bits of the UNIX socket file, e.g. 0o660. */
  mode?: number;
  /** This listener's own request listener (instead of the one given to listen()). */
  handler?: RequestListener;
  /** This listener's own server factory (instead of the one given to listen()). */
  createServer?: ServerFactory;
}

export interface ResolvedOptions {
  port: number | undefined;
  host: string | undefined;
  path: string | undefined;
  workers: number;
  drainTimeout: number;
  readyTimeout: number;
  pidFile: string | undefined;
  manualReady: boolean;
  keepAliveGrace: number;
  backlog: number;
  accept: AcceptMode;
  logLevel: LogLevel;
  logFormat: LogFormat;
  logger: ExternalLogger | undefined;
  workerTimeout: number;
  maxMemory: number;
  maxRequests: number;
  controlSocket: string | undefined;
  probation: number;
  exitTimeout: number;
  /** As given (resolved by the master against its working directory, lib/config/envfile.ts). */
  envFile: string | undefined;
}

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
  probation: 1_000,
  exitTimeout: 10_000,
};

const LOG_LEVELS: readonly LogLevel[] = ['silent', 'error', 'warn', 'info', 'debug'];
const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
export type AcceptMode = 'workers' | 'master';
const ACCEPT_MODES: readonly AcceptMode[] = ['workers', 'master'];
const KNOWN = [
  'port', 'host', 'path', 'workers', 'drainTimeout', 'readyTimeout', 'pidFile', 'manualReady',
  'keepAliveGrace', 'backlog', 'logLevel', 'logFormat', 'logger', 'workerTimeout', 'maxMemory', 'maxRequests', 'controlSocket', 'probation',
  'listeners', 'exitTimeout', 'envFile', 'accept',
] as const;
const LISTENER_KEYS = ['name', 'port', 'host', 'path', 'mode', 'handler', 'createServer'] as const;

export class BatonOptionError extends TypeError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`baton: option "${option}" ${message}`);
    this.name = 'BatonOptionError';
    this.option = option;
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function integer(opts: Record<string, unknown>, name: string, min: number, max: number, fallback: number, unit = ''): number {
  const v = opts[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new BatonOptionError(name, `must be an integer from ${min} to ${max}${unit}, got ${show(v)}.`);
  }
  return v;
}

const PORT_RULE = 'must be an integer from 0 to 65535, or a string of digits such as "8080" (as environment variables are)';

/** A TCP port: an integer, or a string of digits (`port: process.env.PORT`). Throws BatonOptionError. */
export function portOption(name: string, v: unknown): number {
  const n = typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  let hint = '';
  if (typeof v === 'number' && Number.isNaN(v)) hint = ' Number() of an unset or non-numeric environment variable is NaN: pass the variable itself (port: process.env.PORT), or check it.';
  else if (v === '') hint = ' An empty string: is the environment variable set but empty?';
  throw new BatonOptionError(name, `${PORT_RULE}, got ${show(v)}.${hint}`);
}

function oneOf<T extends string>(opts: Record<string, unknown>, name: string, allowed: readonly T[], fallback: T, env?: string): T {
  const fromEnv = env !== undefined ? process.env[env] : undefined;
  const v = fromEnv !== undefined && fromEnv !== '' ? fromEnv : opts[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    const where = fromEnv ? ` (from the environment variable ${env})` : '';
    throw new BatonOptionError(name, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}${where}, got ${show(v)}.`);
  }
  return v as T;
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

/** The known option a typo most likely meant: the nearest by edit distance, else a shared prefix. */
function closest(word: string): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of KNOWN) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3))) return best;
  return KNOWN.find((k) => k.toLowerCase().startsWith(lower.slice(0, 4)) || lower.startsWith(k.toLowerCase()));
}

/** Checks the options object and fills in defaults. Throws BatonOptionError. */
export function resolveOptions(input: unknown): ResolvedOptions {
  if (input === undefined) input = {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BatonOptionError('options', `must be an object such as { port: 8080 }, got ${show(input)}.`);
  }
  const opts = input as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      const hint = closest(key);
      throw new BatonOptionError(key, `is not a baton option${hint ? ` (did you mean "${hint}"?)` : ''}; known options: ${KNOWN.join(', ')}.`);
    }
  }

  if (opts.listeners !== undefined) {
    const given = (['port', 'host', 'path'] as const).filter((k) => opts[k] !== undefined);
    if (given.length > 0) {
      throw new BatonOptionError('listeners', `cannot be combined with ${given.map((k) => `"${k}"`).join(', ')}: give each listener its own port/host or path.`);
    }
    checkListeners(opts.listeners);
  }

  let sockPath: string | undefined;
  if (opts.path !== undefined) {
    if (typeof opts.path !== 'string' || opts.path === '') {
      throw new BatonOptionError('path', `must be a non-empty string naming a UNIX socket file, got ${show(opts.path)}.`);
    }
    if (opts.port !== undefined || opts.host !== undefined) {
      throw new BatonOptionError('path', 'cannot be combined with "port" or "host": a listener is either a UNIX socket or a TCP address.');
    }
    sockPath = path.resolve(opts.path);
    if (Buffer.byteLength(sockPath) > 107) {
      throw new BatonOptionError('path', `resolves to ${sockPath}, longer than the 107 bytes a UNIX socket path may have; choose a shorter path.`);
    }
  }
  let host: string | undefined;
  if (opts.host !== undefined) {
    if (typeof opts.host !== 'string' || opts.host === '') {
      throw new BatonOptionError('host', `must be a non-empty string such as "127.0.0.1" or "::", got ${show(opts.host)}.`);
    }
    host = opts.host;
  }
  const port = sockPath === undefined && opts.listeners === undefined ? (opts.port === undefined ? DEFAULT_PORT : portOption('port', opts.port)) : undefined;

  let pidFile: string | undefined;
  if (opts.pidFile !== undefined) {
    if (typeof opts.pidFile !== 'string' || opts.pidFile === '') {
      throw new BatonOptionError('pidFile', `must be a non-empty string (a file path), got ${show(opts.pidFile)}.`);
    }
    pidFile = path.resolve(opts.pidFile);
  }
  if (opts.manualReady !== undefined && typeof opts.manualReady !== 'boolean') {
    throw new BatonOptionError('manualReady', `must be true or false, got ${show(opts.manualReady)}.`);
  }

  let controlSocket: string | undefined;
  if (opts.controlSocket !== undefined && opts.controlSocket !== false) {
    if (typeof opts.controlSocket !== 'string' || opts.controlSocket === '') {
      throw new BatonOptionError('controlSocket', `must be a socket file path or false, got ${show(opts.controlSocket)}.`);
    }
    controlSocket = path.resolve(opts.controlSocket);
  } else if (opts.controlSocket === undefined && pidFile !== undefined) {
    controlSocket = `${pidFile}.sock`;
  }
  if (controlSocket !== undefined && Buffer.byteLength(controlSocket) > 107) {
    throw new BatonOptionError('controlSocket', `resolves to ${controlSocket}, longer than the 107 bytes a UNIX socket path may have; set a shorter controlSocket.`);
  }

  if (opts.envFile !== undefined) {
    if (typeof opts.envFile !== 'string' || opts.envFile === '') {
      throw new BatonOptionError('envFile', `must be a non-empty string (a file path such as ".env"), got ${show(opts.envFile)}.`);
    }
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
    manualReady: opts.manualReady === true,
    keepAliveGrace: integer(opts, 'keepAliveGrace', 0, 60_000, DEFAULTS.keepAliveGrace, ' (milliseconds)'),
    backlog: integer(opts, 'backlog', 1, 65_535, DEFAULTS.backlog),
    logLevel: oneOf(opts, 'logLevel', LOG_LEVELS, DEFAULTS.logLevel, 'BATON_LOG_LEVEL'),
    logFormat: oneOf(opts, 'logFormat', LOG_FORMATS, DEFAULTS.logFormat, 'BATON_LOG_FORMAT'),
    accept: oneOf(opts, 'accept', ACCEPT_MODES, DEFAULTS.accept, 'BATON_ACCEPT'),
    logger: checkLogger(opts),
    workerTimeout: integer(opts, 'workerTimeout', 0, 86_400_000, DEFAULTS.workerTimeout, ' (milliseconds, 0 disables)'),
    maxMemory: memory(opts.maxMemory),
    maxRequests: integer(opts, 'maxRequests', 0, Number.MAX_SAFE_INTEGER, 0, ' (0 disables)'),
    controlSocket,
    probation: integer(opts, 'probation', 0, 600_000, DEFAULTS.probation, ' (milliseconds, 0 disables)'),
    exitTimeout: integer(opts, 'exitTimeout', 1, 86_400_000, DEFAULTS.exitTimeout, ' (milliseconds)'),
    envFile: opts.envFile as string | undefined,
  };
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

export type App = { kind: 'handler'; handler: RequestListener } | { kind: 'factory'; factory: ServerFactory };

/** A listener as baton uses it: what to bind (the spec) and, when it has one, its own app. */
export interface ListenerConfig {
  spec: ListenerSpec;
  app: App | undefined;
}

const NAME_MAX = 255; // systemd's limit for FileDescriptorName=

/** Checks the `listeners` option; returns the listeners with resolved paths. Throws BatonOptionError. */
function checkListeners(input: unknown): ListenerConfig[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new BatonOptionError('listeners', `must be a non-empty array such as [{ name: 'web', port: 8080 }], got ${Array.isArray(input) ? 'an empty array' : show(input)}.`);
  }
  const out: ListenerConfig[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  input.forEach((entry: unknown, i: number) => {
    const at = `listeners[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new BatonOptionError(at, `must be an object such as { name: 'web', port: 8080 } or { name: 'admin', path: '/run/app.sock' }, got ${show(entry)}.`);
    }
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!(LISTENER_KEYS as readonly string[]).includes(key)) {
        throw new BatonOptionError(`${at}.${key}`, `is not a listener field; known fields: ${LISTENER_KEYS.join(', ')}.`);
      }
    }
    const name = e.name;
    if (typeof name !== 'string' || name === '' || name.length > NAME_MAX || /[:\s\x00-\x1f]/.test(name)) {
      throw new BatonOptionError(`${at}.name`, `must be a non-empty string of at most ${NAME_MAX} characters without ":", spaces or control characters, got ${show(name)}.`);
    }
    const dup = names.get(name);
    if (dup !== undefined) throw new BatonOptionError(`${at}.name`, `${show(name)} is already the name of listeners[${dup}]; names must be unique.`);
    names.set(name, i);
    let spec: ListenerSpec;
    if (e.path !== undefined) {
      if (typeof e.path !== 'string' || e.path === '') {
        throw new BatonOptionError(`${at}.path`, `must be a non-empty string naming a UNIX socket file, got ${show(e.path)}.`);
      }
      if (e.port !== undefined || e.host !== undefined) {
        throw new BatonOptionError(`${at}.path`, 'cannot be combined with "port" or "host": a listener is either a UNIX socket or a TCP address.');
      }
      const resolved = path.resolve(e.path);
      if (Buffer.byteLength(resolved) > 107) {
        throw new BatonOptionError(`${at}.path`, `resolves to ${resolved}, longer than the 107 bytes a UNIX socket path may have; choose a shorter path.`);
      }
      spec = { name, path: resolved };
      if (e.mode !== undefined) {
        if (typeof e.mode !== 'number' || !Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o777) {
          throw new BatonOptionError(`${at}.mode`, `must be an integer from 0 to 0o777 (permission bits such as 0o660), got ${show(e.mode)}.`);
        }
        spec.mode = e.mode;
      }
    } else {
      if (e.mode !== undefined) throw new BatonOptionError(`${at}.mode`, 'applies to a UNIX socket only: give a "path" or remove "mode".');
      if (e.port === undefined) throw new BatonOptionError(`${at}.port`, 'is required: give a TCP "port" (0 picks a free one) or a UNIX socket "path".');
      spec = { name, port: portOption(`${at}.port`, e.port) };
      if (e.host !== undefined) {
        if (typeof e.host !== 'string' || e.host === '') {
          throw new BatonOptionError(`${at}.host`, `must be a non-empty string such as "127.0.0.1" or "::", got ${show(e.host)}.`);
        }
        spec.host = e.host;
      }
    }
    if (spec.port !== 0) {
      const where = spec.path ?? `${spec.host ?? '*'} ${spec.port}`;
      const other = addresses.get(where);
      if (other !== undefined) {
        throw new BatonOptionError(`${at}.${spec.path !== undefined ? 'path' : 'port'}`, `is the same address as listeners[${other}]; each listener needs its own.`);
      }
      addresses.set(where, i);
    }
    if (e.handler !== undefined && e.createServer !== undefined) {
      throw new BatonOptionError(`${at}.handler`, 'cannot be combined with "createServer": give one or the other.');
    }
    let app: App | undefined;
    if (e.handler !== undefined) {
      if (typeof e.handler !== 'function') throw new BatonOptionError(`${at}.handler`, `must be a request listener (req, res) => {...}, ${handlerMistake(e.handler) ?? `got ${show(e.handler)}.`}`);
      app = { kind: 'handler', handler: e.handler as RequestListener };
    } else if (e.createServer !== undefined) {
      if (typeof e.createServer !== 'function') throw new BatonOptionError(`${at}.createServer`, `must be a function returning a server, got ${show(e.createServer)}.`);
      app = { kind: 'factory', factory: e.createServer as ServerFactory };
    }
    out.push({ spec, app });
  });
  return out;
}

/**
 * The listeners of checked options: the `listeners` option, or the single listener named
 * "default" that port/host/path describe.
 */
export function resolveListeners(input: ListenOptions | undefined, resolved: ResolvedOptions): ListenerConfig[] {
  if (input?.listeners !== undefined) return checkListeners(input.listeners);
  const spec: ListenerSpec = resolved.path !== undefined
    ? { name: 'default', path: resolved.path }
    : { name: 'default', port: resolved.port, host: resolved.host };
  return [{ spec, app: undefined }];
}

/**
 * The second argument of listen() with the listeners it serves: it may be left out when every
 * listener has its own handler or createServer.
 */
export function resolveMainApp(handler: unknown, listeners: ListenerConfig[]): App | undefined {
  if (handler === undefined && listeners.length > 0 && listeners.every((l) => l.app !== undefined)) return undefined;
  return resolveApp(handler);
}

/** Checks the second argument of listen(): a request listener or { createServer }. */
export function resolveApp(handler: unknown): App {
  if (typeof handler === 'function') return { kind: 'handler', handler: handler as RequestListener };
  if (typeof handler === 'object' && handler !== null) {
    const factory = (handler as { createServer?: unknown }).createServer;
    if (typeof factory === 'function' && Object.keys(handler).length === 1) {
      return { kind: 'factory', factory: factory as ServerFactory };
    }
  }
  throw new BatonOptionError(
    'handler',
    `(the second argument of listen) must be a request listener (req, res) => {...} or { createServer: () => server }, ${handlerMistake(handler) ?? `got ${show(handler)}.`}`,
  );
}
