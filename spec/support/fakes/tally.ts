// A generation's responses as the canary judges them (lib/observe/metrics.ts Tally), built to
// order: for the judge's specs and for the upgrade's, whose new master reports one.
import { emptyTally, type Tally } from '../../../lib/observe/metrics';

/** `ok` responses of 2xx and `errors` of 5xx, all taking `ms`, but `slow.n` of them taking `slow.ms`. */
export function tally(ok: number, errors: number, ms = 2, slow?: { n: number; ms: number }): Tally {
  const t = emptyTally();
  t.codes['2xx'] = ok;
  t.codes['5xx'] = errors;
  const fast = ok + errors - (slow?.n ?? 0);
  for (let i = 0; i < fast; i++) t.latency.record(ms);
  for (let i = 0; i < (slow?.n ?? 0); i++) t.latency.record(slow?.ms as number);
  return t;
}
