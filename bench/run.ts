// `npm run bench`: baton side by side with one process, bare node:cluster round robin and bare
// node:cluster SCHED_NONE, under several loads and worker counts, then baton upgraded and
// reloaded under each load. See docs/benchmarks.md.
//
//   boot      a bare cluster's boot time, idle (3 samples)             bench/steady.ts
//   price     per worker count: the price per core, wrk on CPUs of     bench/price.ts
//             its own, every target pinned on the others, interleaved
//             and paired, beside an A/A calibration (when wrk is
//             installed; --client node leaves it out)
//   matrix    the bench's own Node client: with wrk, baton alone at    bench/steady.ts
//             W = cores (the upgrade phase's steady figures and its
//             balance); without wrk, every target under every load
//             (a bare cluster also boots once under load)
//   upgrades  baton (W = cores) under each load in turn, with its      bench/upgrades.ts
//             share of --upgrades and --reloads, new code each time
//
// The Node client is a separate process (bench/loadgen.ts): every request it sends is recorded
// and accounted for. The exit status speaks of correctness (failed requests, leaks, processes
// left, events not completed); throughput goals count only with --assert-goals. Results:
// bench/results/<timestamp>.json and .svg.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderChart, stackCharts } from './chart';
import { now } from './common';
import { listFailures } from './failures';
import { parseArgs, type Config } from './flags';
import { exitCodeOf, matrixGoals, runGoals, segmentGoals, type Goal } from './goals';
import { cpuGoals } from './cpu';
import { autogroup, cpuPlan, versionOf, which } from './affinity';
import { PRICE_LOADS, priceGroup, type PriceResult } from './price';
import { priceGoals } from './price-goals';
import { loadSpec } from './loads';
import { ratioRows, type Cell } from './matrix';
import { machine, type BenchResult } from './result';
import { Session } from './session';
import { summarizeSoak } from './soak';
import { median, round, summarize, type TargetStats } from './stats';
import { bareBootsIdle, steadyGroup } from './steady';
import { renderReport } from './table';
import { eventStats } from './takeover';
import { upgradePhase, type UpgradePhase } from './upgrades';
import { duringEvents } from './windows';

