import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HISTORY_LIMIT, REASON_LIMIT, appendHistory, formatHistory, historyPath, readHistory, type NewRecord } from '../../../lib/observe/history';
import { Pids, removeDir, tempDir } from '../../support/unit';

function rec(i: number, over: Partial<NewRecord> = {}): NewRecord {
  return {
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    kind: i % 2 === 0 ? 'upgrade' : 'reload',
    trigger: 'cli',
    from: { release: `/srv/app/releases/${i}`, node: 'v20.20.2', generation: i, pid: 100 },
    to: { release: `/srv/app/releases/${i + 1}`, node: 'v22.1.0', generation: i + 1, pid: 200 },
    result: 'succeeded',
    durationMs: 1234,
    ...over,
  };
}

describe('observe: history', () => {
  let dir: string;
  let file: string;
  const pids = new Pids();
  beforeEach(() => {
    dir = tempDir('baton-history-');
    file = historyPath(path.join(dir, 'app.pid'));
  });
  afterEach(() => {
    pids.killAll();
    removeDir(dir);
  });

  it('lives beside the pid file', () => {
    expect(historyPath('/run/app/app.pid')).to.equal('/run/app/app.pid.history');
  });

  it('is empty when the file does not exist, and reads back what was appended, oldest first', () => {
    expect(readHistory(file)).to.deep.equal([]);
    const a = appendHistory(file, rec(1));
    const b = appendHistory(file, rec(2, { result: 'rolled_back', reason: '5xx 21.4% (112 of 523) vs 0.0% (0 of 611) in probation', trigger: 'signal' }));
    expect(a.id).to.be.a('string').and.not.equal(b.id);
    const got = readHistory(file);
    expect(got).to.deep.equal([a, b]);
    expect(got[1]?.reason).to.equal('5xx 21.4% (112 of 523) vs 0.0% (0 of 611) in probation');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines).to.have.length(3); // two JSON lines and the final newline
    expect(JSON.parse(lines[0] as string)).to.deep.equal(a);
    expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
  });

  it(`keeps the last ${HISTORY_LIMIT} records`, () => {
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) appendHistory(file, rec(i));
    const got = readHistory(file);
    expect(got).to.have.length(HISTORY_LIMIT);
    expect(got[0]?.from.generation).to.equal(5);
    expect(got[got.length - 1]?.from.generation).to.equal(HISTORY_LIMIT + 4);
  });

  it('leaves no temporary file behind, and a reader never sees half a file', () => {
    for (let i = 0; i < 20; i++) appendHistory(file, rec(i, { reason: 'x'.repeat(1000) }));
    expect(fs.readdirSync(dir)).to.deep.equal(['app.pid.history']);
    // another process reads while this one appends: every read is whole (parses line by line)
    const reader = `
      const fs = require('node:fs');
      let bad = 0, reads = 0;
      const end = Date.now() + 400;
      while (Date.now() < end) {
        const t = fs.readFileSync(${JSON.stringify(file)}, 'utf8');
        reads++;
        if (!t.endsWith('\\n')) bad++;
        for (const l of t.split('\\n')) if (l !== '') { try { JSON.parse(l); } catch { bad++; } }
      }
      process.stdout.write(JSON.stringify({ bad, reads }));`;
    const child = spawn(process.execPath, ['-e', reader], { stdio: ['ignore', 'pipe', 'inherit'] });
    pids.add(child.pid);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d));
    const end = Date.now() + 300;
    let n = 20;
    while (Date.now() < end && n < 400) appendHistory(file, rec(n++, { reason: 'y'.repeat(2000) }));
    return new Promise<void>((resolve, reject) => {
      child.on('exit', () => {
        try {
          const r = JSON.parse(out) as { bad: number; reads: number };
          expect(r.reads).to.be.greaterThan(0);
          expect(r.bad, `${r.bad} partial reads of ${r.reads}`).to.equal(0);
          resolve();
        } catch (err) {
          reject(err);
        }
      });
    });
  });

  it('survives a restart: another process reads and appends to the same file', () => {
    appendHistory(file, rec(1));
    const lib = path.resolve(__dirname, '../../../lib/observe/history.ts');
    const code = `
      const h = require(${JSON.stringify(lib)});
      h.appendHistory(${JSON.stringify(file)}, ${JSON.stringify(rec(2))});
      process.stdout.write(String(h.readHistory(${JSON.stringify(file)}).length));`;
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('2');
    expect(readHistory(file).map((x) => x.from.generation)).to.deep.equal([1, 2]);
  });

  it('skips lines that are not records (a file edited by hand, another version)', () => {
    const good = appendHistory(file, rec(1));
    fs.appendFileSync(file, 'not json\n{"id":"x"}\n\n');
    const next = appendHistory(file, rec(2));
    expect(readHistory(file)).to.deep.equal([good, next]);
  });

  it('cuts a long reason and refuses a malformed record', () => {
    const r = appendHistory(file, rec(1, { result: 'failed', reason: 'E'.repeat(REASON_LIMIT * 2) }));
    expect(r.reason).to.have.length(REASON_LIMIT);
    expect(r.reason?.endsWith('…')).to.equal(true);
    expect(() => appendHistory(file, rec(2, { result: 'ok' as never }))).to.throw(/not a history record/);
    expect(() => appendHistory(file, rec(2, { from: { release: 1 } as never }))).to.throw(/not a history record/);
    expect(readHistory(file)).to.have.length(1);
  });

  it('throws on a directory it cannot write, leaving nothing behind', () => {
    const missing = path.join(dir, 'nope', 'app.pid.history');
    expect(() => appendHistory(missing, rec(1))).to.throw(/ENOENT/);
  });

  it('formats a table for baton history', () => {
    expect(formatHistory([])).to.equal('no upgrades or reloads recorded\n');
    const text = formatHistory([appendHistory(file, rec(2, { result: 'rolled_back', reason: 'p99 412 ms vs 80 ms (5.2x, limit 3x) in probation\nmore' })), appendHistory(file, rec(3, { to: undefined, result: 'failed' }))]);
    const lines = text.trimEnd().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.equal('2026-01-01T00:00:02.000Z  upgrade cli    rolled_back    1.2s  gen 2 /srv/app/releases/2 (v20.20.2) -> gen 3 /srv/app/releases/3 (v22.1.0): p99 412 ms vs 80 ms (5.2x, limit 3x) in probation');
    expect(lines[1]).to.match(/reload  cli    failed +1\.2s  gen 3 \/srv\/app\/releases\/3 \(v20\.20\.2\) -> -$/);
  });
});
