// Worker records in the master's 'log' event.
//
// A worker writes its own lines (stderr, or its own `logger`: a logger object cannot
// cross processes, and each process gets one from its own listen() call). The master's
// 'log' event promises every record, so a worker also sends each of its records to the
// master, but only while the master has a 'log' listener: at fork time (BATON_LOG_FORWARD)
// or as soon as one is added (a 'log-forward' message). Worker records are a handful per
// worker's life (forked, ready, draining, exit, errors), never one per request.
import cluster from 'node:cluster';
import type { EventEmitter } from 'node:events';
import { PINO_LEVEL, type LogRecord } from '../log/log';
import { isBaton, type FromWorker, type ToWorker } from '../messages';

export const FORWARD_ENV = 'BATON_LOG_FORWARD';

function isRecord(r: unknown): r is LogRecord {
  const x = r as Partial<LogRecord> | null;
  return typeof x === 'object' && x !== null && typeof x.event === 'string' && typeof x.message === 'string'
    && typeof x.pid === 'number' && typeof x.level === 'string' && Object.hasOwn(PINO_LEVEL, x.level);
}

/** The master's side: tells workers whether to send, and re-emits what they send as 'log'. */
export class WorkerRecords {
  constructor(private master: EventEmitter, broadcast: (m: ToWorker) => void) {
    master.on('newListener', (event: string | symbol) => {
      if (event === 'log' && master.listenerCount('log') === 0) broadcast({ type: 'log-forward' });
    });
    cluster.on('message', (_worker, m: unknown) => {
      if (!isBaton(m) || m.type !== 'log') return;
      const record = (m as { record?: unknown }).record;
      if (isRecord(record)) master.emit('log', record);
    });
  }

  /** Environment of a worker about to be forked. */
  env(): Record<string, string> {
    return this.master.listenerCount('log') > 0 ? { [FORWARD_ENV]: '1' } : {};
  }
}

/** The worker's side: a Logger sink that sends records while the master wants them. */
export function recordForwarder(send: (m: FromWorker) => void): (r: LogRecord) => void {
  let on = process.env[FORWARD_ENV] === '1';
  process.on('message', (m: unknown) => {
    if (isBaton(m) && m.type === 'log-forward') on = true;
  });
  return (record) => {
    if (on) send({ type: 'log', record });
  };
}
