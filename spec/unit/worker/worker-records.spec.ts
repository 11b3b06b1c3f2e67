// What a worker sends for the master's 'log' event (lib/worker/worker-records.ts), in this
// process: told at fork time or by a message, then every record. The records in real masters:
// spec/integration/logs.spec.ts.
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { Logger } from '../../../lib/log/log';
import { FORWARD_ENV, recordForwarder, WorkerRecords } from '../../../lib/worker/worker-records';

describe('worker-records: what a worker sends for the master\'s log event', () => {
  it('a worker is told to send at fork time only when the master has a log listener, later by a message', () => {
    const master = new EventEmitter();
    const told: unknown[] = [];
    const records = new WorkerRecords(master, (m) => told.push(m));
    expect(records.env()).to.deep.equal({});
    master.on('log', () => undefined);
    expect(told).to.deep.equal([{ type: 'log-forward' }]);
    master.on('log', () => undefined);
    expect(told, 'once, for the first listener').to.have.length(1);
    expect(records.env()).to.deep.equal({ [FORWARD_ENV]: '1' });
  });

  it('the worker sends nothing until told, then every record', () => {
    const saved = process.env[FORWARD_ENV];
    delete process.env[FORWARD_ENV];
    const sent: unknown[] = [];
    const log = new Logger('worker', 1, 'silent');
    log.sink = recordForwarder((m) => sent.push(m));
    try {
      log.debug('a', 'before');
      expect(sent).to.deep.equal([]);
      process.emit('message', { baton: 1, type: 'log-forward' }, undefined);
      const r = log.debug('b', 'after');
      expect(sent).to.deep.equal([{ type: 'log', record: r }]);
    } finally {
      if (saved !== undefined) process.env[FORWARD_ENV] = saved;
    }
  });
});
