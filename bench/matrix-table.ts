// The report's matrix tables: steady throughput of each target x worker count under each load
// with baton's ratio to it and the balance of its workers, each marked ✓/✗ against its goal;
// the per-worker shares; the upgrade phase per load.
import { renderCpu } from './cpu';
import { BOUNDS, type Goal } from './goals';
import { findCell } from './matrix';
import type { BenchResult } from './result';
import { fixed, marked, pad } from './text';

export function renderMatrix(r: BenchResult): string {
  const { loads, workersSet, targets, cells, ratios } = r.steady;
  const goal = (key: string): Goal | undefined => r.goals.find((g) => g.key === key);
  const out: string[] = [];
  out.push(`steady matrix, ${r.steady.rounds} round(s) of ${r.config.durationS} s per cell (loads: ${loads.map((l) => `${l.name} = ${l.describe}`).join('; ')}):`);
  const head = ['target', 'W'];
  for (const l of loads) head.push(`${l.name} req/s`, 'vs', 'bal');
  const rows: string[][] = [head];
  for (const w of workersSet) {
    for (const t of targets) {
      const any = loads.map((l) => findCell(cells, t, l.name, w));
      if (any.every((c) => c === undefined)) continue;
      const row = [t, String(t === 'single' ? 1 : w)];
      for (const l of loads) {
        const c = findCell(cells, t, l.name, w);
        const ratio = ratios.find((x) => x.load === l.name && x.workers === w);
        let vs = '-';
        if (t === 'baton') vs = marked(fixed(ratio?.overBest?.median), l.name === 'fresh' ? undefined : goal(`ratio:${l.name}:best:${w}`));
        else if (t === 'single') vs = fixed(ratio?.overSingle?.median);
        else if (t === 'cluster') vs = marked(fixed(ratio?.overCluster?.median), goal(`ratio:${l.name}:cluster:${w}`));
        else vs = marked(fixed(ratio?.overNone?.median), goal(`ratio:${l.name}:cluster-none:${w}`));
        const bal = t === 'baton' ? marked(fixed(c?.balance), goal(`balance:${l.name}:${w}`)) : fixed(c?.balance);
        row.push(c ? c.rps.toFixed(0) : '-', c ? vs : '-', c ? bal : '-');
      }
      rows.push(row);
    }
  }
  out.push(pad(rows).trimEnd());
  out.push(`(req/s: median of the rounds; vs: baton / this target under the same load and W, the median of per-round ratios (baton's row: / the better`
    + ` bare cluster of each round; single's: baton at the W it ran beside); bal: busiest worker / mean share, median of the rounds.`
    + `\n goals: fresh vs cluster-none >= ${BOUNDS.freshOverNone}, vs cluster >= ${BOUNDS.freshOverCluster}; other loads baton vs the better bare cluster >= ${BOUNDS.overBest};`
    + ` baton's bal <= ${BOUNDS.balance}. cluster = node:cluster round robin, cluster-none = node:cluster SCHED_NONE (workers accept))\n`);

  out.push(renderCpu(cells, loads.map((l) => l.name), workersSet, targets, r.goals));

  const shares: string[] = [];
  for (const c of cells) {
    if (c.workers < 2) continue;
    shares.push(`  ${`${c.target} x${c.workers} ${c.load}`.padEnd(26)} ${c.rounds.map((x) => x.shares.map((s) => Math.round(s * 100)).join('/')).join('  ')}`);
  }
  if (shares.length) out.push(`per-worker shares of the requests in each round, busiest first (%):\n${shares.join('\n')}\n`);

  const segs = r.upgradePhase.segments;
  if (segs.length > 0) {
    const ur: string[][] = [['load', 'upgrades', 'reloads', 'requests', 'failed', 'p99 during / steady', 'between events / steady (lowest, median)']];
    for (const s of segs) {
      ur.push([
        s.load, String(s.upgrades), String(s.reloads), String(s.stats.requests),
        marked(String(s.failed), goal(`failed:${s.load}`)),
        marked(fixed(s.p99Ratio), goal(`p99:${s.load}`)),
        `${marked(fixed(s.recovery.min), goal(`recovery:${s.load}`))}, ${fixed(s.recovery.median)}`,
      ]);
    }
    out.push(`upgrade phase, baton x${r.upgradePhase.workers}, a segment per load (against baton's steady figures under the same load):`);
    out.push(pad(ur).trimEnd());
    out.push(`(goals: failed = 0 (asserted); p99 during <= ${BOUNDS.p99} x steady and throughput between events >= ${BOUNDS.recovery} x steady (reported))\n`);
  }
  return out.join('\n');
}
