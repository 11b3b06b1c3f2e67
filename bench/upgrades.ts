// The upgrade phase: the warm baton of the matrix (W = cores) under each load in turn, one load
// run (a segment) per load, while it gets that load's share of the --upgrades SIGUSR2 and
// --reloads SIGHUP, each with new code. A segment: 1 s of steady load, then each event followed
// to its end, the serving master sampled (bench/soak.ts) and a pause; at least --duration s.
// At the end, only the serving master and its workers may still run.
import { sleep } from './common';
import type { Config } from './flags';
import { loadSpec } from './loads';
import { findCell, type Cell } from './matrix';
import { interleave, pauseMs, spread } from './schedule';
import { until, type Session, type Started } from './session';
import { sampleMaster, type SoakSample } from './soak';
import { round, summarize, timeSeries, type Series, type TargetStats } from './stats';
import { untilNone } from './strays';
import { annotate, GONE_TIMEOUT, SERVING_TIMEOUT, takeOver, type BatonState, type BenchEvent } from './takeover';
import { duringEvents, recovery, type Segmented } from './windows';
import type { SegmentFigures } from './goals';

export interface Segment extends SegmentFigures {
  describe: string;
  stats: TargetStats;
  duringUpgrades: TargetStats;
  duringReloads: TargetStats;
  /** Baton's steady figures under this load at this worker count (medians of the matrix's rounds). */
  steadyRps: number | null;
  steadyP99: number | null;
  /** The better bare cluster's steady throughput under this load (the chart's reference line). */
  bareRps: number | null;
  series: Series;
}

export interface TimelineEntry {
  load: string;
  /** ms from the start of its segment's run. */
  at: number;
  ev: string;
  master: number;
  pid?: number;
  generation?: number;
}

export interface UpgradePhase {
  workers: number;
  segments: Segment[];
  runs: Segmented[];
  events: BenchEvent[];
  samples: SoakSample[];
  timeline: TimelineEntry[];
  /** Processes that still ran besides the serving generation at the end (killed). */
  strays: number[];
}

export async function upgradePhase(ses: Session, cfg: Config, baton: Started, cells: Cell[]): Promise<UpgradePhase> {
  const st: BatonState = { master: baton.s.servingMasterPid(), generation: baton.s.servingGeneration(), version: 'v0' };
  const out: UpgradePhase = { workers: baton.workers, segments: [], runs: [], events: [], samples: [], timeline: [], strays: [] };
  const ups = spread(cfg.upgrades, cfg.loads.length);
  const rls = spread(cfg.reloads, cfg.loads.length);
  let nu = 0;
  let nr = 0;
  for (const [i, name] of cfg.loads.entries()) {
    const schedule = interleave(ups[i] as number, rls[i] as number);
    if (schedule.length === 0) continue;
    const load = loadSpec(name, cfg.connections, cfg.keepAliveShare);
    const gap = pauseMs(cfg.durationS, schedule.length);
    const lead = Math.min(1000, cfg.durationS * 1000);
    const bound = lead + schedule.length * (SERVING_TIMEOUT + GONE_TIMEOUT + gap) + cfg.durationS * 1000 + 5000;
    const events: BenchEvent[] = [];
    const samples: SoakSample[] = [];
    let base = 0;
    ses.progress.set(`upgrades under ${name}`);
    const r = await ses.loadWhile(baton, load, bound, 'upgrades', async (b) => {
      base = b;
      await sleep(lead);
      for (const kind of schedule) {
        const index = kind === 'upgrade' ? ++nu : ++nr;
        ses.progress.note = `${kind} ${index}/${kind === 'upgrade' ? cfg.upgrades : cfg.reloads}`;
        const ev = await takeOver(kind, baton.s, ses.dir, st, index, name, base);
        events.push(ev);
        if (!ev.ok) ses.log(`${kind} ${index} did not complete: ${ev.reason ?? 'unknown'}`);
        // the event has completed (new generation serving, old one gone): the serving master at
        // the end of the pause before the next signal, so that what only passes through at a
        // hand-over (the channel to the old master, an old worker's pipe) has had the pause to go
        // on a busy machine; an fd that stays open is still there then
        await sleep(gap);
        samples.push(await sampleMaster(kind, index, st.master, st.master === baton.s.pid, base));
      }
      ses.progress.note = '';
      await until(base, cfg.durationS * 1000);
    });
    // from the bench's clock at the start to the run's own start (a few ms apart)
    const shift = base - r.startedAt;
    for (const e of events) {
      e.signalAt += shift;
      if (e.servingAt !== null) e.servingAt += shift;
      if (e.oldGoneAt !== null) e.oldGoneAt += shift;
    }
    for (const s of samples) s.at = round(s.at + shift);
    annotate(events, r, r.startedAt);
    const seg: Segmented = { r, events };
    const steady = findCell(cells, 'baton', name, baton.workers);
    const bare = [findCell(cells, 'cluster', name, baton.workers), findCell(cells, 'cluster-none', name, baton.workers)].filter((c) => c !== undefined);
    const stats = summarize([r]);
    const duringUpgrades = duringEvents([seg], 'upgrade');
    const duringReloads = duringEvents([seg], 'reload');
    const during = ups[i] ? duringUpgrades : duringReloads;
    out.segments.push({
      load: name, describe: load.describe, upgrades: ups[i] as number, reloads: rls[i] as number,
      failed: stats.failed + stats.non2xx + stats.inflight,
      p99Ratio: steady && steady.p99 > 0 && Number.isFinite(during.p99) ? round(during.p99 / steady.p99, 3) : null,
      recovery: recovery(seg, steady?.rps ?? null),
      stats, duringUpgrades, duringReloads,
      steadyRps: steady?.rps ?? null, steadyP99: steady?.p99 ?? null,
      bareRps: bare.length ? Math.max(...bare.map((c) => c.rps)) : null,
      series: timeSeries(r),
    });
    out.runs.push(seg);
    out.events.push(...events);
    out.samples.push(...samples);
    for (const e of baton.s.events) {
      if (e.t < r.startedAt || e.t > r.frozenAt) continue;
      out.timeline.push({
        load: name, at: round(e.t - r.startedAt), ev: e.ev, master: e.master,
        ...(typeof e.pid === 'number' ? { pid: e.pid } : {}),
        ...(typeof e.generation === 'number' ? { generation: e.generation } : {}),
      });
    }
  }
  ses.progress.set('finishing');
  // before the stop, only the serving master and its serving generation's workers may run
  const expected = new Set([st.master, ...baton.s.workersOf(st.master, st.generation)]);
  out.strays = await untilNone(() => [...new Set([...[...baton.s.pids].filter((p) => !expected.has(p) && ses.ours(p)), ...ses.tagged(expected)])], 2_000);
  if (out.strays.length > 0) ses.log(`warning: still running besides the serving generation: ${out.strays.join(', ')}`);
  for (const pid of out.strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return out;
}
