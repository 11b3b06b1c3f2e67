// The bench's own logic without any load: its flags, loads, balance, ratios, goals, schedule,
// the pauses between events, and the shape of bench/ (files under 300 lines, no import circle).
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { balanceOf, workerCounts } from '../../bench/balance';
import { stackCharts } from '../../bench/chart';
import { ANSWERED, FAILED, PENDING, type RunRecords } from '../../bench/common';
import { parseArgs } from '../../bench/flags';
import { cpuGoals, cpuRatio, CPU_BOUND } from '../../bench/cpu';
import { BOUNDS, exitCodeOf, matrixGoals, runGoals, segmentGoals, type Goal } from '../../bench/goals';
import { loadSpec } from '../../bench/loads';
import { cellOf, findCell, ratioRows, ratioSet, type Cell } from '../../bench/matrix';
import { interleave, pauseMs, spread } from '../../bench/schedule';
import { roundOrder } from '../../bench/steady';
import type { BenchEvent } from '../../bench/takeover';
import { duringEvents, recovery } from '../../bench/windows';

const CORES = os.availableParallelism();

/** Records of a run from one row per request: [sendAt ms from start, latency, outcome, pid (0: none)]. */
function records(rows: Array<[number, number, number, number]>, durationMs = 1000, startedAt = 1_000_000): RunRecords {
  const n = rows.length;
  const pids = [...new Set(rows.map((r) => r[3]).filter((p) => p > 0))];
  return {
    type: 'result', id: 'r', startedAt, stoppedAt: startedAt + durationMs, frozenAt: startedAt + durationMs, stopReason: 'duration', n,
    sendAt: Float64Array.from(rows.map((r) => startedAt + r[0])),
    latency: Float32Array.from(rows.map((r) => (r[2] === PENDING ? NaN : r[1]))),
    outcome: Uint8Array.from(rows.map((r) => r[2])),
    status: Uint16Array.from(rows.map((r) => (r[2] === ANSWERED ? 200 : 0))),
    version: Int16Array.from(rows.map((r) => (r[2] === ANSWERED ? 0 : -1))),
    generation: new Uint16Array(n),
    worker: Int16Array.from(rows.map((r) => pids.indexOf(r[3]))),
    error: Int16Array.from(rows.map((r) => (r[2] === FAILED ? 0 : -1))),
    keepAlive: new Uint8Array(n).fill(1),
    socketIdle: new Float32Array(n).fill(NaN),
    versions: ['v0'], workerPids: pids, errorCodes: ['ECONNRESET'], errorSamples: {},
  };
}

/** A run of `rps` answered requests per second for 1 s, spread over the pids as given. */
function runOf(rps: number, pids: number[]): RunRecords {
  return records(Array.from({ length: rps }, (_, i) => [i * (1000 / rps), 1, ANSWERED, pids[i % pids.length] as number]));
}

