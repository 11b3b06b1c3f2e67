// One line per event, with role, pid and generation. Quiet by default (warnings and
// errors only); `logLevel: 'info'` or 'debug' (or BATON_LOG_LEVEL) shows more.
//
// Three ways out, one record each: a text line, a JSON line with pino's field names
// (`logFormat: 'json'`, so that baton's lines sit in the same stream as an app's pino
// lines), or the app's own logger (`logger`: pino, bunyan, winston, console, ...), called
// in the process the record belongs to.
import * as os from 'node:os';

export type Role = 'master' | 'worker' | 'supervisor';
/** 'fatal' is for uncaught errors only (lib/os/fatal.ts); it is printed at every level but 'silent'. */
export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';
export type Severity = Exclude<LogLevel, 'silent'> | 'fatal';

export interface LogRecord {
  time: string;
  level: Severity;
  role: Role;
  pid: number;
  generation: number;
  event: string;
  message: string;
  [field: string]: unknown;
}

/** What the `logger` option takes: pino, bunyan, console, or anything with these four methods. */
export interface ExternalLogger {
  error(fields: Record<string, unknown>, message: string): unknown;
  warn(fields: Record<string, unknown>, message: string): unknown;
  info(fields: Record<string, unknown>, message: string): unknown;
  debug(fields: Record<string, unknown>, message: string): unknown;
  /** Used for uncaught errors when present (pino, bunyan); else `error`. */
  fatal?(fields: Record<string, unknown>, message: string): unknown;
}

export const LOGGER_METHODS = ['error', 'warn', 'info', 'debug'] as const;

const RANK: Record<LogLevel | 'fatal', number> = { silent: 0, fatal: 1, error: 1, warn: 2, info: 3, debug: 4 };
/** pino's numeric levels. */
export const PINO_LEVEL: Record<Severity, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20 };
/** Fields every record has; the others are the event's own. */
const CORE = new Set(['time', 'level', 'role', 'pid', 'generation', 'event', 'message']);

/** An error as pino's serializer writes it (an Error does not survive JSON or IPC). */
export function serializeError(err: unknown): { type: string; message: string; stack?: string } {
  if (err instanceof Error) return { type: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { type: typeof err, message: String(err) };
}

const hostname = os.hostname();

/** winston's methods take (message, meta); pino's, bunyan's and console's take the fields first. */
function messageFirst(l: object): boolean {
  const w = l as { transports?: unknown; add?: unknown; log?: unknown };
  return Array.isArray(w.transports) && typeof w.add === 'function' && typeof w.log === 'function';
}

/** `into` with the record's own fields (those not every record has) added. */
function withOwn(r: LogRecord, into: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(r)) if (!CORE.has(k)) into[k] = v;
  return into;
}

export class Logger {
  /** Called for every record, printed or not (the master turns them into 'log' events). */
  sink: ((r: LogRecord) => void) | undefined;
  private readonly winston: boolean;

  constructor(readonly role: Role, public generation: number, public level: LogLevel = 'warn', public format: LogFormat = 'text', readonly logger?: ExternalLogger) {
    this.winston = logger !== undefined && messageFirst(logger);
  }

  log(level: Severity, event: string, message: string, fields: Record<string, unknown> = {}): LogRecord {
    const record: LogRecord = {
      time: new Date().toISOString(),
      level,
      role: this.role,
      pid: process.pid,
      generation: this.generation,
      event,
      message,
    };
    for (const [k, v] of Object.entries(fields)) if (!CORE.has(k)) record[k] = v instanceof Error ? serializeError(v) : v;
    if (RANK[level] <= RANK[this.level]) this.write(record);
    this.sink?.(record);
    return record;
  }

  /** Prints a record, or hands it to the app's logger. */
  private write(r: LogRecord): void {
    const logger = this.logger;
    if (logger !== undefined) {
      const fields = withOwn(r, { role: r.role, generation: r.generation, event: r.event });
      try {
        const method = r.level === 'fatal' ? (logger.fatal ?? logger.error) : logger[r.level];
        if (this.winston) (method as unknown as (m: string, f: object) => unknown).call(logger, r.message, fields);
        else method.call(logger, fields, r.message);
        return;
      } catch {
        // a logger that throws must not take the master down: the line goes to stderr instead
      }
    }
    process.stderr.write(this.render(r) + '\n');
  }

  render(r: LogRecord): string {
    if (this.format === 'json') {
      const line = withOwn(r, { level: PINO_LEVEL[r.level], time: Date.parse(r.time), pid: r.pid, hostname, role: r.role, generation: r.generation, event: r.event });
      return JSON.stringify({ ...line, msg: r.message });
    }
    // Multi-line text (a stack trace) is folded so the record stays one line.
    const err = r.err as { stack?: unknown; message?: unknown } | string | undefined;
    const detail = err === undefined ? ''
      : typeof err !== 'object' || err === null ? `: ${String(err)}`
        : `: ${typeof err.stack === 'string' ? err.stack : String(err.message)}`;
    const msg = (r.message + detail).replace(/\r?\n/g, ' | ');
    return `${r.time} baton ${r.role}[${r.pid}] gen=${r.generation} ${r.level} ${r.event}: ${msg}`;
  }

  fatal(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('fatal', event, message, fields); }
  error(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('error', event, message, fields); }
  warn(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('warn', event, message, fields); }
  info(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('info', event, message, fields); }
  debug(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('debug', event, message, fields); }
}
