// The early-error preload (lib/upgrade/early.ts): where it is written, and that its directory never
// outlives its use, whoever stops first. Each test runs in a child process with its own
// TMPDIR, so another baton on this machine cannot disturb what is counted.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeDir, tempDir } from '../../support/unit';

const EARLY = path.resolve(__dirname, '../../../dist/upgrade/early.js');

/**
 * Runs `code` (with `early` = dist/upgrade/early.js) in a fresh node whose TMPDIR is `tmp`; returns its
 * stdout once it exited 0 (or was killed by `signal`).
 */
function run(tmp: string, code: string, signal: NodeJS.Signals | null = null): string {
  const r = spawnSync(process.execPath, ['-e', `const early = require(${JSON.stringify(EARLY)});\nconst O = { role: 'master', generation: 2, format: 'text' };\n${code}`], {
    env: { ...process.env, TMPDIR: tmp },
    encoding: 'utf8',
    timeout: 10_000,
  });
  expect([r.status, r.signal], r.stderr).to.deep.equal([signal === null ? 0 : null, signal]);
  return r.stdout;
}

describe('early-error preload directories (lib/upgrade/early.ts)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = tempDir('baton-early-spec-');
  });
  afterEach(() => removeDir(tmp));

  it('is written in $TMPDIR, and remove() removes it', () => {
    const out = run(tmp, `
      const r = early.earlyReporter(O, {});
      const file = r.env.NODE_OPTIONS.replace('--require=', '');
      console.log(JSON.stringify({ file, there: require('fs').existsSync(file) }));
      r.remove();
      console.log(require('fs').readdirSync(process.env.TMPDIR).length);
    `);
    const [first, count] = out.trim().split('\n');
    const seen = JSON.parse(first as string) as { file: string; there: boolean };
    expect(path.dirname(path.dirname(seen.file))).to.equal(tmp);
    expect(path.basename(path.dirname(seen.file))).to.match(/^baton-early-/);
    expect(seen.there).to.equal(true);
    expect(count).to.equal('0');
  });

  it('is removed when the process that wrote it exits without removing it (an old master that stops mid-upgrade)', () => {
    run(tmp, `
      early.earlyReporter(O, {});
      early.earlyReporter(O, {});
      if (require('fs').readdirSync(process.env.TMPDIR).length !== 2) process.exit(3);
    `);
    expect(fs.readdirSync(tmp)).to.deep.equal([]);
  });

  it('removes its own directory once loaded, and gives the app its NODE_OPTIONS back (an old master killed before it could)', () => {
    const out = run(tmp, `
      const r = early.earlyReporter(O, { NODE_OPTIONS: '--max-old-space-size=100' });
      const child = require('child_process').spawnSync(process.execPath, ['-e', 'console.log(JSON.stringify([process.env.NODE_OPTIONS, require("fs").readdirSync(process.env.TMPDIR)]))'], {
        env: { ...process.env, ...r.env }, encoding: 'utf8',
      });
      require('fs').writeSync(1, child.stdout);
      process.kill(process.pid, 'SIGKILL'); // no exit hook runs: only the preload can have removed it
    `, 'SIGKILL');
    expect(JSON.parse(out.trim())).to.deep.equal(['--max-old-space-size=100', []]);
    expect(fs.readdirSync(tmp)).to.deep.equal([]);
  });

  it("a starting generation's workers get a preload each (each removes its own); removeAll() takes the ones never loaded", () => {
    const out = run(tmp, `
      const p = early.workerPreloads({ generation: 3, format: 'text' }, () => ({ NODE_OPTIONS: '--no-warnings' }));
      const a = p.env();
      const b = p.env();
      const files = [a, b].map((e) => e.NODE_OPTIONS.replace('--no-warnings --require=', ''));
      console.log(JSON.stringify({ files, original: [a.BATON_ORIGINAL_NODE_OPTIONS, b.BATON_ORIGINAL_NODE_OPTIONS], count: require('fs').readdirSync(process.env.TMPDIR).length }));
      p.removeAll();
      console.log(require('fs').readdirSync(process.env.TMPDIR).length);
    `);
    const [first, after] = out.trim().split('\n');
    const seen = JSON.parse(first as string) as { files: string[]; original: string[]; count: number };
    expect(new Set(seen.files).size).to.equal(2);
    expect(seen.original).to.deep.equal(['--no-warnings', '--no-warnings']);
    expect(seen.count).to.equal(2);
    expect(after).to.equal('0');
  });
});
