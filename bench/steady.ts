// The steady phases: a bare cluster's boot time (the yardstick of an upgrade), and the matrix:
// for one worker count, every target started once and kept warm; for each load a warm-up of
// each target, then --pairs rounds, each running every target in turn (the order rotated from
// one round to the next), --duration seconds each.
import { sleep, type RunRecords } from './common';
import type { Config } from './flags';
import { loadSpec, type LoadSpec, type TargetName } from './loads';
import { cellOf, type Cell } from './matrix';
import { until, type Session, type Started } from './session';
import { summarize, type TargetStats } from './stats';

/** Boot times of a bare cluster (primary + W workers, to all listening) on an idle machine, ms. */
export async function bareBootsIdle(ses: Session, workers: number, times = 3): Promise<number[]> {
  ses.progress.set('boot');
  const out: number[] = [];
  for (let k = 0; k < times; k++) {
    const b = await ses.start(`cluster-boot-${k + 1}`, 'cluster', workers);
    out.push(b.bootMs);
    await ses.stop(b.s);
  }
  return out;
}

/** The targets in round k: each round starts one further along. */
export function roundOrder<T>(targets: T[], k: number): T[] {
  const n = targets.length;
  return targets.map((_, i) => targets[(i + k) % n] as T);
}

export interface GroupResult {
  cells: Cell[];
  /** The servers of this worker count, still running (the caller stops them). */
  servers: Started[];
  warmups: Record<string, TargetStats>;
  /** Measured in this group when asked: baton's cold boot, and a bare cluster's boot while baton was under load. */
  batonColdMs: number | null;
  bareUnderLoadMs: number | null;
}

function label(target: TargetName, workers: number): string {
  return target === 'single' ? 'single' : `${target} x${workers}`;
}

/** The matrix for one worker count. `withSingle`: the single process runs in these rounds; `probe`: boot a bare cluster under load. */
export async function steadyGroup(ses: Session, cfg: Config, workers: number, withSingle: boolean, probe: boolean): Promise<GroupResult> {
  const targets = cfg.targets.filter((t) => t !== 'single' || withSingle);
  const servers: Started[] = [];
  for (const t of targets) servers.push(await ses.start(`${t}-w${workers}`, t, workers));
  const baton = servers.find((s) => s.target === 'baton');
  const out: GroupResult = { cells: [], servers, warmups: {}, batonColdMs: baton?.bootMs ?? null, bareUnderLoadMs: null };
  if (servers.length === 0) return out;
  ses.log(`W=${workers}: started ${servers.map((s) => `${label(s.target, workers)} in ${s.bootMs} ms`).join(', ')}`);
  for (const name of cfg.loads) {
    const load = loadSpec(name, cfg.connections, cfg.keepAliveShare);
    for (const s of servers) {
      const measureBoot = probe && s === baton && out.bareUnderLoadMs === null;
      if (cfg.warmupS <= 0 && !measureBoot) continue;
      ses.progress.set(`W=${workers} ${name} warm-up: ${label(s.target, workers)}`, measureBoot ? '(+ bare cluster boot under load)' : '');
      const r = measureBoot ? await probeBoot(ses, cfg, s, load, workers, out) : await ses.load(s, load, cfg.warmupS, 'warm-up');
      out.warmups[`${label(s.target, workers)} ${name}`] = summarize([r]);
    }
    const records = new Map<Started, RunRecords[]>(servers.map((s) => [s, []]));
    for (let k = 0; k < cfg.pairs; k++) {
      for (const s of roundOrder(servers, k)) {
        ses.progress.set(`W=${workers} ${name} round ${k + 1}/${cfg.pairs}: ${label(s.target, workers)}`);
        records.get(s)?.push(await ses.load(s, load, cfg.durationS, 'steady'));
      }
    }
    const cells = servers.map((s) => cellOf(s.target, s.workers, workers, name, records.get(s) ?? []));
    out.cells.push(...cells);
    ses.log(`W=${workers} ${name}: ${cells.map((c) => `${label(c.target, workers)} ${c.rounds.map((x) => x.rps.toFixed(0)).join('/')}`).join(', ')} req/s`);
  }
  return out;
}

/** Baton's warm-up under `load`, during which a bare cluster boots (measured) and stops. */
async function probeBoot(ses: Session, cfg: Config, baton: Started, load: LoadSpec, workers: number, out: GroupResult): Promise<RunRecords> {
  return ses.loadWhile(baton, load, Math.max(cfg.warmupS * 1000, 60_000), 'warm-up', async (base) => {
    await sleep(Math.min(500, cfg.warmupS * 500 + 200));
    const p = await ses.start('cluster-boot-under-load', 'cluster', workers);
    out.bareUnderLoadMs = p.bootMs;
    await ses.stop(p.s);
    await until(base, cfg.warmupS * 1000);
  });
}
