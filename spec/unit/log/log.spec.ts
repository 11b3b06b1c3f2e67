import { expect } from 'chai';
import * as sinon from 'sinon';
import * as os from 'node:os';
import { Logger, type ExternalLogger, type LogRecord } from '../../../lib/log/log';
import { shortTitleFor, titleFor, COMM_MAX } from '../../../lib/os/title';

describe('log: Logger', () => {
  let written: string[];
  beforeEach(() => {
    written = [];
    sinon.stub(process.stderr, 'write').callsFake((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => sinon.restore());

  /** Every write is exactly one line: one trailing newline, none inside. */
  function lines(): string[] {
    for (const w of written) {
      expect(w.endsWith('\n'), `write ${JSON.stringify(w)} ends with a newline`).to.equal(true);
      expect(w.slice(0, -1), `write ${JSON.stringify(w)} is one line`).not.to.match(/[\r\n]/);
    }
    return written.map((w) => w.slice(0, -1));
  }

  describe('text format', () => {
    it('prints role, pid, generation, level, event and message on one line', () => {
      const log = new Logger('master', 3, 'debug', 'text');
      const r = log.info('upgrade-start', 'starting an upgrade');
      const [line] = lines();
      expect(written).to.have.length(1);
      expect(line).to.equal(`${r.time} baton master[${process.pid}] gen=3 info upgrade-start: starting an upgrade`);
      expect(new Date(r.time).toISOString()).to.equal(r.time);
    });

    it('folds a multi-line message (a stack trace) into one line', () => {
      const log = new Logger('worker', 1, 'warn', 'text');
      const err = new Error('boom');
      log.error('start-failed', `the app failed: ${err.stack}`);
      log.warn('crlf', 'one\r\ntwo\nthree');
      const [first, second] = lines();
      expect(first).to.contain('baton worker[');
      expect(first).to.contain('the app failed: Error: boom | ');
      expect(second).to.match(/ warn crlf: one \| two \| three$/);
    });

    it('reflects a changed generation', () => {
      const log = new Logger('master', 1, 'info');
      log.generation = 9;
      log.info('e', 'm');
      expect(lines()[0]).to.contain(' gen=9 info e: m');
    });
  });

  describe('json format', () => {
    it("prints one JSON object per line with pino's field names, baton's, and the record's own", () => {
      const log = new Logger('worker', 2, 'info', 'json');
      const r = log.warn('drain-forced', 'closed 2 connection(s)\nby force', { forced: 2, nested: { a: 1 } });
      const out = lines();
      expect(out).to.have.length(1);
      const parsed = JSON.parse(out[0] as string);
      expect(parsed).to.deep.equal({
        level: 40, time: Date.parse(r.time), pid: process.pid, hostname: os.hostname(), role: 'worker', generation: 2,
        event: 'drain-forced', forced: 2, nested: { a: 1 }, msg: 'closed 2 connection(s)\nby force',
      });
      expect(Object.keys(parsed)).to.deep.equal(['level', 'time', 'pid', 'hostname', 'role', 'generation', 'event', 'forced', 'nested', 'msg']);
    });

    it("uses pino's numeric levels, and writes an error's type, message and stack inside the record", () => {
      const log = new Logger('master', 1, 'debug', 'json');
      log.debug('d', 'm');
      log.info('i', 'm');
      log.warn('w', 'm');
      log.error('e', 'm');
      const err = new TypeError('bad\nthing');
      log.fatal('uncaught-exception', 'uncaught exception: bad', { err });
      const parsed = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(parsed.map((p) => p.level)).to.deep.equal([20, 30, 40, 50, 60]);
      expect(parsed[4]?.err).to.deep.equal({ type: 'TypeError', message: 'bad\nthing', stack: err.stack });
    });

    it('follows a format changed after construction', () => {
      const log = new Logger('master', 1, 'info', 'text');
      log.format = 'json';
      log.info('e', 'm');
      expect(JSON.parse(lines()[0] as string).event).to.equal('e');
    });
  });

  describe('text format: an error field', () => {
    it("appends the error's stack, folded, to the message", () => {
      const log = new Logger('worker', 1, 'warn', 'text');
      const err = new Error('boom');
      log.error('start-failed', 'the app failed to start', { err });
      log.error('start-failed', 'the app failed to start', { err: 'not an error' });
      const [first, second] = lines();
      expect(first).to.contain(`error start-failed: the app failed to start: Error: boom | ${(err.stack as string).split('\n')[1]}`);
      expect(second).to.match(/start-failed: the app failed to start: not an error$/);
    });
  });

  describe('the logger option', () => {
    type Call = [string, ...unknown[]];
    function fake(extra: Record<string, unknown> = {}): { logger: ExternalLogger; calls: Call[] } {
      const calls: Call[] = [];
      const method = (name: string) => (...args: unknown[]) => calls.push([name, ...args]);
      return { calls, logger: { error: method('error'), warn: method('warn'), info: method('info'), debug: method('debug'), ...extra } as ExternalLogger };
    }

    it('is called with (fields, message) at its level instead of printing, above logLevel only', () => {
      const { logger, calls } = fake();
      const log = new Logger('master', 3, 'info', 'text', logger);
      log.info('upgrade-started', 'upgrade started: new master 42', { newPid: 42 });
      log.debug('worker-forked', 'not at info');
      log.error('e', 'an error');
      expect(written).to.deep.equal([]);
      expect(calls).to.deep.equal([
        ['info', { role: 'master', generation: 3, event: 'upgrade-started', newPid: 42 }, 'upgrade started: new master 42'],
        ['error', { role: 'master', generation: 3, event: 'e' }, 'an error'],
      ]);
    });

    it('keeps `this` (pino and bunyan methods need it), and takes fatal when it has one, else error', () => {
      const seen: unknown[] = [];
      const obj = {
        error(this: unknown) { seen.push(['error', this === obj]); },
        warn() {}, info() {}, debug() {},
        fatal(this: unknown) { seen.push(['fatal', this === obj]); },
      };
      new Logger('worker', 1, 'warn', 'text', obj).fatal('uncaught-exception', 'x');
      const { logger, calls } = fake();
      new Logger('worker', 1, 'warn', 'text', logger).fatal('uncaught-exception', 'x', { err: new Error('y') });
      expect(seen).to.deep.equal([['fatal', true]]);
      expect(calls[0]?.[0]).to.equal('error');
      expect((calls[0]?.[1] as { err: unknown }).err).to.include({ type: 'Error', message: 'y' });
    });

    it('winston (recognized by its transports) is called message first', () => {
      const { logger, calls } = fake({ transports: [], add() {}, log() {} });
      new Logger('master', 1, 'warn', 'text', logger).warn('w', 'a warning', { k: 1 });
      expect(calls).to.deep.equal([['warn', 'a warning', { role: 'master', generation: 1, event: 'w', k: 1 }]]);
    });

    it('a logger that throws does not lose the record: it goes to stderr', () => {
      const boom = (): never => {
        throw new Error('logger broken');
      };
      const log = new Logger('master', 1, 'warn', 'text', { error: boom, warn: boom, info: boom, debug: boom });
      expect(() => log.error('e', 'still here')).not.to.throw();
      expect(lines()[0]).to.match(/ error e: still here$/);
    });
  });

  describe('level filtering', () => {
    const all = (log: Logger): void => {
      log.error('e1', 'error');
      log.warn('e2', 'warn');
      log.info('e3', 'info');
      log.debug('e4', 'debug');
    };
    const printed = (): string[] => lines().map((l) => (l.match(/ (\w+): \w+$/) as RegExpMatchArray)[1] as string);

    for (const [level, expected] of [
      ['silent', []],
      ['error', ['e1']],
      ['warn', ['e1', 'e2']],
      ['info', ['e1', 'e2', 'e3']],
      ['debug', ['e1', 'e2', 'e3', 'e4']],
    ] as Array<['silent' | 'error' | 'warn' | 'info' | 'debug', string[]]>) {
      it(`at "${level}" prints ${expected.length ? expected.join(', ') : 'nothing'}`, () => {
        all(new Logger('master', 1, level));
        expect(printed()).to.deep.equal(expected);
      });
    }

    it('defaults to warn and text', () => {
      const log = new Logger('master', 1);
      expect(log.level).to.equal('warn');
      expect(log.format).to.equal('text');
      all(log);
      expect(printed()).to.deep.equal(['e1', 'e2']);
    });

    it('follows a level changed after construction', () => {
      const log = new Logger('master', 1, 'error');
      log.info('x', 'hidden');
      log.level = 'info';
      log.info('y', 'shown');
      expect(printed()).to.deep.equal(['y']);
    });
  });

  describe('sink', () => {
    it('receives every record, printed or not, and the same object log() returns', () => {
      const log = new Logger('master', 4, 'silent');
      const got: LogRecord[] = [];
      log.sink = (r) => got.push(r);
      const a = log.debug('d', 'debug line', { k: 'v' });
      const b = log.error('e', 'error line');
      expect(written).to.deep.equal([]);
      expect(got).to.have.length(2);
      expect(got[0]).to.equal(a);
      expect(got[1]).to.equal(b);
      expect(got[0]).to.deep.include({ level: 'debug', role: 'master', pid: process.pid, generation: 4, event: 'd', message: 'debug line', k: 'v' });
    });

    it('is optional', () => {
      const log = new Logger('worker', 1, 'error');
      expect(() => log.error('e', 'm')).not.to.throw();
      expect(lines()).to.have.length(1);
    });
  });
});

describe('title: process titles', () => {
  it('the comm (15 bytes) says role, generation and stage for every state; the long form stays whole', () => {
    for (const role of ['master', 'worker'] as const) {
      for (const state of ['starting', 'serving', 'draining', 'stopping', 'old, draining', 'taking back']) {
        for (const gen of [1, 42, 12345, 2 ** 31]) {
          const short = shortTitleFor(role, gen, state);
          expect(Buffer.byteLength(short), short).to.be.at.most(COMM_MAX);
          expect(short).to.match(role === 'master' ? /^baton:m/ : /^baton:w/);
          expect(short).to.match(/ (start|serve|drain|stop|old|back)$/);
        }
        expect(titleFor(role, 3, state)).to.equal(`baton ${role} gen=3 ${state}`);
      }
    }
    expect(shortTitleFor('worker', 3, 'serving')).to.equal('baton:w3 serve');
    expect(shortTitleFor('master', 12, 'old, draining')).to.equal('baton:m12 old');
    // no room for a long generation: the stage wins
    expect(shortTitleFor('worker', 123456, 'draining')).to.equal('baton:w drain');
    expect(shortTitleFor('supervisor', 0, 'running')).to.equal('baton:sup');
  });
});
