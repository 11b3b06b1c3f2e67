// One line per event, with role, pid and generation. Quiet by default (warnings and
// errors only); `logLevel: 'info'` or 'debug' (or BATON_LOG_LEVEL) shows more.
import type { LogFormat, LogLevel } from './options';

export type Role = 'master' | 'worker' | 'supervisor';
export type Severity = Exclude<LogLevel, 'silent'>;

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

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

export class Logger {
  level: LogLevel;
  format: LogFormat;
  generation: number;
  /** Called for every record, printed or not (the master turns them into 'log' events). */
  sink: ((r: LogRecord) => void) | undefined;

  constructor(readonly role: Role, generation: number, level: LogLevel = 'warn', format: LogFormat = 'text') {
    this.generation = generation;
    this.level = level;
    this.format = format;
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
      ...fields,
    };
    if (RANK[level] <= RANK[this.level]) process.stderr.write(this.render(record) + '\n');
    this.sink?.(record);
    return record;
  }

  render(r: LogRecord): string {
    if (this.format === 'json') return JSON.stringify(r);
    // Multi-line text (a stack trace) is folded so the record stays one line.
    const msg = r.message.replace(/\r?\n/g, ' | ');
    return `${r.time} baton ${r.role}[${r.pid}] gen=${r.generation} ${r.level} ${r.event}: ${msg}`;
  }

  error(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('error', event, message, fields); }
  warn(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('warn', event, message, fields); }
  info(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('info', event, message, fields); }
  debug(event: string, message: string, fields?: Record<string, unknown>): LogRecord { return this.log('debug', event, message, fields); }
}