export async function main(argv: string[]): Promise<number> {
  const cfg = parseArgs(argv);
  if (!fs.existsSync(cfg.dist)) throw new Error(`${cfg.dist} is missing: run npm run build first`);
  const t0 = now();
  const startedAt = new Date();
  const mach = machine();
  const ses = new Session(cfg, t0);
  try {
    await ses.lg.ready();
    ses.progress.start();
    ses.log(`baton bench: targets ${cfg.targets.join(', ')}; loads ${cfg.loads.join(', ')}; W ${cfg.workersSet.join(', ')} (upgrades at ${cfg.workers}); `
      + `${cfg.connections} connections, ${cfg.durationS} s x ${cfg.pairs} rounds, ${cfg.upgrades} upgrade(s), ${cfg.reloads} reload(s); ${mach.nproc} cores, node ${mach.node}`);
    const bareIdle = await bareBootsIdle(ses, cfg.workers);
    const price = await pricePhase(ses, cfg);
    // with wrk, the Node client measures baton alone (the upgrade phase's steady figures and balance)
    const nodeCfg = price === null ? cfg : { ...cfg, targets: cfg.targets.filter((t) => t === 'baton'), workersSet: [cfg.workers] };
    const cells: Cell[] = [];
    const warmups: Record<string, TargetStats> = {};
    let up: UpgradePhase | undefined;
    let batonColdMs: number | null = null;
    let bareUnderLoadMs: number | null = null;
    for (const [g, w] of nodeCfg.workersSet.entries()) {
      const atUp = w === cfg.workers;
      const group = await steadyGroup(ses, nodeCfg, w, g === 0, atUp);
      cells.push(...group.cells);
      Object.assign(warmups, group.warmups);
      const baton = group.servers.find((s) => s.target === 'baton');
      for (const s of group.servers) if (!(atUp && s === baton)) await ses.stop(s.s);
      if (atUp && baton) {
        batonColdMs = group.batonColdMs;
        bareUnderLoadMs = group.bareUnderLoadMs;
        up = await upgradePhase(ses, cfg, baton, cells);
        await ses.stop(baton.s);
      }
    }
    ses.progress.stop();

    // ---- figures
    const ratios = ratioRows(cells, cfg.loads, nodeCfg.workersSet);
    const events = up?.events ?? [];
    const segments = up?.segments ?? [];
    const everything = summarize(ses.runs.map((e) => e.r));
    const failedRequests = everything.failed + everything.non2xx + everything.inflight;
    const eventSummary = { upgrades: eventStats(events.filter((e) => e.kind === 'upgrade')), reloads: eventStats(events.filter((e) => e.kind === 'reload')) };
    const bareIdleMedianMs = round(median(bareIdle));
    const goals: Goal[] = [
      ...runGoals({ failedRequests, eventsOk: events.filter((e) => e.ok).length, events: events.length, upgrades: eventSummary.upgrades, bareUnderLoadMs, bareIdleMedianMs }),
      ...(price ? [{ what: 'failed requests wrk reported in the price-per-core matrix (non-2xx, socket errors)', value: price.failed, target: '= 0', met: price.failed === 0, asserted: true }] : []),
      ...matrixGoals(cells, ratios, cfg.loads, nodeCfg.workersSet, cfg.assertGoals).map((g) => (price === null && /^(ratio|counting):/.test(g.key ?? '') && g.value !== null
        ? { ...g, asserted: false, unjudged: 'the Node client shares the CPUs with the servers, without calibration' } : g)),
      ...cpuGoals(cells, cfg.loads, nodeCfg.workersSet),
      ...priceGoals(price?.cells ?? [], cfg.assertGoals, price?.plan.disjoint ?? true),
      ...segmentGoals(segments),
    ];
    // after the stop (every server SIGKILLed by pid): nothing of any server may run
    await ses.stopAll();
    const afterStop = [...new Set([...ses.servers.flatMap((s) => [...s.pids].filter((p) => ses.ours(p))), ...ses.tagged()])];
    const soak = summarizeSoak(up?.samples ?? [], { beforeStop: up?.strays ?? [], afterStop }, cfg.connections);
    for (const g of soak.goals) goals.push({ ...g, asserted: true });
    const exitCode = exitCodeOf(goals);
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    fs.mkdirSync(cfg.outDir, { recursive: true });
    const files = { json: path.join(cfg.outDir, `${stamp}.json`), svg: path.join(cfg.outDir, `${stamp}.svg`) };
    mach.loadavgEnd = os.loadavg().map((x) => round(x));
    const { json: _json, outDir: _outDir, dist: _dist, ...config } = cfg;
    const result: BenchResult = {
      bench: 'baton',
      version: 3,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      wallS: round((now() - t0) / 1000, 1),
      command: `npm run bench --${argv.length ? ` ${argv.join(' ')}` : ''}`,
      machine: mach,
      config,
      dist: cfg.dist,
      failedRequests,
      failures: listFailures(ses.runs, (e) => up?.runs.find((s) => s.r === e.r)?.events ?? []),
      accounting: { requests: everything.requests, answered2xx: everything.ok, non2xx: everything.non2xx, errors: everything.failed, inflight: everything.inflight },
      client: price === null ? 'node' : 'wrk',
      price,
      steady: { loads: cfg.loads.map((l) => loadSpec(l, cfg.connections, cfg.keepAliveShare)), workersSet: nodeCfg.workersSet, targets: nodeCfg.targets, rounds: cfg.pairs, cells, ratios },
      warmups,
      upgradePhase: {
        workers: cfg.workers,
        segments,
        windows: { duringUpgrades: duringEvents(up?.runs ?? [], 'upgrade'), duringReloads: duringEvents(up?.runs ?? [], 'reload') },
      },
      boot: { workers: cfg.workers, bareIdleMs: bareIdle, bareIdleMedianMs, bareUnderLoadMs, batonColdMs },
      events,
      timeline: up?.timeline ?? [],
      eventSummary,
      goals,
      soak: soak.summary,
      serverStderr: ses.servers.flatMap((s) => s.warnings.map((w) => `${s.name}: ${w}`)).slice(0, 200),
      leftoverPids: soak.summary.leftoverPids,
      files,
      exitCode,
    };
    fs.writeFileSync(files.json, JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(files.svg, chart(result));
    const report = renderReport(result);
    if (cfg.json) {
      process.stderr.write(report);
      process.stdout.write(JSON.stringify(result) + '\n');
    } else {
      process.stdout.write(report);
    }
    return exitCode;
  } finally {
    await ses.close();
  }
}

/** The price-per-core matrix with wrk at every worker count, or null when the Node client is the steady matrix's (said why). */
async function pricePhase(ses: Session, cfg: Config): Promise<PriceResult | null> {
  const wrk = which('wrk');
  if (cfg.client === 'node') {
    ses.log('--client node: no price-per-core matrix; the steady matrix is the Node client\'s, on the same CPUs as the servers, its ratios reported, not judged');
    return null;
  }
  if (wrk === null) {
    if (cfg.client === 'wrk') throw new Error('--client wrk: wrk is not on PATH; install it (apt-get install wrk) or give --client node');
    ses.log('wrk is not installed (apt-get install wrk): no price-per-core matrix; the steady matrix falls back to the bench\'s own Node client, '
      + 'on the same CPUs as the servers and without calibration, its ratios reported, not judged');
    return null;
  }
  if (!cfg.loads.some((l) => (PRICE_LOADS as string[]).includes(l))) {
    ses.log(`--loads ${cfg.loads.join(',')}: none of them is a load wrk runs (${PRICE_LOADS.join(', ')}): no price-per-core matrix; the Node client's matrix instead, its ratios reported, not judged`);
    return null;
  }
  const plan = cpuPlan(os.availableParallelism());
  const price: PriceResult = {
    wrk, wrkVersion: versionOf(wrk), plan, autogroup: autogroup(), durationS: cfg.priceDurationS, rounds: cfg.priceRounds,
    connections: cfg.connections, cells: [], failed: 0,
  };
  for (const [g, w] of cfg.workersSet.entries()) {
    const r = await priceGroup(ses, cfg, { wrk, plan, live: ses.helpers }, w, g === 0);
    price.cells.push(...r.cells);
    price.failed += r.warmupFailed + r.cells.reduce((s, c) => s + c.failed, 0);
  }
  return price;
}

/** A chart per segment of the upgrade phase, stacked; an empty chart without one. */
function chart(r: BenchResult): string {
  const c = r.config;
  const m = r.machine;
  const charts = r.upgradePhase.segments.map((s) => renderChart({
    title: `baton under the ${s.load} load: ${s.upgrades} upgrade(s) and ${s.reloads} reload(s), ${s.stats.requests} requests, ${s.failed} failed`,
    subtitle: `${r.upgradePhase.workers} workers, ${s.describe}, delay ${c.delayMs} ms; ${m.nproc} cores, node ${m.node}; ${r.startedAt}`,
    series: s.series,
    events: r.events.filter((e) => e.load === s.load).map((e) => ({
      kind: e.kind, index: e.index, signalAt: e.signalAt, servingAt: e.servingAt ?? undefined, oldGoneAt: e.oldGoneAt ?? undefined, ok: e.ok,
    })),
    ...(s.bareRps !== null ? { bareRps: s.bareRps } : {}),
    ...(s.steadyP99 !== null ? { steadyP99: s.steadyP99 } : {}),
  }));
  return charts.length ? stackCharts(charts) : '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="10" y="24">no upgrade phase in this run</text></svg>\n';
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (err: Error) => {
    process.stderr.write(`\nbench failed: ${err.stack ?? err.message}\n`);
    process.exitCode = 2;
  });
}
