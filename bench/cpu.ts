// What a request costs the server: CPU ms (user + system, from /proc) of the server's processes
// (master and workers) per 1000 answered requests, each steady round read apart. Throughput
// on a machine whose cores the load generator shares swings from round to round (a bare
// cluster whose workers are unbalanced can even be faster, as it leaves a core to the load
// generator); CPU per request tells where the time goes (a master passing every connection on
// shows as twice the CPU per fresh connection). It is not free of the scheduling either: a busier
// worker handles more requests per wake-up, so it is cheaper per request. Reported, not asserted.
import type { Goal } from './goals';
import type { LoadName, TargetName } from './loads';
import { findCell, type Cell } from './matrix';
import { round } from './stats';
import { fixed, marked, pad } from './text';

/** baton's CPU per request / the cheaper bare cluster's, at most. */
export const CPU_BOUND = 1.05;

/** baton's CPU per request over the cheaper of the two bare clusters (medians of the rounds); null when one is missing. */
export function cpuRatio(cells: Cell[], load: LoadName, w: number): number | null {
  const of = (t: TargetName): number | null => findCell(cells, t, load, w)?.cpuPerK ?? null;
  const b = of('baton');
  const peers = [of('cluster'), of('cluster-none')].filter((x): x is number => x !== null && x > 0);
  return b === null || peers.length === 0 ? null : round(b / Math.min(...peers), 3);
}

export function cpuGoals(cells: Cell[], loads: LoadName[], workersSet: number[]): Goal[] {
  const out: Goal[] = [];
  for (const w of workersSet) {
    for (const load of loads) {
      const v = cpuRatio(cells, load, w);
      out.push({ what: `${load}, W=${w}: baton's CPU per request / the cheaper bare cluster's (medians of rounds)`, value: v,
        target: `<= ${CPU_BOUND}`, met: v === null || v <= CPU_BOUND, asserted: false, key: `cpu:${load}:${w}` });
    }
  }
  return out;
}

export function renderCpu(cells: Cell[], loads: LoadName[], workersSet: number[], targets: TargetName[], goals: Goal[]): string {
  const head = ['target', 'W', ...loads.flatMap((l) => [`${l} ms/1k`, 'vs'])];
  const rows: string[][] = [head];
  for (const w of workersSet) {
    for (const t of targets) {
      const cs = loads.map((l) => findCell(cells, t, l, w));
      if (cs.every((c) => c === undefined)) continue;
      const row = [t, String(t === 'single' ? 1 : w)];
      loads.forEach((l, i) => {
        const c = cs[i];
        const vs = t === 'baton' ? marked(fixed(cpuRatio(cells, l, w)), goals.find((g) => g.key === `cpu:${l}:${w}`)) : '-';
        row.push(c?.cpuPerK != null ? c.cpuPerK.toFixed(1) : '-', vs);
      });
      rows.push(row);
    }
  }
  return `server CPU per 1000 answered requests (ms of user + system time of the master and its workers, /proc; median of the rounds):\n${pad(rows).trimEnd()}\n`
    + `(vs: baton / the cheaper bare cluster; goal <= ${CPU_BOUND} (reported): what a request costs the server; a busier worker batches more per wake-up, so unbalanced peers read cheaper)\n`;
}
