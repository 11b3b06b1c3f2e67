// The report's price-per-core table: per worker count, load and mode, the A/A calibration beside
// baton's ratios, the rounds flagged, and wrk's own CPU use (bench/price.ts, bench/wrk.ts).
import type { Goal } from './goals';
import { TWIN, type PriceResult } from './price';
import { CALIBRATION, calibrationError } from './price-goals';
import { SATURATED } from './wrk';
import { fixed, pad } from './text';

const COLUMNS: Array<[string, string]> = [
  [`cluster-none/${TWIN}`, 'A/A'], ['baton/best', 'baton/best'], ['baton/cluster-none', '/none'], ['baton/cluster', '/rr'],
  ['baton/baton-uncounted', '/uncounted'], ['baton/single', '/single'], ['cluster/cluster-none', 'rr/none'],
];

function mark(g: Goal | undefined): string {
  if (g === undefined || g.value === null) return '';
  if (g.unjudged) return ' ?';
  return g.met ? ' ✓' : ' ✗';
}

export function renderPrice(p: PriceResult | null, goals: Goal[]): string {
  if (p === null) return '';
  const rows: string[][] = [['W', 'load', 'mode', ...COLUMNS.map(([, h]) => h), 'flagged', 'wrk cpu', 'runnable', 'failed']];
  for (const c of p.cells) {
    const row = [String(c.workers), c.load, c.mode];
    for (const [what] of COLUMNS) {
      const r = c.ratios.find((x) => x.what === what);
      if (what === `cluster-none/${TWIN}`) {
        const err = calibrationError(r);
        row.push(r ? `${fixed(r.median, 3)}${err === null ? '' : ` ±${err.toFixed(3)}`}` : '-');
        continue;
      }
      const g = goals.find((x) => x.key === `price:${c.mode}:${c.load}:${c.workers}:${what}`);
      row.push(r ? `${fixed(r.median, 3)}${mark(g)}` : '-');
    }
    row.push(`${c.saturatedRounds}/${c.runs.length}`, fixed(c.loadgenCpu), fixed(c.loadgenRunnable), String(c.failed));
    rows.push(row);
  }
  const spreads = p.cells.map((c) => `  W=${c.workers} ${c.load} ${c.mode}: ${c.ratios.map((r) => `${r.what} ${r.rounds.map((x) => (x === null ? 'flagged' : x.toFixed(3))).join(' ')}`).join('; ')}`);
  return `price per core (${p.wrkVersion ?? p.wrk}; ${p.plan.describe}; ${p.connections} connections; ${p.rounds} round(s) of ${p.durationS} s per mode;`
    + ` sched_autogroup ${p.autogroup === null ? 'unknown' : p.autogroup ? 'on' : 'OFF (the paired mode splits the CPU by thread, not by session)'}):\n`
    + pad(rows)
    + `(each figure: the median of per-round ratios of req/s; A/A: a bare cluster SCHED_NONE / a second one, ± the method's own error on this run (the larger of the median's distance from 1 and half the rounds' range / sqrt(rounds));`
    + ` baton/best: / the better bare cluster (interleaved: of each round; paired: the lower of /none and /rr); ✓ ✗: the goal, ? : not judged,`
    + ` the A/A's error is over ${CALIBRATION * 100} % or too few rounds were usable; flagged: rounds in which a wrk was runnable >= ${SATURATED}`
    + ` of the time (it, not the server, was the bottleneck: left out); wrk cpu, runnable: medians over its runs of the CPUs it used and the share of the time it was runnable; failed: non-2xx + socket errors wrk saw)\n`
    + `rounds:\n${spreads.join('\n')}\n`;
}
