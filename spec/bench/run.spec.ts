// `npm run bench` in tiny configurations: the JSON it prints is complete and adds up, and its exit
// status speaks of correctness only (a smoke run: nothing here judges speed). Needs dist/ (npm run
// build). The first run uses the bench's own Node client for everything (--client node, what a
// machine without wrk gets); the second the price-per-core matrix with wrk where it is installed
// (where it is not, it checks that the bench says so and falls back). The bench's logic without
// load: spec/bench/units.spec.ts and spec/bench/price.spec.ts.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { which } from '../../bench/affinity';
import { running } from '../../bench/common';
import { median } from '../../bench/stats';
import type { BenchResult } from '../../bench/result';
import type { TargetStats } from '../../bench/stats';

const ROOT = path.resolve(__dirname, '../..');

function sum(o: Record<string, number>): number {
  return Object.values(o).reduce((a, b) => a + b, 0);
}

function checkTarget(name: string, t: TargetStats, fresh: boolean): void {
  expect(t.requests, `${name}.requests`).to.be.a('number').greaterThan(0);
  expect(t.answered + t.failed + t.inflight, `${name}: answered + failed + in flight = requests`).to.equal(t.requests);
  expect(t.ok + t.non2xx, `${name}: 2xx + non2xx = answered`).to.equal(t.answered);
  expect(sum(t.errors), `${name}: errors by type add up`).to.equal(t.failed);
  expect(t.keepAliveRequests + t.freshRequests, `${name}: keep-alive + fresh = requests`).to.equal(t.requests);
  if (fresh) expect(t.freshRequests, `${name}: some requests on connections of their own`).to.be.greaterThan(0);
  expect(sum(t.versions), `${name}: answers by version`).to.equal(t.answered);
  expect(t.rps, `${name}.rps`).to.be.greaterThan(0);
  for (const k of ['p50', 'p99', 'p999', 'max'] as const) expect(t[k], `${name}.${k}`).to.be.a('number').greaterThan(0);
  expect(t.p50).to.be.at.most(t.p99);
  expect(t.p99).to.be.at.most(t.p999);
  expect(t.p999).to.be.at.most(t.max);
}

