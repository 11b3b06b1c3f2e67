import { expect } from 'chai';
import * as sinon from 'sinon';
import { Logger, type LogRecord } from '../lib/log';

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
    it('prints one JSON object per line with the record and its extra fields', () => {
      const log = new Logger('worker', 2, 'info', 'json');
      const r = log.warn('drain-forced', 'closed 2 connection(s)\nby force', { forced: 2, nested: { a: 1 } });
      const out = lines();
      expect(out).to.have.length(1);
      const parsed = JSON.parse(out[0] as string);
      expect(parsed).to.deep.equal({
        time: r.time, level: 'warn', role: 'worker', pid: process.pid, generation: 2,
        event: 'drain-forced', message: 'closed 2 connection(s)\nby force', forced: 2, nested: { a: 1 },
      });
    });

    it('follows a format changed after construction', () => {
      const log = new Logger('master', 1, 'info', 'text');
      log.format = 'json';
      log.info('e', 'm');
      expect(JSON.parse(lines()[0] as string).event).to.equal('e');
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
