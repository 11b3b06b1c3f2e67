import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as sinon from 'sinon';
import { descendants, isAlive, killTree } from '../../../lib/os/proctree';
import { Lines, Pids, running } from '../../support/unit';
import { waitFor } from '../../support/wait';

// root (node) -> child (node, titled with parentheses and spaces) -> grandchild (node), all sleeping.
// Each prints its pid on the shared stdout.
const GRANDCHILD = "console.log('grandchild ' + process.pid); setInterval(() => {}, 1000);";
const CHILD = `
process.title = 'x) (y z';
const { spawn } = require('node:child_process');
spawn(process.execPath, ['-e', ${JSON.stringify(GRANDCHILD)}], { stdio: ['ignore', 'inherit', 'inherit'] });
console.log('child ' + process.pid);
setInterval(() => {}, 1000);`;
const ROOT = `
const { spawn } = require('node:child_process');
spawn(process.execPath, ['-e', ${JSON.stringify(CHILD)}], { stdio: ['ignore', 'inherit', 'inherit'] });
setInterval(() => {}, 1000);`;

const SLEEPER = 'setInterval(() => {}, 1000);';

describe('proctree', function () {
  this.timeout(10_000);
  const pids = new Pids();
  afterEach(() => {
    sinon.restore();
    pids.killAll();
  });

  async function tree(): Promise<{ root: ChildProcess; rootPid: number; child: number; grandchild: number }> {
    const root = spawn(process.execPath, ['-e', ROOT], { stdio: ['ignore', 'pipe', 'inherit'] });
    const rootPid = pids.add(root.pid);
    const out = new Lines(root);
    const child = Number((await out.wait(/^child (\d+)$/))[1]);
    pids.add(child);
    const grandchild = Number((await out.wait(/^grandchild (\d+)$/))[1]);
    pids.add(grandchild);
    return { root, rootPid, child, grandchild };
  }

  function sleeper(): number {
    return pids.add(spawn(process.execPath, ['-e', SLEEPER], { stdio: 'ignore' }).pid);
  }

  it('descendants() finds children and grandchildren, even under a title with parentheses', async function () {
    if (process.platform !== 'linux') this.skip();
    const t = await tree();
    const other = sleeper();
    // The child's title is its comm in /proc/<pid>/stat: "(x) (y z)".
    await waitFor('the child title to show', () => fs.readFileSync(`/proc/${t.child}/stat`, 'utf8').includes('(x) (y z)'), 5_000, 10);
    const d = descendants(t.rootPid);
    expect(d.sort()).to.deep.equal([t.child, t.grandchild].sort());
    expect(descendants(t.child)).to.deep.equal([t.grandchild]);
    expect(descendants(t.grandchild)).to.deep.equal([]);
    // Our own descendants include the tree and the unrelated sleeper, but never ourselves.
    const mine = descendants(process.pid);
    expect(mine).to.include.members([t.rootPid, t.child, t.grandchild, other]);
    expect(mine).not.to.include(process.pid);
  });

  it('descendants() of a pid that does not exist is empty', () => {
    expect(descendants(2 ** 22 + 12345)).to.deep.equal([]);
  });

  it('killTree() SIGKILLs the root and every descendant, and returns their pids', async function () {
    if (process.platform !== 'linux') this.skip();
    const t = await tree();
    const other = sleeper();
    const exited = new Promise<NodeJS.Signals | null>((resolve) => t.root.once('exit', (_code, signal) => resolve(signal)));
    const killed = killTree(t.rootPid);
    expect(killed.sort()).to.deep.equal([t.rootPid, t.child, t.grandchild].sort());
    expect(await exited).to.equal('SIGKILL');
    await waitFor('the child and grandchild to die', () => !running(t.child) && !running(t.grandchild), 5_000, 10);
    expect(running(other), 'an unrelated process survives').to.equal(true);
  });

  it('killTree() also kills the extra pids, never this process, and skips pids already gone', async () => {
    const a = sleeper();
    const b = sleeper();
    const real = process.kill.bind(process);
    const calls: Array<[number, unknown]> = [];
    sinon.stub(process, 'kill').callsFake((pid: number, sig?: string | number) => {
      calls.push([pid, sig]);
      if (pid === process.pid) return true; // recorded, not delivered
      return real(pid, sig);
    });
    const gone = 2 ** 22 + 54321;
    const killed = killTree(a, [b, process.pid, gone]);
    expect(calls.map(([p]) => p)).not.to.include(process.pid);
    expect(killed.sort()).to.deep.equal([a, b].sort());
    sinon.restore();
    await waitFor('both sleepers to die', () => !running(a) && !running(b), 5_000, 10);
  });

  it('isAlive() tells a live process from one that exited', async () => {
    expect(isAlive(process.pid)).to.equal(true);
    const p = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const pid = pids.add(p.pid);
    await new Promise((resolve) => p.once('exit', resolve)); // reaped by Node
    await waitFor('the exited child to be reaped', () => !isAlive(pid), 5_000, 10);
    expect(isAlive(pid)).to.equal(false);
    const s = sleeper();
    expect(isAlive(s)).to.equal(true);
  });
});
