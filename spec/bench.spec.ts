// `npm run bench` in a tiny configuration: the JSON it prints is complete and adds up.
// Needs dist/ (npm run build). A few seconds of load per phase on 1 worker.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { running } from '../bench/common';
import type { BenchResult } from '../bench/run';
import type { TargetStats } from '../bench/stats';

const ROOT = path.resolve(__dirname, '..');

function sum(o: Record<string, number>): number {
  return Object.values(o).reduce((a, b) => a + b, 0);
}

function checkTarget(name: string, t: TargetStats): void {
  expect(t.requests, `${name}.requests`).to.be.a('number').greaterThan(0);
  expect(t.answered + t.failed + t.inflight, `${name}: answered + failed + in flight = requests`).to.equal(t.requests);
  expect(t.ok + t.non2xx, `${name}: 2xx + non2xx = answered`).to.equal(t.answered);
  expect(sum(t.errors), `${name}: errors by type add up`).to.equal(t.failed);
  expect(t.keepAliveRequests + t.freshRequests, `${name}: keep-alive + fresh = requests`).to.equal(t.requests);
  expect(t.freshRequests, `${name}: some requests on connections of their own`).to.be.greaterThan(0);
  expect(sum(t.versions), `${name}: answers by version`).to.equal(t.answered);
  expect(t.rps, `${name}.rps`).to.be.greaterThan(0);
  for (const k of ['p50', 'p99', 'p999', 'max'] as const) expect(t[k], `${name}.${k}`).to.be.a('number').greaterThan(0);
  expect(t.p50).to.be.at.most(t.p99);
  expect(t.p99).to.be.at.most(t.p999);
  expect(t.p999).to.be.at.most(t.max);
}