describe('npm run bench (tiny configuration)', function () {
  this.timeout(120_000);
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

  async function runBench(args: string[]): Promise<{ code: number | null; r: BenchResult; stderr: string }> {
    bench = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'bench/run.ts'), ...args, '--json', '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    bench.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    bench.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => bench?.on('exit', (c) => resolve(c)));
    // correctness only: no failed request, no leak, no process left, every event completed
    expect(code, `exit status\n--- stderr ---\n${stderr.slice(-3000)}`).to.equal(0);
    return { code, r: JSON.parse(stdout) as BenchResult, stderr };
  }

  it('the Node client: runs the matrix (4 targets x 3 loads, 2 rounds) and baton with an upgrade and a reload under each load, and prints complete, consistent JSON', async function () {
    // the bench is a development tool: CI runs it on its first Node line only (.ci/run)
    if (process.env.BATON_CI_SECONDARY === '1') this.skip();
    const { code, r, stderr } = await runBench(['--client', 'node', '--targets', 'single,cluster,cluster-none,baton', '--duration', '0.4', '--warmup', '0', '--pairs', '2',
      '--connections', '4', '--workers-set', '2', '--loads', 'mixed,fresh,share', '--keepalive-share', '0.8', '--upgrades', '3', '--reloads', '3']);
    expect(r.client).to.equal('node');
    expect(r.price).to.equal(null);
    expect(stderr).to.contain('--client node: no price-per-core matrix');

    // progress lines and the report went to stderr
    expect(stderr).to.match(/\[bench [\d.]+s\] .*requests \d+.*errors \d+/);
    expect(stderr).to.contain('steady matrix').and.contain('upgrade phase, baton x2').and.contain('per-worker shares');
    expect(stderr).to.match(/baton +2 +\d+ +[\d.]+ [✓✗] +[\d.]+ [✓✗]/);

    // the matrix: a cell per target and load, each consistent, with its 2 rounds
    const loads = ['mixed', 'fresh', 'share'] as const;
    expect(r.steady.loads.map((l) => [l.name, l.freshLoops])).to.deep.equal([['mixed', 2], ['fresh', 4], ['share', 0]]);
    expect(r.steady.cells).to.have.length(4 * 3);
    for (const c of r.steady.cells) {
      const name = `${c.target} x${c.workers} ${c.load}`;
      checkTarget(name, c.stats, true);
      expect(c.rounds, name).to.have.length(2);
      expect(c.stats.runs, name).to.equal(2);
      expect(c.rps, `${name}: median of the rounds`).to.be.closeTo(median(c.rounds.map((x) => x.rps)), 0.1);
      if (c.load === 'fresh') expect(c.stats.keepAliveRequests, `${name}: no keep-alive request`).to.equal(0);
      if (c.load === 'mixed') expect(c.stats.keepAliveRequests, `${name}: keep-alive requests`).to.be.greaterThan(0);
      if (c.load === 'share') expect(c.stats.freshRequests / c.stats.requests, `${name}: share`).to.be.closeTo(0.2, 0.01);
      if (c.target === 'single') {
        expect(c.workers).to.equal(1);
        expect(c.balance).to.equal(null);
        continue;
      }
      expect(c.workers, name).to.equal(2);
      for (const x of c.rounds) {
        expect(x.shares, `${name}: a share per worker`).to.have.length(2);
        expect(x.shares.reduce((a, b) => a + b, 0), `${name}: shares add up`).to.be.closeTo(1, 0.002);
        expect(x.balance, `${name}: busiest / mean`).to.be.closeTo((x.shares[0] as number) * 2, 0.002);
      }
    }
    for (const load of loads) {
      const rps = (t: string) => (r.steady.cells.find((c) => c.target === t && c.load === load)?.rounds ?? []).map((x) => x.rps);
      const row = r.steady.ratios.find((x) => x.load === load && x.workers === 2);
      const best = rps('baton').map((b, k) => b / Math.max(rps('cluster')[k] as number, rps('cluster-none')[k] as number));
      expect(row?.overBest?.median, `${load}: baton / the better bare cluster`).to.be.closeTo(median(best), 1e-3);
      expect(row?.overNone?.median).to.be.closeTo(median(rps('baton').map((b, k) => b / (rps('cluster-none')[k] as number))), 1e-3);
      expect(row?.overSingle?.median).to.be.a('number');
    }

    // the goals of the matrix: keyed, agreeing with the figures, and not asserted (no --assert-goals); the
    // Node client's ratios never judged (it shares the servers' CPUs, without calibration)
    const goal = (key: string) => {
      const g = r.goals.find((x) => x.key === key);
      expect(g, `a goal ${key}`).to.not.equal(undefined);
      return g as BenchResult['goals'][number];
    };
    const fresh = r.steady.ratios.find((x) => x.load === 'fresh');
    expect(goal('ratio:fresh:cluster-none:2')).to.include({ asserted: false, value: fresh?.overNone?.median, met: (fresh?.overNone?.median as number) >= 0.95 });
    expect(goal('ratio:fresh:cluster:2')).to.include({ asserted: false, value: fresh?.overCluster?.median, met: (fresh?.overCluster?.median as number) >= 1.4 });
    expect(goal('ratio:fresh:cluster:2').unjudged).to.match(/shares the CPUs/);
    for (const load of ['mixed', 'share']) expect(goal(`ratio:${load}:best:2`).asserted).to.equal(false);
    for (const load of loads) {
      const b = r.steady.cells.find((c) => c.target === 'baton' && c.load === load)?.balance as number;
      expect(goal(`balance:${load}:2`)).to.include({ asserted: false, value: b, met: b <= 1.25 });
    }

    // every request of every run is accounted for, and failedRequests is what did not succeed
    const a = r.accounting;
    expect(a.answered2xx + a.non2xx + a.errors + a.inflight).to.equal(a.requests);
    expect(r.failedRequests).to.equal(a.non2xx + a.errors + a.inflight);
    const measured = r.steady.cells.reduce((s, c) => s + c.stats.requests, 0) + r.upgradePhase.segments.reduce((s, x) => s + x.stats.requests, 0);
    const warm = Object.values(r.warmups).reduce((s, t) => s + t.requests, 0);
    expect(a.requests, 'all runs = the matrix + the upgrade phase + warm-ups').to.equal(measured + warm);

    // boot times
    expect(r.boot.bareIdleMs).to.have.length(3);
    expect(r.boot.bareUnderLoadMs).to.be.a('number').greaterThan(0);
    expect(r.boot.batonColdMs).to.be.a('number').greaterThan(0);

    // the upgrade phase: a segment per load, each with one upgrade and one reload, new code each time
    expect(r.upgradePhase.segments.map((s) => [s.load, s.upgrades, s.reloads])).to.deep.equal(loads.map((l) => [l, 1, 1]));
    expect(r.events.map((e) => `${e.kind} ${e.index} ${e.load}`)).to.deep.equal(['upgrade 1 mixed', 'reload 1 mixed', 'upgrade 2 fresh', 'reload 2 fresh', 'upgrade 3 share', 'reload 3 share']);
    for (const s of r.upgradePhase.segments) {
      checkTarget(`upgrades under ${s.load}`, s.stats, true);
      const i = loads.indexOf(s.load as typeof loads[number]) + 1;
      expect(Object.keys(s.stats.versions), s.load).to.include.members([`u${i}`, `r${i}`]);
      expect(s.failed).to.equal(s.stats.failed + s.stats.non2xx + s.stats.inflight);
      expect(goal(`failed:${s.load}`)).to.include({ asserted: true, value: s.failed, met: s.failed === 0 });
      expect(goal(`p99:${s.load}`)).to.include({ asserted: false, value: s.p99Ratio });
      expect(goal(`recovery:${s.load}`)).to.include({ asserted: false, value: s.recovery.min });
      expect(s.steadyRps).to.equal(r.steady.cells.find((c) => c.target === 'baton' && c.load === s.load)?.rps);
    }
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
    expect(r.eventSummary.upgrades.count).to.equal(3);
    expect(r.eventSummary.reloads.count).to.equal(3);

    // the soak's samples: the serving master after each upgrade and reload, in the events' order
    const k = r.soak;
    expect(k.samples, 'a sample per upgrade and reload').to.have.length(6);
    k.samples.forEach((s, i) => {
      const e = r.events[i];
      expect([s.kind, s.index], `sample ${i}`).to.deep.equal([e?.kind, e?.index]);
      expect(s.master, `sample ${i}: the master serving after ${s.kind} ${s.index}`).to.equal(e?.newMaster);
      expect(s.cold, `sample ${i}: after an upgrade, not the first master`).to.equal(false);
      expect(s.fds, `sample ${i}.fds`).to.be.a('number').greaterThan(3);
      expect(s.totalFds, `sample ${i}.totalFds`).to.be.a('number').at.least(s.fds as number);
      expect(s.fdKinds, `sample ${i}.fdKinds`).to.have.property('tcp LISTEN', 1);
      expect(s.rssKiB, `sample ${i}.rssKiB`).to.be.a('number').greaterThan(1024);
      expect(s.at).to.be.at.least(e?.oldGoneAt as number);
    });
    const fds = k.samples.map((s) => s.fds as number);
    expect(k.fds).to.include({ first: fds[0], last: fds[fds.length - 1], min: Math.min(...fds), max: Math.max(...fds) });
    const soakGoal = (what: RegExp) => r.goals.find((x) => what.test(x.what)) as BenchResult['goals'][number];
    expect(soakGoal(/fd count/)).to.include({ asserted: true, value: fds.filter((n) => n !== fds[0]).length });
    expect(soakGoal(/processes left running/)).to.include({ value: 0, met: true, asserted: true });
    expect(stderr).to.match(/soak, the serving master after each of the 6 upgrades and reloads/);
    expect(stderr).to.match(/leftover processes: 0/);

    // exit status: 1 when an asserted goal was missed; only correctness goals are asserted here
    expect(code).to.equal(r.exitCode);
    expect(r.exitCode).to.equal(r.goals.some((g) => g.asserted && !g.met) ? 1 : 0);
    expect(r.goals.filter((g) => g.asserted).map((g) => g.what).join('\n')).to.not.match(/baton \/|busiest|throughput|p99|per core/);

    // the files: the same JSON, and an SVG with a chart per load
    expect(path.dirname(r.files.json)).to.equal(out);
    expect(JSON.parse(fs.readFileSync(r.files.json, 'utf8')).failedRequests).to.equal(r.failedRequests);
    const svg = fs.readFileSync(r.files.svg, 'utf8');
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.trimEnd()).to.match(/<\/svg>$/);
    expect(svg.match(/<svg x="0" y="\d+" xmlns/g)).to.have.length(3);
    for (const m of ['U1', 'R1', 'U3', 'R3', 'the fresh load']) expect(svg).to.contain(m);

    // nothing left running
    expect(r.leftoverPids).to.deep.equal([]);
    expect(running(r.events[r.events.length - 1]?.newMaster as number)).to.equal(false);
  });

  it('wrk: the price per core (both modes, the A/A calibration beside every ratio), then baton alone through an upgrade and a reload; without wrk, says so and falls back', async function () {
    if (process.env.BATON_CI_SECONDARY === '1') this.skip();
    const { r, stderr } = await runBench(['--targets', 'cluster-none,baton', '--price-duration', '1', '--price-rounds', '2', '--warmup', '0', '--duration', '0.4', '--pairs', '1',
      '--connections', '4', '--workers-set', '2', '--loads', 'keep-alive,fresh', '--upgrades', '1', '--reloads', '1']);
    expect(r.leftoverPids).to.deep.equal([]);
    expect(r.events.map((e) => [e.kind, e.ok])).to.deep.equal([['upgrade', true], ['reload', true]]);
    expect(r.failedRequests).to.equal(0);
    if (which('wrk') === null) {
      expect(r.client).to.equal('node');
      expect(r.price).to.equal(null);
      expect(stderr).to.contain('wrk is not installed (apt-get install wrk): no price-per-core matrix');
      return;
    }
    expect(r.client).to.equal('wrk');
    const p = r.price;
    expect(p).to.not.equal(null);
    if (p === null) return;
    expect(p.failed, 'wrk saw no failed request').to.equal(0);
    expect(p.cells.map((c) => `${c.load} ${c.mode}`)).to.deep.equal(['keep-alive interleaved', 'keep-alive paired', 'fresh interleaved', 'fresh paired']);
    let measured = 0;
    for (const c of p.cells) {
      const name = `${c.load} ${c.mode}`;
      expect(c.runs, name).to.have.length(2);
      expect(c.ratios.map((x) => x.what), name).to.include.members(['cluster-none/cluster-none-2', 'baton/best', 'baton/cluster-none']);
      for (const round of c.runs) {
        expect(Object.keys(round), `${name}: a wrk run per instance (interleaved) or per side of each pair (paired)`).to.have.length(c.mode === 'interleaved' ? 3 : 4);
        for (const w of Object.values(round)) {
          expect(w.rps, name).to.be.greaterThan(0);
          expect(w.requests, name).to.be.greaterThan(0);
          // null when a late sample on a busy machine came after wrk's threads ended (bench/wrk.ts schedDelta)
          if (c.load === 'keep-alive' && w.cpu !== null) expect(w.cpu, `${name}: wrk's own CPU use, read from /proc`).to.be.greaterThan(0);
          if (c.load === 'keep-alive' && w.cpu !== null) measured++;
        }
      }
      for (const x of c.ratios) expect(x.rounds, `${name} ${x.what}`).to.have.length(2);
      // every ratio goal of the cell says whether it was judged, and none is asserted without --assert-goals
      const gs = r.goals.filter((g) => g.key?.startsWith(`price:${c.mode}:${c.load}:2:`));
      expect(gs.map((g) => g.key?.split(':')[4]), name).to.deep.equal(['baton/best']);
      for (const g of gs) expect(g.asserted, name).to.equal(false);
    }
    expect(measured, "wrk's own CPU use read in at least one keep-alive run").to.be.greaterThan(0);
    expect(stderr).to.match(/price per core \(wrk .*load generator on CPU/);
    expect(stderr).to.match(/A\/A/);
    // the Node client ran baton alone: every request of it accounted for
    expect(r.steady.targets).to.deep.equal(['baton']);
    expect(r.steady.cells.map((c) => c.load)).to.deep.equal(['keep-alive', 'fresh']);
  });
});
