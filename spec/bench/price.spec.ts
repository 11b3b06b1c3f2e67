// The price-per-core matrix's logic without load: the CPU split, wrk's output, the ratios with
// flagged rounds, the calibration that decides whether a goal is judged, and the exit status
// that only correctness decides unless --assert-goals. The run itself: spec/bench/run.spec.ts.
import { expect } from 'chai';
import { parseCpuList, pinnedCommand, splitCpus } from '../../bench/affinity';
import { parseArgs } from '../../bench/flags';
import { exitCodeOf } from '../../bench/goals';
import { interleavedRatios, pairedRatios, ratioOf, TWIN, type PriceCell } from '../../bench/price';
import { CALIBRATION, calibrationError, priceGoals, unjudged } from '../../bench/price-goals';
import { parseWrk, SATURATED, schedDelta, wholeSeconds, wrkArgs, wrkFailed, type WrkRun } from '../../bench/wrk';

const WRK_OUT = `Running 2s test @ http://127.0.0.1:41234/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   512.00us  100.00us   5.00ms   90.00%
    Req/Sec    15.00k     1.00k   17.00k    70.00%
  Latency Distribution
     50%  490.00us
     75%  550.00us
     90%  610.00us
     99%    1.25ms
  30001 requests in 2.00s, 3.00MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:  15000.50
Transfer/sec:      1.50MB
`;

function run(rps: number, saturated = false): WrkRun {
  return { rps, requests: rps * 2, seconds: 2, p99Ms: 1, non2xx: 0, errors: { connect: 0, read: 0, write: 0, timeout: 0 }, cpu: 0.5, runnable: saturated ? 0.95 : 0.5, saturated };
}

const TWO = splitCpus([0, 1], '/usr/bin/taskset');

describe('bench: CPUs of the load generator and of the servers', () => {
  it('parses the kernel CPU lists', () => {
    expect(parseCpuList('0-1')).to.deep.equal([0, 1]);
    expect(parseCpuList('0,2-4,7\n')).to.deep.equal([0, 2, 3, 4, 7]);
    expect(() => parseCpuList('a-b')).to.throw(/not a CPU list/);
  });

  it('2 CPUs: wrk on CPU 0, the servers on CPU 1; 4: two each; 3: the servers get 1', () => {
    expect(TWO).to.include({ disjoint: true });
    expect([TWO.loadgen, TWO.servers]).to.deep.equal([[0], [1]]);
    const four = splitCpus([0, 1, 2, 3], '/usr/bin/taskset');
    expect([four.loadgen, four.servers]).to.deep.equal([[0, 1], [2, 3]]);
    const three = splitCpus([0, 1, 2], '/usr/bin/taskset');
    expect([three.loadgen, three.servers]).to.deep.equal([[0, 1], [2]]);
    expect(pinnedCommand(TWO, TWO.servers, ['node', 'app.js'])).to.deep.equal({ cmd: '/usr/bin/taskset', args: ['-c', '1', 'node', 'app.js'] });
  });

  it('1 CPU or no taskset: nothing pinned, nothing judged, and the report says why', () => {
    const one = splitCpus([0], '/usr/bin/taskset');
    expect(one).to.include({ disjoint: false });
    expect(one.describe).to.match(/cannot have CPUs of their own.*never judged/);
    expect(pinnedCommand(one, one.servers, ['node', 'app.js'])).to.deep.equal({ cmd: 'node', args: ['app.js'] });
    expect(splitCpus([0, 1], null).describe).to.match(/taskset .* not installed/);
    const runs = [{ baton: run(90), 'cluster-none': run(100), [TWIN]: run(100) }, { baton: run(95), 'cluster-none': run(100), [TWIN]: run(99) }];
    const cell: PriceCell = { load: 'fresh', workers: 2, mode: 'interleaved', runs, ratios: interleavedRatios(runs), loadgenCpu: 1, loadgenRunnable: 0.5, saturatedRounds: 0, failed: 0 };
    expect(cell.ratios.find((r) => r.what === 'baton/best')?.median, 'the ratios are computed').to.equal(0.925);
    const goals = priceGoals([cell], true, false);
    expect(goals.map((g) => [g.asserted, g.unjudged])).to.deep.equal([[false, 'the load generator shared the servers\' CPUs (one CPU, or no taskset)']]);
    expect(priceGoals([cell], true, true)[0]?.unjudged, 'the same figures on disjoint CPUs: judged').to.equal(undefined);
  });
});