describe('bench: flags', () => {
  it('defaults: all targets and the three loads, at W = cores and 2 x cores, 3 rounds, 3 upgrades and 3 reloads at W = cores', () => {
    const c = parseArgs([]);
    expect(c.targets).to.deep.equal(['single', 'cluster', 'cluster-none', 'baton', 'baton-uncounted']);
    expect(c.loads).to.deep.equal(['keep-alive', 'mixed', 'fresh']);
    expect(c.workersSet).to.deep.equal([CORES, 2 * CORES]);
    expect(c).to.include({ workers: CORES, pairs: 3, upgrades: 3, reloads: 3, connections: 16, durationS: 3, keepAliveShare: 0.9 });
  });

  it('restricts loads, targets and worker counts, in the order given', () => {
    const c = parseArgs(['--loads', 'fresh,mixed', '--targets=baton,cluster-none', '--workers-set', '3,5', '--rounds', '5']);
    expect(c.loads).to.deep.equal(['fresh', 'mixed']);
    expect(c.targets).to.deep.equal(['baton', 'cluster-none']);
    expect(c.workersSet).to.deep.equal([3, 5]);
    expect(c.workers, 'the upgrade phase runs at W = cores when in the set, else at the first').to.equal([3, 5].includes(CORES) ? CORES : 3);
    expect(c.pairs).to.equal(5);
    expect(parseArgs(['--workers-set', `${2 * CORES},${CORES}`]).workers).to.equal(CORES);
  });

  it('keeps the older flags: --workers W is one worker count, --keepalive-share adds the share load unless --loads names the loads', () => {
    expect(parseArgs(['--workers', '3'])).to.include({ workers: 3 }).and.have.deep.property('workersSet', [3]);
    expect(parseArgs(['--keepalive-share', '0.5']).loads).to.deep.equal(['keep-alive', 'mixed', 'fresh', 'share']);
    expect(parseArgs(['--keepalive-share', '0.5', '--loads', 'fresh']).loads).to.deep.equal(['fresh']);
    expect(parseArgs(['--keepalive-share', '0', '--pairs', '1', '--upgrades', '100'])).to.include({ keepAliveShare: 0, pairs: 1, upgrades: 100 });
  });

  it('refuses bad input with what was wrong', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--loads', 'fresh,slow'], /--loads: unknown "slow"; choose from keep-alive, mixed, fresh, share/],
      [['--loads', 'fresh,fresh'], /--loads: fresh is named twice/],
      [['--loads', ''], /--loads needs a comma-separated list/],
      [['--targets', 'nginx'], /--targets: unknown "nginx"/],
      [['--workers-set', '2,x'], /--workers-set must be an integer from 1 to 64, got "x"/],
      [['--workers-set', '2,2'], /named twice/],
      [['--workers', '2', '--workers-set', '2,4'], /give --workers or --workers-set, not both/],
      [['--connections', '2'], /the mixed load needs --connections of at least 3/],
      [['--keepalive-share', '1.5'], /--keepalive-share must be a number from 0 to 1, got "1.5"/],
      [['--frobnicate'], /unknown argument "--frobnicate"/],
    ];
    for (const [argv, msg] of bad) expect(() => parseArgs(argv), argv.join(' ')).to.throw(msg);
    expect(parseArgs(['--connections', '2', '--loads', 'fresh,keep-alive']).connections).to.equal(2);
  });
});

describe('bench: loads', () => {
  it('mixed is per loop: connections - 2 keep-alive loops and 2 that open a connection per request', () => {
    expect(loadSpec('keep-alive', 16, 0.9)).to.include({ connections: 16, freshLoops: 0, keepAliveShare: 1 });
    expect(loadSpec('mixed', 16, 0.9)).to.include({ connections: 16, freshLoops: 2, keepAliveShare: 1, describe: '14 keep-alive loops + 2 fresh-connection loops' });
    expect(loadSpec('mixed', 5, 0.9)).to.include({ freshLoops: 2 });
    expect(loadSpec('fresh', 16, 0.9)).to.include({ connections: 16, freshLoops: 16 });
    expect(loadSpec('share', 16, 0.9)).to.include({ freshLoops: 0, keepAliveShare: 0.9 });
  });
});

describe('bench: balance', () => {
  it('counts the answered requests of each pid, not the failed or pending ones', () => {
    const r = records([[0, 1, ANSWERED, 11], [1, 1, ANSWERED, 11], [2, 1, ANSWERED, 22], [3, 1, FAILED, 0], [4, 1, PENDING, 0], [5, 1, ANSWERED, 0]]);
    expect([...workerCounts(r)]).to.deep.equal([[11, 2], [22, 1]]);
    expect([...workerCounts(r, (i) => i >= 1)]).to.deep.equal([[11, 1], [22, 1]]);
  });

  it('is the busiest worker over the mean share, counting workers that got nothing', () => {
    expect(balanceOf([8, 8], 2)).to.deep.equal({ ratio: 1, shares: [0.5, 0.5] });
    expect(balanceOf([16], 2), 'one of two workers served everything').to.deep.equal({ ratio: 2, shares: [1, 0] });
    expect(balanceOf([25, 75], 2)).to.deep.equal({ ratio: 1.5, shares: [0.75, 0.25] });
    expect(balanceOf([30, 10], 4)).to.deep.equal({ ratio: 3, shares: [0.75, 0.25, 0, 0] });
    expect(balanceOf([1, 1, 1], 2).ratio, 'more pids than workers (a generation changing): the mean is over those seen').to.equal(1);
    expect(balanceOf([], 2)).to.deep.equal({ ratio: null, shares: [0, 0] });
  });

  it('a cell takes the median balance of its rounds, and keeps the worst', () => {
    const c = cellOf('baton', 2, 2, 'fresh', [runOf(100, [1, 2]), runOf(100, [1, 1, 1, 2]), runOf(100, [1])]);
    expect(c.rounds.map((x) => x.balance)).to.deep.equal([1, 1.5, 2]);
    expect(c).to.include({ balance: 1.5, balanceMax: 2, rps: 100 });
    expect(c.rounds[1]?.shares).to.deep.equal([0.75, 0.25]);
    expect(cellOf('single', 1, 2, 'fresh', [runOf(100, [1])]).balance, 'one process: nothing to balance').to.equal(null);
  });
});

