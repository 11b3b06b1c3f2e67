import { expect } from 'chai';
import { FIRST_FD, HANDOFF_ENV, readHandoff, type Handoff } from '../../../lib/upgrade/handoff';

const GOOD: Handoff = {
  v: 1,
  parent: 1234,
  generation: 3,
  listeners: [
    { spec: { name: 'default', port: 8080, host: '127.0.0.1' }, fd: 4 },
    { spec: { name: 'admin', path: '/tmp/admin.sock' }, fd: 5 },
  ],
};

function env(raw: string): NodeJS.ProcessEnv {
  return { [HANDOFF_ENV]: raw };
}

function malformed(value: unknown, why: string): void {
  const raw = typeof value === 'string' ? value : JSON.stringify(value);
  expect(() => readHandoff(env(raw))).to.throw(
    Error,
    `baton: malformed BATON_HANDOFF from the previous master (${why}); start this program without BATON_HANDOFF in its environment`,
  );
}

describe('handoff: readHandoff', () => {
  it('uses the BATON_HANDOFF variable, with sockets from fd 4', () => {
    expect(HANDOFF_ENV).to.equal('BATON_HANDOFF');
    expect(FIRST_FD).to.equal(4);
  });

  it('returns undefined when the variable is absent or empty (started by hand)', () => {
    expect(readHandoff({})).to.equal(undefined);
    expect(readHandoff(env(''))).to.equal(undefined);
  });

  it('reads what an old master wrote (JSON)', () => {
    expect(readHandoff(env(JSON.stringify(GOOD)))).to.deep.equal(GOOD);
  });

  it('accepts a scaled worker count and external (socket-activated) listeners', () => {
    const h: Handoff = { ...GOOD, workers: 6, listeners: [{ spec: { name: 'default', port: 80 }, fd: 4, external: true }] };
    expect(readHandoff(env(JSON.stringify(h)))).to.deep.equal(h);
  });

  it('rejects a worker count that is not an integer from 1 to 1024', () => {
    for (const workers of [0, -2, 1025, 2.5, '4', null]) malformed({ ...GOOD, workers }, 'workers is not an integer from 1 to 1024');
  });

  it('accepts an empty listener list', () => {
    expect(readHandoff(env(JSON.stringify({ ...GOOD, listeners: [] })))?.listeners).to.deep.equal([]);
  });

  it('reads process.env by default', () => {
    const saved = process.env[HANDOFF_ENV];
    try {
      process.env[HANDOFF_ENV] = JSON.stringify(GOOD);
      expect(readHandoff()).to.deep.equal(GOOD);
      delete process.env[HANDOFF_ENV];
      expect(readHandoff()).to.equal(undefined);
    } finally {
      if (saved === undefined) delete process.env[HANDOFF_ENV];
      else process.env[HANDOFF_ENV] = saved;
    }
  });

  it('rejects text that is not JSON', () => {
    malformed('{v:1', 'not JSON');
    malformed('undefined', 'not JSON');
  });

  it('rejects another version or a non-object', () => {
    malformed({ ...GOOD, v: 2 }, 'unknown version');
    malformed({ ...GOOD, v: '1' }, 'unknown version');
    malformed(null, 'unknown version');
    malformed(1, 'unknown version');
    malformed([GOOD], 'unknown version');
  });

  it('rejects a missing or bad parent pid', () => {
    malformed({ ...GOOD, parent: undefined }, 'no parent pid');
    malformed({ ...GOOD, parent: 0 }, 'no parent pid');
    malformed({ ...GOOD, parent: -1 }, 'no parent pid');
    malformed({ ...GOOD, parent: 1.5 }, 'no parent pid');
    malformed({ ...GOOD, parent: '1234' }, 'no parent pid');
  });

  it('rejects a missing or bad generation', () => {
    malformed({ ...GOOD, generation: undefined }, 'no generation');
    malformed({ ...GOOD, generation: 0 }, 'no generation');
    malformed({ ...GOOD, generation: 2.5 }, 'no generation');
  });

  it('rejects a missing listener list', () => {
    malformed({ ...GOOD, listeners: undefined }, 'no listener list');
    malformed({ ...GOOD, listeners: { fd: 4 } }, 'no listener list');
  });

  it('rejects a listener without a spec', () => {
    malformed({ ...GOOD, listeners: [null] }, 'a listener without a spec');
    malformed({ ...GOOD, listeners: [{ fd: 4 }] }, 'a listener without a spec');
    malformed({ ...GOOD, listeners: [{ spec: null, fd: 4 }] }, 'a listener without a spec');
    malformed({ ...GOOD, listeners: [{ spec: 'default', fd: 4 }] }, 'a listener without a spec');
  });

  it('rejects bad fds: below 4 (stdio and the IPC channel), fractional, not a number', () => {
    const spec = { name: 'default', port: 80 };
    malformed({ ...GOOD, listeners: [{ spec, fd: 3 }] }, 'listener fd 3 is not a number from 4 up');
    malformed({ ...GOOD, listeners: [{ spec, fd: 0 }] }, 'listener fd 0 is not a number from 4 up');
    malformed({ ...GOOD, listeners: [{ spec, fd: -4 }] }, 'listener fd -4 is not a number from 4 up');
    malformed({ ...GOOD, listeners: [{ spec, fd: 4.5 }] }, 'listener fd 4.5 is not a number from 4 up');
    malformed({ ...GOOD, listeners: [{ spec, fd: '4' }] }, 'listener fd 4 is not a number from 4 up');
    malformed({ ...GOOD, listeners: [{ spec }] }, 'listener fd undefined is not a number from 4 up');
  });

  it('rejects a listener without a name', () => {
    malformed({ ...GOOD, listeners: [{ spec: { port: 80 }, fd: 4 }] }, 'a listener without a name');
    malformed({ ...GOOD, listeners: [{ spec: { name: '', port: 80 }, fd: 4 }] }, 'a listener without a name');
    malformed({ ...GOOD, listeners: [{ spec: { name: 7, port: 80 }, fd: 4 }] }, 'a listener without a name');
  });

  it('rejects a name that appears twice', () => {
    malformed({
      ...GOOD,
      listeners: [{ spec: { name: 'web', port: 80 }, fd: 4 }, { spec: { name: 'api', port: 81 }, fd: 5 }, { spec: { name: 'web', port: 82 }, fd: 6 }],
    }, 'listener name "web" appears twice');
  });

  it('rejects an fd that appears twice', () => {
    expect(() => readHandoff(env(JSON.stringify({
      ...GOOD,
      listeners: [{ spec: { name: 'web', port: 80 }, fd: 4 }, { spec: { name: 'api', port: 81 }, fd: 4 }],
    })))).to.throw(/malformed BATON_HANDOFF.*fd 4/);
  });
});