describe('bench: wrk', () => {
  it('parses its report: req/s, requests, p99, non-2xx and socket errors', () => {
    expect(parseWrk(WRK_OUT)).to.deep.equal({ rps: 15000.5, requests: 30001, seconds: 2, p99Ms: 1.25, non2xx: 4, errors: { connect: 0, read: 3, write: 1, timeout: 2 } });
    const clean = parseWrk(WRK_OUT.replace(/^ {2}(Socket|Non-2xx).*\n/gm, '').replace('1.25ms', '900.00us'));
    expect(clean).to.include({ non2xx: 0, p99Ms: 0.9 });
    expect(wrkFailed({ ...run(1), non2xx: 4, errors: { connect: 0, read: 3, write: 1, timeout: 2 } })).to.equal(10);
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).to.throw(/no Requests\/sec line/);
  });

  it('asks for whole seconds, one connection per request with Connection: close', () => {
    expect(wholeSeconds(0.4)).to.equal(1);
    expect(wholeSeconds(2.4)).to.equal(2);
    expect(wrkArgs('keep-alive', 16, 1, 2, 80)).to.deep.equal(['-t', '1', '-c', '16', '-d', '2s', '--latency', '--timeout', '5s', 'http://127.0.0.1:80/']);
    expect(wrkArgs('fresh', 4, 8, 1, 80)).to.include.members(['-H', 'Connection: close']).and.include('4');
    expect(SATURATED).to.equal(0.9);
  });

  it("reads its CPU time per thread, and none when a thread ended between the samples (not a sum near 0)", () => {
    const at = (...xs: [string, number, number][]) => new Map(xs.map(([t, run, wait]) => [t, { run, wait }]));
    expect(schedDelta(at(['1', 10, 1], ['2', 100, 5]), at(['1', 12, 1], ['2', 900, 25], ['3', 7, 7]))).to.deep.equal({ run: 802, wait: 20 });
    // wrk's worker thread finished before the late second sample: only the idle main thread is left
    expect(schedDelta(at(['1', 10, 1], ['2', 100, 5]), at(['1', 12, 1]))).to.equal(null);
    expect(schedDelta(null, at(['1', 1, 1]))).to.equal(null);
  });
});

describe('bench: price-per-core ratios', () => {
  it('interleaved: per round, a saturated run flags its round out of every ratio it is in', () => {
    const runs = [
      { baton: run(80), cluster: run(90), 'cluster-none': run(100), [TWIN]: run(100) },
      { baton: run(90), cluster: run(100), 'cluster-none': run(95), [TWIN]: run(95, true) },
      { baton: run(85, true), cluster: run(100), 'cluster-none': run(100), [TWIN]: run(98) },
    ];
    const by = (w: string) => interleavedRatios(runs).find((r) => r.what === w);
    expect(by(`cluster-none/${TWIN}`)).to.include({ flagged: 1, median: 1.0102 });
    expect(by(`cluster-none/${TWIN}`)?.rounds).to.deep.equal([1, null, 1.0204]);
    expect(by('baton/best')?.rounds, 'baton / the better of the two, round by round').to.deep.equal([0.8, 0.9, null]);
    expect(by('baton/cluster')).to.include({ median: 0.8945, flagged: 1 });
    expect(by('baton/single'), 'no single: no ratio').to.equal(undefined);
  });

  it('paired: each pair by its own rounds; baton/best is the lower of /none and /rr', () => {
    const runs = [0, 1].map((k) => ({
      [`cluster-none|${TWIN}:cluster-none`]: run(50), [`cluster-none|${TWIN}:${TWIN}`]: run(k ? 49 : 51),
      'baton|cluster-none:baton': run(40), 'baton|cluster-none:cluster-none': run(50),
      'baton|cluster:baton': run(45), 'baton|cluster:cluster': run(50),
    }));
    const rs = pairedRatios(runs);
    expect(rs.map((r) => r.what)).to.deep.equal([`cluster-none/${TWIN}`, 'baton/best', 'baton/cluster-none', 'baton/cluster']);
    expect(rs[0]?.median).to.be.closeTo(1, 0.001);
    expect(rs[1]).to.include({ median: 0.8 });
    expect(ratioOf('x', [null, null])).to.include({ median: null, flagged: 2 });
  });
});