function cell(target: Cell['target'], workers: number, load: Cell['load'], rps: number[], balance: number | null = 1, cpuPerK: number | null = null): Cell {
  const rounds = rps.map((x) => ({ rps: x, p99: 1, balance, shares: [], cpuPerK }));
  return { target, workers, group: workers, load, stats: {} as Cell['stats'], rounds, rps: rps[0] as number, p99: 1, balance, balanceMax: balance, cpuPerK };
}

describe('bench: ratios and goals', () => {
  it('a ratio is the median of the per-round ratios; rounds without a denominator are left out', () => {
    expect(ratioSet([10, 20, 30], [10, 10, 10])).to.deep.equal({ median: 2, rounds: [1, 2, 3], min: 1, max: 3, spread: 2 });
    expect(ratioSet([10, 20], [0, 10])).to.include({ median: 2 });
    expect(ratioSet([10], [0])).to.equal(null);
  });

  it('baton against the better bare cluster is taken round by round', () => {
    const cells = [cell('baton', 2, 'mixed', [100, 100, 100]), cell('cluster', 2, 'mixed', [100, 50, 125]), cell('cluster-none', 2, 'mixed', [50, 125, 100])];
    const [row] = ratioRows(cells, ['mixed'], [2]);
    expect(row?.overBest?.rounds).to.deep.equal([1, 0.8, 0.8]);
    expect(row?.overBest?.median).to.equal(0.8);
    expect(row?.overCluster?.median).to.equal(1);
    expect(row?.overSingle).to.equal(null);
  });

  it('fresh: baton >= 0.95 x SCHED_NONE and >= 1.4 x round robin; the other loads >= 0.97 x the better bare cluster; balance <= 1.25; asserted only with --assert-goals', () => {
    const cells = [
      cell('baton', 2, 'fresh', [95, 95, 95], 1.25), cell('cluster', 2, 'fresh', [70, 70, 70]), cell('cluster-none', 2, 'fresh', [100, 100, 100]),
      cell('baton', 2, 'keep-alive', [96, 96, 96], 1.3), cell('cluster', 2, 'keep-alive', [100, 100, 100]), cell('cluster-none', 2, 'keep-alive', [90, 90, 90]),
    ];
    const reported = matrixGoals(cells, ratioRows(cells, ['fresh', 'keep-alive'], [2]), ['fresh', 'keep-alive'], [2]);
    expect(reported.some((g) => g.asserted), 'without --assert-goals: reported only').to.equal(false);
    expect(exitCodeOf(reported), 'missed throughput goals alone: exit status 0').to.equal(0);
    const goals = matrixGoals(cells, ratioRows(cells, ['fresh', 'keep-alive'], [2]), ['fresh', 'keep-alive'], [2], true);
    const by = (key: string): Goal => goals.find((g) => g.key === key) as Goal;
    expect(by('ratio:fresh:cluster-none:2')).to.include({ value: 0.95, met: true, asserted: true });
    expect(by('ratio:fresh:cluster:2')).to.include({ value: 1.3571, met: false, asserted: true });
    expect(by('balance:fresh:2')).to.include({ value: 1.25, met: true });
    expect(by('ratio:keep-alive:best:2')).to.include({ value: 0.96, met: false });
    expect(by('balance:keep-alive:2')).to.include({ value: 1.3, met: false });
    expect(goals.filter((g) => !g.key?.startsWith('counting:')).every((g) => g.asserted), 'all but the counting cost').to.equal(true);
    expect(exitCodeOf(goals)).to.equal(1);
    expect(BOUNDS).to.include({ freshOverNone: 0.95, freshOverCluster: 1.4, overBest: 0.97, balance: 1.25 });
  });

  it('is n/a (value null, met) when a peer is left out or there is one worker', () => {
    const cells = [cell('baton', 1, 'fresh', [100], null), cell('cluster', 1, 'fresh', [100])];
    const goals = matrixGoals(cells, ratioRows(cells, ['fresh'], [1]), ['fresh'], [1]);
    expect(goals.find((g) => g.key === 'ratio:fresh:cluster-none:1')).to.include({ value: null, met: true });
    expect(goals.find((g) => g.key === 'ratio:fresh:cluster:1')).to.include({ value: 1, met: false });
    expect(goals.find((g) => g.key === 'balance:fresh:1')).to.include({ value: null, met: true });
    expect(findCell(cells, 'baton', 'fresh', 1)?.rps).to.equal(100);
  });

  it('what counting costs: baton / baton with its counting off, round by round; reported only, n/a without it', () => {
    const cells = [cell('baton', 2, 'fresh', [98, 95, 100]), cell('baton-uncounted', 2, 'fresh', [100, 100, 100])];
    const rows = ratioRows(cells, ['fresh'], [2]);
    expect(rows[0]?.overUncounted?.rounds).to.deep.equal([0.98, 0.95, 1]);
    const g = matrixGoals(cells, rows, ['fresh'], [2]).find((x) => x.key === 'counting:fresh:2');
    expect(g).to.include({ value: 0.98, met: true, asserted: false });
    const none = matrixGoals(cells.slice(0, 1), ratioRows(cells.slice(0, 1), ['fresh'], [2]), ['fresh'], [2]).find((x) => x.key === 'counting:fresh:2');
    expect(none).to.include({ value: null, met: true });
  });

  it('CPU per request: a round reads the server CPU over its answered requests; baton over the cheaper bare cluster, reported only', () => {
    const r = runOf(200, [1, 2]);
    r.serverCpuMs = 5;
    const c = cellOf('baton', 2, 2, 'fresh', [r, { ...runOf(100, [1]), serverCpuMs: 3 }, { ...runOf(100, [1]), serverCpuMs: null }]);
    expect(c.rounds.map((x) => x.cpuPerK), '5 ms / 200 answered, 3 ms / 100, unread').to.deep.equal([25, 30, null]);
    expect(c.cpuPerK, 'the median of the rounds read').to.equal(27.5);
    const cells = [cell('baton', 2, 'fresh', [1], 1, 22), cell('cluster', 2, 'fresh', [1], 1, 30), cell('cluster-none', 2, 'fresh', [1], 1, 20)];
    expect(cpuRatio(cells, 'fresh', 2)).to.equal(1.1);
    const [g] = cpuGoals(cells, ['fresh'], [2]);
    expect(g).to.include({ value: 1.1, met: 1.1 <= CPU_BOUND, asserted: false, key: 'cpu:fresh:2' });
    expect(cpuRatio([cell('baton', 2, 'fresh', [1], 1, 22)], 'fresh', 2), 'no peer: n/a').to.equal(null);
  });

  it('the upgrade phase: 0 failed under each load is asserted; p99 and throughput between events are reported', () => {
    const goals = segmentGoals([
      { load: 'fresh', upgrades: 1, reloads: 1, failed: 2, p99Ratio: 2.5, recovery: { min: 0.95, median: 1, windows: 2 } },
      { load: 'mixed', upgrades: 0, reloads: 0, failed: 0, p99Ratio: null, recovery: { min: null, median: null, windows: 0 } },
    ]);
    expect(goals.find((g) => g.key === 'failed:fresh')).to.include({ value: 2, met: false, asserted: true });
    expect(goals.find((g) => g.key === 'p99:fresh')).to.include({ value: 2.5, met: false, asserted: false });
    expect(goals.find((g) => g.key === 'recovery:fresh')).to.include({ value: 0.95, met: true, asserted: false });
    expect(goals.find((g) => g.key === 'failed:mixed')).to.include({ value: null, met: true });
    expect(exitCodeOf(goals)).to.equal(1);
    expect(exitCodeOf(goals.filter((g) => !g.asserted))).to.equal(0);
  });

  it('the run: failed requests and completed events asserted, boot ratios reported', () => {
    const up = { count: 2, ok: 2, toServingMedianMs: 600, toServingMaxMs: 700, toOldGoneMedianMs: 650, toOldGoneMaxMs: 750 };
    const goals = runGoals({ failedRequests: 0, eventsOk: 3, events: 4, upgrades: up, bareUnderLoadMs: 500, bareIdleMedianMs: 300 });
    expect(goals.map((g) => [g.value, g.met, g.asserted])).to.deep.equal([[0, true, true], [1.2, true, false], [2, false, false], [3, false, true]]);
  });
});

