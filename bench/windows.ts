// Parts of the upgrade phase's runs, by time: the requests sent while an upgrade (reload) was
// under way (from its signal to its old generation gone), and the throughput in the pauses
// between events, when the new generation alone serves. Event times are ms from the start of
// their segment's run (RunRecords.startedAt).
import { ANSWERED, type RunRecords } from './common';
import { median, round, summarize, type TargetStats } from './stats';
import type { BenchEvent, EventKind } from './takeover';

export interface Segmented {
  r: RunRecords;
  /** The events of this run's segment. */
  events: BenchEvent[];
}

/** [from, to] in epoch ms of each event of `kind`: signal to old generation gone (or the run's end). */
function spans(s: Segmented, kind: EventKind): Array<readonly [number, number]> {
  const t0 = s.r.startedAt;
  return s.events.filter((e) => e.kind === kind).map((e) => [t0 + e.signalAt, t0 + (e.oldGoneAt ?? s.r.stoppedAt - t0)] as const);
}

/** The requests sent during the events of `kind`, over every segment; stall: the longest within one event. */
export function duringEvents(segs: Segmented[], kind: EventKind): TargetStats {
  const ws = new Map(segs.map((s) => [s.r, spans(s, kind)] as const));
  const dur = [...ws.values()].flat().reduce((a, [s, e]) => a + Math.max(0, e - s), 0) / 1000;
  const sentIn = (r: RunRecords, i: number, list: Array<readonly [number, number]>): boolean => {
    const t = r.sendAt[i] as number;
    return list.some(([s, e]) => t >= s && t <= e);
  };
  const runs = segs.map((s) => s.r);
  const all = summarize(runs, (r, i) => sentIn(r, i, ws.get(r) ?? []), dur);
  all.maxGapMs = 0;
  all.maxGapAt = NaN;
  for (const [r, list] of ws) {
    for (const w of list) {
      const one = summarize([r], (_, i) => sentIn(r, i, [w]));
      if (one.maxGapMs > all.maxGapMs) {
        all.maxGapMs = one.maxGapMs;
        all.maxGapAt = one.maxGapAt;
      }
    }
  }
  return all;
}

/** Shorter pauses than this are not measured (a few buckets of responses). */
export const MIN_PAUSE_MS = 200;

/**
 * Responses completed per second in the pause after each event (old generation gone to the next
 * signal, or to the end of sending), set on the event as afterRps and, over `steadyRps`, afterRatio.
 */
export function recovery(s: Segmented, steadyRps: number | null): { min: number | null; median: number | null; windows: number } {
  const r = s.r;
  const evs = [...s.events].sort((a, b) => a.signalAt - b.signalAt);
  const ratios: number[] = [];
  evs.forEach((e, k) => {
    if (e.oldGoneAt === null) return;
    const from = r.startedAt + e.oldGoneAt;
    const to = r.startedAt + (evs[k + 1]?.signalAt ?? r.stoppedAt - r.startedAt);
    if (to - from < MIN_PAUSE_MS) return;
    let done = 0;
    for (let i = 0; i < r.n; i++) {
      if (r.outcome[i] !== ANSWERED) continue;
      const at = (r.sendAt[i] as number) + (r.latency[i] as number);
      if (at >= from && at < to) done++;
    }
    e.afterRps = round(done / ((to - from) / 1000), 1);
    if (steadyRps !== null && steadyRps > 0) {
      e.afterRatio = round(e.afterRps / steadyRps, 3);
      ratios.push(e.afterRatio);
    }
  });
  return {
    min: ratios.length ? Math.min(...ratios) : null,
    median: ratios.length ? round(median(ratios), 3) : null,
    windows: ratios.length,
  };
}
