// One upgrade (SIGUSR2) or reload (SIGHUP) of the baton under test, with new code: version.json
// is rewritten, the signal sent, then the bench waits for what the masters say (bench/app.js
// prints their events) and for the old processes to be gone (polled in /proc). An upgrade and a
// reload differ only in who serves next (a new master, or a new generation of the same one).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { now, type RunRecords } from './common';
import { waitGone, type ServerProc } from './servers';
import { median, round } from './stats';

export type EventKind = 'upgrade' | 'reload';

export interface BenchEvent {
  kind: EventKind;
  /** 1-based, per kind, over the whole upgrade phase. */
  index: number;
  /** The load the upgrade phase ran while this event happened. */
  load: string;
  /** ms from the start of that load's run (its segment of the upgrade phase). */
  signalAt: number;
  /** ms: the new master said 'serving' (upgrade), the master said 'reload-succeeded' (reload). */
  servingAt: number | null;
  /** ms: the old master and its workers (upgrade), the old generation's workers (reload), no longer running. */
  oldGoneAt: number | null;
  /** Derived: servingAt - signalAt, oldGoneAt - signalAt. */
  toServingMs: number | null;
  toOldGoneMs: number | null;
  /** ms: the load generator got the first response from the new code, and the last from the old. */
  firstNewResponseAt: number | null;
  lastOldResponseAt: number | null;
  fromVersion: string;
  toVersion: string;
  oldMaster: number;
  newMaster: number | null;
  oldGeneration: number;
  newGeneration: number | null;
  /** Responses per second from the old generation gone to the next signal (or the end of the segment), and / steady. */
  afterRps: number | null;
  afterRatio: number | null;
  ok: boolean;
  reason?: string;
}

/** Who serves now, and which code. */
export interface BatonState {
  master: number;
  generation: number;
  version: string;
}

export function writeVersion(dir: string, version: string): void {
  const tmp = path.join(dir, `version.json.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify({ version }));
  fs.renameSync(tmp, path.join(dir, 'version.json'));
}

export const SERVING_TIMEOUT = 70_000; // baton's readyTimeout (60 s) and some
export const GONE_TIMEOUT = 45_000; // drainTimeout (30 s) + the kill grace (2 s) and some

/** Signals one upgrade or reload and follows it to its end; `st` is moved on to what serves next. */
export async function takeOver(kind: EventKind, s: ServerProc, dir: string, st: BatonState, index: number, load: string, base: number): Promise<BenchEvent> {
  const toVersion = `${kind === 'upgrade' ? 'u' : 'r'}${index}`;
  const m = st.master;
  const oldGen = st.generation;
  const ev: BenchEvent = {
    kind, index, load, signalAt: 0, servingAt: null, oldGoneAt: null, toServingMs: null, toOldGoneMs: null,
    firstNewResponseAt: null, lastOldResponseAt: null, fromVersion: st.version, toVersion, oldMaster: m,
    newMaster: kind === 'reload' ? m : null, oldGeneration: oldGen, newGeneration: null, afterRps: null, afterRatio: null, ok: false,
  };
  writeVersion(dir, toVersion);
  const since = s.events.length;
  const signalAt = now();
  process.kill(m, kind === 'upgrade' ? 'SIGUSR2' : 'SIGHUP');
  ev.signalAt = signalAt - base;
  try {
    const outcome = await s.waitFor(`${kind} ${index} outcome`, (e) => e.master === m && (e.ev === `${kind}-succeeded` || e.ev === `${kind}-failed`), since, SERVING_TIMEOUT);
    if (outcome.ev === `${kind}-failed`) {
      ev.reason = String(outcome.reason);
      return ev;
    }
    let serving = outcome;
    if (kind === 'upgrade') {
      const pid = outcome.pid as number;
      ev.newMaster = pid;
      serving = await s.waitFor(`master ${pid} serving`, (e) => e.master === pid && e.ev === 'serving', since, 5_000);
    }
    ev.servingAt = serving.t - base;
    ev.newGeneration = serving.generation as number;
    st.master = ev.newMaster as number;
    st.generation = ev.newGeneration;
    st.version = toVersion;
    if (kind === 'reload') await s.waitFor(`generation ${oldGen} drained`, (e) => e.master === m && e.ev === 'generation-drained' && e.generation === oldGen, since, GONE_TIMEOUT);
    const old = kind === 'upgrade' ? [m, ...s.workersOf(m)] : s.workersOf(m, oldGen);
    const gone = await waitGone(old, kind === 'upgrade' ? GONE_TIMEOUT : 5_000);
    if (gone === undefined) {
      ev.reason = kind === 'upgrade' ? `old master ${m} or its workers still running ${GONE_TIMEOUT} ms after the signal` : `workers of generation ${oldGen} still running after it drained`;
    } else {
      ev.oldGoneAt = gone - base;
      ev.ok = true;
    }
  } catch (err) {
    ev.reason = (err as Error).message;
  }
  return ev;
}

/** Fills the response-derived fields of the events from the records of their segment's run. */
export function annotate(events: BenchEvent[], r: RunRecords, base: number): void {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  for (let i = 0; i < r.n; i++) {
    if (r.outcome[i] !== 1) continue;
    const vi = r.version[i] as number;
    if (vi < 0) continue;
    const v = r.versions[vi] as string;
    const at = (r.sendAt[i] as number) + (r.latency[i] as number) - base;
    if (!first.has(v) || at < (first.get(v) as number)) first.set(v, at);
    if (!last.has(v) || at > (last.get(v) as number)) last.set(v, at);
  }
  for (const e of events) {
    e.firstNewResponseAt = first.has(e.toVersion) ? round(first.get(e.toVersion) as number) : null;
    e.lastOldResponseAt = last.has(e.fromVersion) ? round(last.get(e.fromVersion) as number) : null;
    e.signalAt = round(e.signalAt);
    e.servingAt = e.servingAt === null ? null : round(e.servingAt);
    e.oldGoneAt = e.oldGoneAt === null ? null : round(e.oldGoneAt);
    e.toServingMs = e.servingAt === null ? null : round(e.servingAt - e.signalAt);
    e.toOldGoneMs = e.oldGoneAt === null ? null : round(e.oldGoneAt - e.signalAt);
    if (e.ok && e.firstNewResponseAt === null) {
      e.ok = false;
      e.reason = `no response from version ${e.toVersion} was seen`;
    }
  }
}

export interface EventStats {
  count: number;
  ok: number;
  toServingMedianMs: number | null;
  toServingMaxMs: number | null;
  toOldGoneMedianMs: number | null;
  toOldGoneMaxMs: number | null;
}

export function eventStats(evs: BenchEvent[]): EventStats {
  const ts = evs.map((e) => e.toServingMs).filter((x): x is number => x !== null);
  const tg = evs.map((e) => e.toOldGoneMs).filter((x): x is number => x !== null);
  return {
    count: evs.length,
    ok: evs.filter((e) => e.ok).length,
    toServingMedianMs: ts.length ? round(median(ts)) : null,
    toServingMaxMs: ts.length ? round(Math.max(...ts)) : null,
    toOldGoneMedianMs: tg.length ? round(median(tg)) : null,
    toOldGoneMaxMs: tg.length ? round(Math.max(...tg)) : null,
  };
}