describe('bench: schedule and pauses', () => {
  it('spreads the upgrades and reloads over the loads, the first loads one more', () => {
    expect(spread(3, 3)).to.deep.equal([1, 1, 1]);
    expect(spread(100, 3)).to.deep.equal([34, 33, 33]);
    expect(spread(1, 3)).to.deep.equal([1, 0, 0]);
    expect(interleave(3, 2)).to.deep.equal(['upgrade', 'upgrade', 'reload', 'upgrade', 'reload']);
    expect(interleave(1, 1)).to.deep.equal(['upgrade', 'reload']);
    expect(interleave(0, 0)).to.deep.equal([]);
    expect([pauseMs(3, 2), pauseMs(0.5, 2), pauseMs(100, 2)]).to.deep.equal([1000, 250, 1000]);
  });

  it('rotates the targets from one round to the next', () => {
    expect([0, 1, 2, 3].map((k) => roundOrder(['a', 'b', 'c'], k).join(''))).to.deep.equal(['abc', 'bca', 'cab', 'abc']);
  });

  function event(kind: 'upgrade' | 'reload', signalAt: number, oldGoneAt: number | null): BenchEvent {
    return {
      kind, index: 1, load: 'fresh', signalAt, servingAt: signalAt + 10, oldGoneAt, toServingMs: null, toOldGoneMs: null, firstNewResponseAt: null,
      lastOldResponseAt: null, fromVersion: 'v0', toVersion: 'u1', oldMaster: 1, newMaster: 2, oldGeneration: 1, newGeneration: 2, afterRps: null, afterRatio: null, ok: true,
    };
  }

  it('throughput between events: responses completed from the old generation gone to the next signal (or the end), over steady', () => {
    // 1 response per ms from 0 to 1000 ms, but none completing between 400 and 600
    const rows: Array<[number, number, number, number]> = [];
    for (let t = 0; t < 1000; t++) if (t < 400 || t >= 600) rows.push([t, 0.5, ANSWERED, 1]);
    const r = records(rows);
    const evs = [event('upgrade', 100, 300), event('reload', 700, 750), event('upgrade', 980, 995)];
    const rec = recovery({ r, events: evs }, 1000);
    // 300..700: 200 of 400 ms answered; 750..980: all; the last pause (995..1000) is too short to count
    expect(evs.map((e) => e.afterRps)).to.deep.equal([500, 1000, null]);
    expect(rec).to.deep.equal({ min: 0.5, median: 0.75, windows: 2 });
    expect(recovery({ r, events: [event('upgrade', 100, null)] }, 1000).windows, 'an event that did not finish').to.equal(0);
  });

  it('during events: the requests sent between a signal and the old generation gone, per kind', () => {
    const r = records(Array.from({ length: 1000 }, (_, t) => [t, 1, ANSWERED, 1] as [number, number, number, number]));
    const evs = [event('upgrade', 100, 199.5), event('reload', 500, 549.5), event('upgrade', 900, null)];
    expect(duringEvents([{ r, events: evs }], 'upgrade').requests).to.equal(100 + 100);
    expect(duringEvents([{ r, events: evs }], 'reload').requests).to.equal(50);
  });
});