describe('bench: price-per-core goals and the exit status', () => {
  function cellWith(aa: (number | null)[], best: (number | null)[], uncounted: (number | null)[] = best): PriceCell {
    return {
      load: 'keep-alive', workers: 2, mode: 'interleaved', runs: aa.map(() => ({})), loadgenCpu: 0.5, loadgenRunnable: 0.5, saturatedRounds: 0, failed: 0,
      ratios: [ratioOf(`cluster-none/${TWIN}`, aa), ratioOf('baton/best', best), ratioOf('baton/baton-uncounted', uncounted)],
    };
  }

  it('judged only when the A/A calibration is within 2 % and half the rounds are usable', () => {
    expect(CALIBRATION).to.equal(0.02);
    const good = cellWith([1.01, 0.99, 1, 1.02], [0.9, 0.92, 0.91, 0.9]);
    expect(calibrationError(good.ratios[0]), 'median 1.005; range 0.03 / 2 / sqrt(4)').to.equal(0.0075);
    expect(unjudged(good, good.ratios[1])).to.equal(null);
    expect(unjudged(cellWith([1.05, 1.04, 1.06, 1.05], [0.9, 0.9, 0.9, 0.9]), undefined)).to.match(/calibration 1\.050 ± 0\.050 .*off by more than 2 %/);
    const lucky = cellWith([1.236, 0.572, 1.19, 0.807], [0.9, 0.9, 0.9, 0.9]);
    expect(lucky.ratios[0]?.median, 'a median near 1 by luck').to.be.closeTo(1, 0.002);
    expect(calibrationError(lucky.ratios[0])).to.equal(0.166);
    expect(unjudged(lucky, lucky.ratios[1])).to.match(/rounds 0\.572 to 1\.236\): off by more than 2 %/);
    expect(unjudged(cellWith([1, null, null, null], [0.9, 0.9, 0.9, 0.9]), undefined)).to.match(/only 1 of 4 rounds usable/);
    const fewBaton = cellWith([1, 1, 1, 1], [0.9, null, null, null]);
    expect(unjudged(fewBaton, fewBaton.ratios[1])).to.match(/only 1 of 4 rounds usable/);
  });

  it('a missed judged goal counts in the exit status only with --assert-goals; an unjudged one never', () => {
    const cells = [cellWith([1, 1, 1, 1], [0.9, 0.9, 0.9, 0.9], [0.99, 0.99, 0.99, 0.99])];
    const reported = priceGoals(cells, false);
    expect(reported.map((g) => [g.key, g.value, g.met, g.asserted])).to.deep.equal([
      ['price:interleaved:keep-alive:2:baton/best', 0.9, false, false],
      ['price:interleaved:keep-alive:2:baton/baton-uncounted', 0.99, true, false],
    ]);
    expect(exitCodeOf(reported)).to.equal(0);
    expect(exitCodeOf(priceGoals(cells, true))).to.equal(1);
    const noisy = priceGoals([cellWith([1.1, 1.1, 1.1, 1.1], [0.9, 0.9, 0.9, 0.9])], true);
    expect(noisy[0]).to.include({ asserted: false, met: false });
    expect(noisy[0]?.unjudged).to.match(/calibration 1\.100 ± 0\.100/);
    expect(exitCodeOf(noisy)).to.equal(0);
  });

  it('flags: --assert-goals, --client, --modes, --price-duration, --price-rounds', () => {
    expect(parseArgs([])).to.include({ assertGoals: false, client: 'auto', priceDurationS: 2, priceRounds: 4 });
    expect(parseArgs([]).modes).to.deep.equal(['interleaved', 'paired']);
    const c = parseArgs(['--assert-goals', '--client', 'node', '--modes', 'paired', '--price-duration', '3', '--price-rounds', '6']);
    expect(c).to.include({ assertGoals: true, client: 'node', priceDurationS: 3, priceRounds: 6 });
    expect(c.modes).to.deep.equal(['paired']);
    expect(() => parseArgs(['--client', 'ab'])).to.throw(/--client must be wrk, node or auto, got "ab"/);
    expect(() => parseArgs(['--price-duration', '0.5'])).to.throw(/--price-duration must be an integer from 1 to 600/);
    expect(() => parseArgs(['--modes', 'both'])).to.throw(/unknown "both"/);
  });
});
