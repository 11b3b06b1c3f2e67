// Options of listen(): the user's words, checked before any process is forked.
//
// Every option has a documented default (docs/options.md). A wrong type, range or
// combination throws a BatonOptionError that names the option, says what was given
// and what to do instead.
import * as os from 'node:os';
import * as path from 'node:path';
import type { RequestListener } from 'node:http';
import type { Server } from 'node:net';

export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';

export interface ListenOptions {
  /** TCP port (0 picks a free one, kept across upgrades). Default 8080 unless `path` is set. */
  port?: number;
  /** Address to bind. Default: every interface, as Node does. */
  host?: string;
  /** UNIX socket path, instead of port/host. */
  path?: string;
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
  /** Which log lines are printed (to stderr). Default 'warn'; env BATON_LOG_LEVEL overrides. */
  logLevel?: LogLevel;
  /** 'text' (default) or 'json', one line per event; env BATON_LOG_FORMAT overrides. */
  logFormat?: LogFormat;
}

export type ServerFactory = () => Server | Promise<Server>;
export type AppHandler = RequestListener | { createServer: ServerFactory };

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
  logLevel: LogLevel;
  logFormat: LogFormat;
}

export const DEFAULT_PORT = 8080;
export const DEFAULTS = {
  drainTimeout: 30_000,
  readyTimeout: 60_000,
  keepAliveGrace: 1_000,
  backlog: 2_048,
  logLevel: 'warn' as LogLevel,
  logFormat: 'text' as LogFormat,
};

const LOG_LEVELS: readonly LogLevel[] = ['silent', 'error', 'warn', 'info', 'debug'];
const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
const KNOWN = [
  'port', 'host', 'path', 'workers', 'drainTimeout', 'readyTimeout', 'pidFile', 'manualReady',
  'keepAliveGrace', 'backlog', 'logLevel', 'logFormat',
] as const;

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

function closest(word: string): string | undefined {
  const lower = word.toLowerCase();
  return KNOWN.find((k) => k.toLowerCase() === lower || k.toLowerCase().startsWith(lower.slice(0, 4)));
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
  const port = sockPath === undefined ? integer(opts, 'port', 0, 65535, DEFAULT_PORT) : undefined;

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
  };
}

export type App = { kind: 'handler'; handler: RequestListener } | { kind: 'factory'; factory: ServerFactory };

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
    `(the second argument of listen) must be a request listener (req, res) => {...} or { createServer: () => server }, got ${show(handler)}.`,
  );
}
