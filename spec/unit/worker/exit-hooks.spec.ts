// beforeExit(fn) (lib/worker/exit-hooks.ts) on sinon's fake clock: it waits for each function up to
// exitTimeout, logs one that throws, rejects or never settles, and runs them once; in real workers
// and masters: spec/integration/exit-hooks.spec.ts.
import { expect } from 'chai';
import * as sinon from 'sinon';
import { ExitHooks } from '../../../lib/worker/exit-hooks';
import { Logger, type LogRecord } from '../../../lib/log/log';

function quietLog(): { log: Logger; records: LogRecord[] } {
  const log = new Logger('worker', 3, 'silent');
  const records: LogRecord[] = [];
  log.sink = (r) => records.push(r);
  return { log, records };
}

/** Runs the hooks; `endsAt(ms)` ticks the fake clock and says whether the run has ended right then. */
function runUnder(clock: sinon.SinonFakeTimers, hooks: ExitHooks, reason: string, timeoutMs: number): { outcome: Promise<void>; endsAt: (ms: number) => Promise<void> } {
  let done = false;
  const outcome = hooks.run(reason, timeoutMs).then(() => {
    done = true;
  });
  const endsAt = async (ms: number): Promise<void> => {
    await clock.tickAsync(ms - 1);
    expect(done, `still running ${ms - 1} ms in`).to.equal(false);
    await clock.tickAsync(1);
    expect(done, `ended at ${ms} ms`).to.equal(true);
  };
  return { outcome, endsAt };
}

describe('beforeExit (unit, fake timers)', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers();
  });
  afterEach(() => clock.restore());

  it('waits for a function that takes 500 ms, and passes it the reason', async () => {
    const { log, records } = quietLog();
    const hooks = new ExitHooks(log);
    let reason = '';
    let finished = false;
    hooks.add((r: string) => {
      reason = r;
      return new Promise<void>((resolve) => setTimeout(() => {
        finished = true;
        resolve();
      }, 500));
    });
    const run = runUnder(clock, hooks, 'reloaded', 10_000);
    await run.endsAt(500);
    await run.outcome;
    expect(finished).to.equal(true);
    expect(reason).to.equal('reloaded');
    expect(records.filter((r) => r.level === 'error')).to.deep.equal([]);
    expect(records.map((r) => r.event)).to.deep.equal(['before-exit', 'before-exit-done']);
  });

  it('gives up at exitTimeout on a function that never settles, and logs it by name', async () => {
    const { log, records } = quietLog();
    const hooks = new ExitHooks(log);
    hooks.add(function flushQueue() {
      return new Promise(() => undefined);
    });
    hooks.add(() => undefined);
    const run = runUnder(clock, hooks, 'SIGTERM', 1_000);
    await run.endsAt(1_000);
    await run.outcome;
    expect(records.filter((r) => r.event === 'before-exit-failed')).to.deep.equal([]);
    const timeouts = records.filter((r) => r.event === 'before-exit-timeout');
    expect(timeouts).to.have.length(1);
    expect(timeouts[0]?.level).to.equal('error');
    expect(timeouts[0]?.pid).to.equal(process.pid);
    expect(timeouts[0]?.message).to.equal('beforeExit #1 (flushQueue) still running at exitTimeout (1000 ms): exiting without waiting for it');
  });

  it('logs a function that throws and one that rejects, one record each, and still waits for the others', async () => {
    const { log, records } = quietLog();
    const hooks = new ExitHooks(log);
    hooks.add(function closePool() {
      throw new Error('pool already closed');
    });
    hooks.add(() => Promise.reject(new Error('flush failed')));
    let slowDone = false;
    hooks.add(() => new Promise<void>((resolve) => setTimeout(() => {
      slowDone = true;
      resolve();
    }, 300)));
    const run = hooks.run('upgraded', 10_000);
    await clock.tickAsync(300);
    await run;
    expect(records.filter((r) => r.event === 'before-exit-timeout')).to.deep.equal([]);
    expect(slowDone).to.equal(true);
    const failed = records.filter((r) => r.event === 'before-exit-failed');
    expect(failed.map((r) => r.message.split('\n')[0])).to.deep.equal([
      'beforeExit #1 (closePool) failed: Error: pool already closed',
      'beforeExit #2 failed: Error: flush failed',
    ]);
    // printed, a stack stays one line (lib/log/log.ts folds it)
    expect(log.render(failed[0] as LogRecord)).to.not.contain('\n');
  });

  it('runs the functions once, however often the exit is asked for; refuses a non-function', async () => {
    const { log } = quietLog();
    const hooks = new ExitHooks(log);
    let calls = 0;
    hooks.add(() => {
      calls++;
    });
    const a = hooks.run('SIGTERM', 1_000);
    const b = hooks.run('the master is gone', 1_000);
    expect(a).to.equal(b);
    await a;
    expect(calls).to.equal(1);
    expect(() => hooks.add('close' as unknown as () => void)).to.throw(TypeError, /beforeExit\(\) takes a function .*got string/);
  });

  it('with nothing registered, resolves at once', async () => {
    const { log, records } = quietLog();
    await new ExitHooks(log).run('SIGTERM', 1_000);
    expect(records, 'nothing to say').to.deep.equal([]);
  });
});