describe('bench: its files', () => {
  const dir = path.join(__dirname, '..', '..', 'bench');
  const files = fs.readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f));

  it('no file of bench/ is over 300 lines', () => {
    for (const f of files) expect(fs.readFileSync(path.join(dir, f), 'utf8').split('\n').length - 1, f).to.be.at.most(300);
  });

  it('bench/ has no import circle (type imports included)', () => {
    const deps = new Map(files.map((f) => [f.replace(/\.(ts|js)$/, ''), [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/from '\.\/([\w-]+)'/g)].map((m) => m[1] as string)]));
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, trail: string[]): void => {
      if (state.get(f) === 'done') return;
      expect(state.get(f), `import circle: ${[...trail, f].join(' -> ')}`).to.not.equal('open');
      state.set(f, 'open');
      for (const d of deps.get(f) ?? []) visit(d, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of deps.keys()) visit(f, []);
    expect(deps.get('table')).to.not.include('run');
  });

  it('stacks the charts of the segments in one SVG document', () => {
    const one = '<svg xmlns="http://www.w3.org/2000/svg" width="1100" height="300" viewBox="0 0 1100 300">\n<text>a</text>\n</svg>\n';
    const both = stackCharts([one, one.replace('>a<', '>b<')]);
    expect(both).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="1100" height="600"/);
    expect(both).to.contain('<svg x="0" y="0" xmlns').and.contain('<svg x="0" y="300" xmlns');
    expect(stackCharts([one])).to.equal(one);
  });
});
