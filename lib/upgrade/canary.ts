// The canary of an upgrade: the new master's first generation judged against the old
// master's serving generation over the probation, with the judge a reload uses
// (lib/observe/canary.ts, its CanaryWindow). Apart from a reload's because the new generation is
// counted in another process, which sends its tally ('tally', the form below, checked on arrival)
// when asked ('report'): all it served from 'go' (a moment before the probation began) on, but its
// workers' warm-up.
import { isHistogramData, type HistogramData } from '../observe/histogram';
import { emptyTally, type Tally } from '../observe/metrics';
import { STATUS_CLASSES } from '../observe/request-stats';
import { CanaryWindow, type Judge, type Warmup } from '../observe/canary';
import type { CanaryPolicy } from '../config/observe';

/** A tally as it travels over the upgrade channel. */
export interface TallyData {
  codes: Record<string, number>;
  latency: HistogramData;
  /** What the new master left out: its first generation's workers' warm-up (absent from an older baton). */
  left?: Warmup;
}

export function toTallyData(t: Tally, left?: Warmup): TallyData {
  return { codes: { ...t.codes }, latency: t.latency.toData(), ...(left ? { left: { ms: left.ms, responses: left.responses } } : {}) };
}

/** The warm-up a TallyData says its sender left out; undefined when none or malformed. */
export function leftOf(x: unknown): Warmup | undefined {
  const l = (x as { left?: unknown } | null)?.left as { ms?: unknown; responses?: unknown } | undefined;
  if (typeof l !== 'object' || l === null) return undefined;
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  return ok(l.ms) && ok(l.responses) ? { ms: l.ms, responses: l.responses } : undefined;
}

/** The tally `x` stands for; undefined when it is not a well-formed TallyData. */
export function fromTallyData(x: unknown): Tally | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const d = x as { codes?: unknown; latency?: unknown };
  if (typeof d.codes !== 'object' || d.codes === null || !isHistogramData(d.latency)) return undefined;
  const t = emptyTally();
  for (const c of STATUS_CLASSES) {
    const n = (d.codes as Record<string, unknown>)[c] ?? 0;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return undefined;
    t.codes[c] = n;
  }
  t.latency.merge(d.latency);
  return t;
}

/**
 * The old master's judge over `prev` (its serving generation's totals so far) and the new
 * master's tally, which comes as the evidence. Under `baton run` the supervisor runs the attempt:
 * its judge forwards the tally to the old master and waits for the verdict (lib/supervisor/bridge.ts).
 */
export function upgradeJudge(prev: () => Tally, policy: CanaryPolicy): Judge {
  let received: Tally | undefined;
  const w = new CanaryWindow(() => received ?? emptyTally(), prev, policy);
  return {
    begin: () => w.begin(),
    verdict: (next) => {
      received = fromTallyData(next);
      // the new master's tally leaves its workers' warm-up out, and says how much
      return received === undefined ? undefined : w.verdict(leftOf(next) ?? { ms: 0, responses: 0 });
    },
  };
}
