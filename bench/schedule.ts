// When the upgrade phase signals what: the upgrades and reloads spread over the loads (each
// load's segment of the phase gets its share, the first loads one more when it does not divide),
// and within a segment the reloads spread evenly between the upgrades.
import type { EventKind } from './takeover';

/** `total` split into `parts` shares as equal as can be, the first ones larger. */
export function spread(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}

/** Upgrades and reloads in one sequence, the reloads spread evenly (Bresenham): U U R U R for 3 and 2. */
export function interleave(upgrades: number, reloads: number): EventKind[] {
  const total = upgrades + reloads;
  const out: EventKind[] = [];
  for (let k = 0; k < total; k++) {
    out.push(Math.floor(((k + 1) * reloads) / total) > Math.floor((k * reloads) / total) ? 'reload' : 'upgrade');
  }
  return out;
}

/** The pause after each event: the segment's duration shared among its events, 0.25 to 1 s. */
export function pauseMs(durationS: number, events: number): number {
  return Math.max(250, Math.min(1000, (durationS * 1000) / (events + 1)));
}