describe('npm run bench (tiny configuration)', function () {
  this.timeout(40_000);
  let out: string;
  let bench: ChildProcess | undefined;

  beforeEach(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-bench-spec-'));
  });
  afterEach(() => {
    // SIGTERM: the bench kills every process it started before it exits
    if (bench && bench.exitCode === null && bench.signalCode === null) bench.kill('SIGTERM');
    bench = undefined;
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('runs single, bare, baton steady and baton with 1 upgrade and 1 reload, and prints complete, consistent JSON', async () => {
    const args = ['--duration', '1', '--warmup', '0.5', '--pairs', '3', '--connections', '4', '--workers', '1',
      '--upgrades', '1', '--reloads', '1', '--keepalive-share', '0.8', '--json', '--out', out];
    bench = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'bench/run.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    bench.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    bench.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => bench?.on('exit', (c) => resolve(c)));
    expect(code, `exit status\n--- stderr ---\n${stderr.slice(-3000)}`).to.be.oneOf([0, 1]);
    const r = JSON.parse(stdout) as BenchResult;

    // progress lines and the report went to stderr
    expect(stderr).to.match(/\[bench [\d.]+s\] .*requests \d+.*errors \d+/);
    expect(stderr).to.contain('batonUpgrades');

    // the four targets, each consistent
    for (const name of ['single', 'bare', 'batonSteady', 'batonUpgrades'] as const) checkTarget(name, r.targets[name]);
    expect(r.targets.bare.runs).to.equal(3);
    expect(r.targets.batonSteady.runs).to.equal(3);
    expect(Object.keys(r.targets.batonUpgrades.versions)).to.include.members(['v0', 'u1', 'r1']);

    // every request of every run is accounted for, and failedRequests is what did not succeed
    const a = r.accounting;
    expect(a.answered2xx + a.non2xx + a.errors + a.inflight).to.equal(a.requests);
    expect(r.failedRequests).to.be.a('number').and.satisfy(Number.isInteger);
    expect(r.failedRequests).to.equal(a.non2xx + a.errors + a.inflight);
    const measured = Object.values(r.targets).reduce((s, t) => s + t.requests, 0);
    const warm = Object.values(r.warmups).reduce((s, t) => s + t.requests, 0);
    expect(a.requests, 'all runs = targets + warm-ups').to.equal(measured + warm);

    // ratios from 3 alternating pairs
    const b = r.ratios;
    expect(b.pairs).to.have.length(3);
    const sorted = b.pairs.map((p) => p.ratio).sort((x, y) => x - y);
    expect(b.batonOverBare).to.be.closeTo(sorted[1] as number, 1e-3);
    expect(b.min).to.be.at.most(b.batonOverBare);
    expect(b.max).to.be.at.least(b.batonOverBare);
    expect(b.spread).to.be.closeTo(b.max - b.min, 1e-3);
    for (const p of b.pairs) expect(p.ratio).to.be.closeTo(p.batonRps / p.bareRps, 1e-3);

    // boot times
    expect(r.boot.bareIdleMs).to.have.length(3);
    expect(r.boot.bareUnderLoadMs).to.be.a('number').greaterThan(0);
    expect(r.boot.batonColdMs).to.be.greaterThan(0);

    // one upgrade and one reload, each with its timings
    expect(r.events.map((e) => e.kind)).to.have.members(['upgrade', 'reload']);
    for (const e of r.events) {
      expect(e.ok, `${e.kind} ${e.index}: ${e.reason ?? ''}`).to.equal(true);
      const { signalAt, servingAt, oldGoneAt } = e;
      expect(signalAt).to.be.a('number').greaterThan(0);
      expect(servingAt).to.be.a('number').greaterThan(signalAt);
      expect(oldGoneAt).to.be.a('number').at.least(servingAt as number);
      expect(e.toServingMs).to.be.closeTo((servingAt as number) - signalAt, 0.02);
      expect(e.toOldGoneMs).to.be.closeTo((oldGoneAt as number) - signalAt, 0.02);
      expect(e.firstNewResponseAt).to.be.a('number').greaterThan(signalAt);
      expect(e.newGeneration).to.equal(e.oldGeneration + 1);
      if (e.kind === 'upgrade') {
        expect(e.newMaster).to.be.a('number').and.not.equal(e.oldMaster);
        expect(running(e.oldMaster), `old master ${e.oldMaster}`).to.equal(false);
      }
    }
    expect(r.eventSummary.upgrades.count).to.equal(1);
    expect(r.eventSummary.reloads.count).to.equal(1);
    expect(r.goals.length).to.be.greaterThan(3);

    // the soak's samples: the serving master after each upgrade and reload, in the events' order
    const k = r.soak;
    expect(k.samples, 'a sample per upgrade and reload').to.have.length(r.config.upgrades + r.config.reloads);
    k.samples.forEach((s, i) => {
      const e = r.events[i];
      expect([s.kind, s.index], `sample ${i}`).to.deep.equal([e?.kind, e?.index]);
      expect(s.master, `sample ${i}: the master serving after ${s.kind} ${s.index}`).to.equal(e?.newMaster);
      expect(s.cold, `sample ${i}: after an upgrade, not the first master`).to.equal(false);
      expect(s.fds, `sample ${i}.fds`).to.be.a('number').greaterThan(3);
      expect(s.connFds, `sample ${i}.connFds`).to.be.a('number').at.least(0);
      expect(s.totalFds, `sample ${i}.totalFds`).to.be.a('number').at.least(s.fds as number);
      expect(s.fdKinds, `sample ${i}.fdKinds`).to.have.property('tcp LISTEN', 1);
      expect(s.rssKiB, `sample ${i}.rssKiB`).to.be.a('number').greaterThan(1024);
      expect(s.at).to.be.at.least(e?.oldGoneAt as number);
    });
    const fds = k.samples.map((s) => s.fds as number);
    const rss = k.samples.map((s) => s.rssKiB as number);
    expect(k.fds).to.include({ first: fds[0], last: fds[fds.length - 1], min: Math.min(...fds), max: Math.max(...fds) });
    expect(k.connFds).to.deep.equal({ max: Math.max(...k.samples.map((s) => s.connFds as number)), bound: r.config.connections });
    expect(k.rssKiB).to.include({ first: rss[0], last: rss[rss.length - 1], max: Math.max(...rss), bound: Math.round((rss[0] as number) * 1.5) });
    expect(k.rssKiB.slopePerUpgrade, 'no trend from one upgrade').to.equal(null);
    expect(k.leftoverPids).to.deep.equal([...new Set([...k.leftover.beforeStop, ...k.leftover.afterStop])]);

    // the soak's goals are among the goals, asserted, and agree with the samples
    for (const g of r.goals) expect(g.asserted, g.what).to.be.a('boolean');
    const goal = (what: RegExp) => {
      const g = r.goals.find((x) => what.test(x.what));
      expect(g, `a goal matching ${what}`).to.not.equal(undefined);
      expect(g?.asserted, `${what} is asserted`).to.equal(true);
      return g as BenchResult['goals'][number];
    };
    const fdGoal = goal(/fd count/);
    expect(fdGoal.value).to.equal(fds.filter((n) => n !== fds[0]).length);
    expect(fdGoal.met).to.equal(fds.every((n) => n === fds[0]));
    expect(goal(/TCP connections held/).met).to.equal((k.connFds.max as number) <= r.config.connections);
    const rssGoal = goal(/RSS .*max \/ first/);
    expect(rssGoal.met).to.equal(Math.max(...rss) <= Math.round((rss[0] as number) * 1.5));
    expect(goal(/RSS .*trend/)).to.include({ value: null, met: true });
    expect(goal(/processes left running/)).to.include({ value: 0, met: true });
    expect(stderr).to.match(/soak, the serving master after each of the 2 upgrades and reloads/);
    expect(stderr).to.match(/ fds {2}first \d+ {2}last \d+ {2}min \d+ {2}max \d+/);
    expect(stderr).to.match(/leftover processes: 0/);

    // exit status: 1 when an asserted goal was missed (a request failed, an event did not
    // complete, the fd count changed, RSS grew, a process was left behind)
    expect(code).to.equal(r.exitCode);
    expect(r.exitCode).to.equal(r.goals.some((g) => g.asserted && !g.met) ? 1 : 0);
    if (r.failedRequests > 0 || r.events.some((e) => !e.ok)) expect(r.exitCode).to.equal(1);

    // the files: the same JSON, and an SVG chart
    expect(path.dirname(r.files.json)).to.equal(out);
    expect(JSON.parse(fs.readFileSync(r.files.json, 'utf8')).failedRequests).to.equal(r.failedRequests);
    const svg = fs.readFileSync(r.files.svg, 'utf8');
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.trimEnd()).to.match(/<\/svg>$/);
    expect(svg).to.contain('U1').and.contain('R1');

    // nothing left running
    expect(r.leftoverPids).to.deep.equal([]);
    expect(running(r.events[r.events.length - 1]?.newMaster as number)).to.equal(false);
  });
});
