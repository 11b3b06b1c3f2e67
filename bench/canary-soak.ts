// The canary's false-alarm soak (issue 21): reloads and upgrades of unchanged code, in turn, under
// a moderate and under a saturating load, with an app whose workers connect a pool on their first
// requests (150 ms) and answer after a 20 ms query; then releases that are worse (5x slower
// queries; 500 to 30 % of requests), each of which must be rolled back. Counts every verdict.
//
//   npm run build && node -r ts-node/register/transpile-only bench/canary-soak.ts [--events N] [--bad N] [--probation MS]
//
// --events: healthy reloads and upgrades per load (default 100: 200 in all); --bad: of each worse
// release per load (default 10, half reloads, half upgrades); --probation: ms (default 3000, the
// library's default, each worker's warm-up a third of it); --loads: moderate, saturating or both
// (the default). The moderate load is Node's http client (8 keep-alive loops and 2 with a connection
// per request); the saturating one is wrk (-t1 -c128, keep-alive) when
// installed, else 128 Node keep-alive loops. The machine's CPU use during each phase is read from
// /proc/stat and printed: "saturating" means the CPUs were busy nearly all the time.
// Exit status: 1 when more than 1 healthy change in 200 was rolled back, or a worse one was not,
// or a request failed.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { AppDir, Load, Server, type Release } from '../spec/support/harness';

const args = process.argv.slice(2);
function flag(name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} takes a whole number, got ${String(args[i + 1])}`);
  return v;
}
const EVENTS = flag('events', 100);
const BAD = flag('bad', 10);
const PROBATION = flag('probation', 3000);
/** --loads moderate,saturating (default both). */
const LOADS = (args.includes('--loads') ? String(args[args.indexOf('--loads') + 1]) : 'moderate,saturating').split(',');

const POOLED: Release = { version: 'v0', poolMs: 150, queryMs: 20 };
const WORSE: Array<[string, Release]> = [
  ['5x slower', { ...POOLED, version: 'slow', queryMs: 100 }],
  ['30 % 500', { ...POOLED, version: 'errors', errors: 3 }],
];

/** Busy share of all CPUs between two readings of /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

interface LoadHandle {
  stop(): Promise<{ errors: string[] }>;
}

function moderate(port: number): LoadHandle {
  const l = new Load({ port }, { keepAlive: 8, fresh: 2, maxMs: 3_600_000, maxRequests: 50_000_000 });
  return { stop: async () => ({ errors: (await l.stop()).errors }) };
}

function hasWrk(): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(`${d}/wrk`));
}

function saturating(port: number): LoadHandle {
  if (!hasWrk()) {
    const l = new Load({ port }, { keepAlive: 128, fresh: 0, maxMs: 3_600_000, maxRequests: 50_000_000 });
    return { stop: async () => ({ errors: (await l.stop()).errors }) };
  }
  let out = '';
  const w: ChildProcess = spawn('wrk', ['-t1', '-c128', '-d3600s', `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
  w.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    stop: () => new Promise((resolve) => {
      w.once('exit', () => {
        // wrk's "Socket errors: connect C, read R, write W, timeout T" and "Non-2xx or 3xx responses"
        const errors: string[] = [];
        const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
        if (se && se.slice(1).some((n) => Number(n) > 0)) errors.push(se[0]);
        resolve({ errors });
      });
      w.kill('SIGINT');
    }),
  };
}

interface Tally {
  changes: number;
  rolledBack: number;
  judged: number;
  notEnough: number;
  reasons: string[];
}

/** One change (alternately a reload and an upgrade) of `release`; resolves with how it ended. */
async function change(server: Server, dir: AppDir, release: Release, n: number, counts: { reloads: number; upgrades: number; master: number }): Promise<'succeeded' | string> {
  dir.release(release);
  const upgrade = n % 2 === 1;
  const master = counts.master;
  const before = { ok: server.count(upgrade ? 'upgrade-succeeded' : 'reload-succeeded'), failed: server.count(upgrade ? 'upgrade-failed' : 'reload-failed') };
  process.kill(master, upgrade ? 'SIGUSR2' : 'SIGHUP');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.count(upgrade ? 'upgrade-succeeded' : 'reload-succeeded') > before.ok) break;
    const f = server.events.filter((e) => e.ev === (upgrade ? 'upgrade-failed' : 'reload-failed'));
    if (f.length > before.failed) {
      if (upgrade) counts.upgrades++;
      else counts.reloads++;
      return String(f[f.length - 1]?.reason);
    }
    if (Date.now() > deadline) throw new Error(`${upgrade ? 'upgrade' : 'reload'} ${n} did not end within 30 s; the server's last lines:\n${server.stderr.slice(-2500)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (upgrade) {
    counts.upgrades++;
    // the new master serves now (a rolled-back one said 'serving' too: only a success moves this)
    const ok = server.events.filter((e) => e.ev === 'upgrade-succeeded');
    counts.master = Number(ok[ok.length - 1]?.pid);
  } else counts.reloads++;
  return 'succeeded';
}

function verdicts(server: Server): string[] {
  return server.stderr.split('\n').filter((l) => / info canary: (generation|new master) \d+: /.test(l));
}

async function phase(name: string, start: (port: number) => LoadHandle): Promise<{ healthy: Tally; worse: Map<string, Tally>; errors: string[]; cpu: number }> {
  const dir = new AppDir();
  dir.release(POOLED);
  const server = new Server(dir, { WORKERS: '2', PROBATION: String(PROBATION), LOG_LEVEL: 'info' });
  try {
    await server.waitEvent('serving', 1, 20_000);
    const port = await server.port();
    const load = start(port);
    await new Promise((r) => setTimeout(r, 1_000));
    const c0 = cpuTimes();
    const healthy: Tally = { changes: 0, rolledBack: 0, judged: 0, notEnough: 0, reasons: [] };
    const counts = { reloads: 0, upgrades: 0, master: server.pid };
    for (let i = 0; i < EVENTS; i++) {
      const r = await change(server, dir, { ...POOLED, version: `h${i}` }, i, counts);
      healthy.changes++;
      if (r !== 'succeeded') {
        healthy.rolledBack++;
        healthy.reasons.push(r);
        process.stderr.write(`${name}: healthy change ${i + 1} rolled back: ${r}\n`);
      }
      if ((i + 1) % 20 === 0) process.stderr.write(`${name}: ${i + 1} of ${EVENTS} healthy changes, ${healthy.rolledBack} rolled back\n`);
    }
    const lines = verdicts(server);
    healthy.judged = lines.filter((l) => /: (pass|fail): /.test(l)).length;
    healthy.notEnough = lines.filter((l) => /: not-enough: /.test(l)).length;
    const worse = new Map<string, Tally>();
    for (const [label, release] of WORSE) {
      const t: Tally = { changes: 0, rolledBack: 0, judged: 0, notEnough: 0, reasons: [] };
      for (let i = 0; i < BAD; i++) {
        const r = await change(server, dir, release, i, counts);
        t.changes++;
        if (r !== 'succeeded' && /rolled back/.test(r)) {
          t.rolledBack++;
          t.reasons.push(r);
        } else {
          t.reasons.push(r);
          // promoted: the next change starts from the worse release; put the healthy one back
          await change(server, dir, POOLED, i + 1, counts);
        }
      }
      worse.set(label, t);
    }
    const c1 = cpuTimes();
    const stats = await load.stop();
    return { healthy, worse, errors: stats.errors, cpu: (c1.busy - c0.busy) / Math.max(1, c1.total - c0.total) };
  } finally {
    server.kill();
    dir.remove();
  }
}

async function main(): Promise<void> {
  process.stderr.write(`canary soak: ${EVENTS} healthy reloads and upgrades in turn and ${BAD} of each worse release, per load; probation ${PROBATION} ms (warm-up ${Math.floor(PROBATION / 3)} ms per worker); node ${process.version}\n`);
  let bad = false;
  let rolledBack = 0;
  let changes = 0;
  const rows: string[] = [];
  const loads = [['moderate', moderate], [hasWrk() ? 'saturating (wrk -c128)' : 'saturating (128 Node loops)', saturating]] as const;
  for (const [name, start] of loads.filter(([n]) => LOADS.some((l) => n.startsWith(l)))) {
    const r = await phase(name, start);
    const h = r.healthy;
    rows.push(`${name}: CPU busy ${(r.cpu * 100).toFixed(0)} %; healthy: ${h.rolledBack} of ${h.changes} rolled back (${h.judged} judged on their figures, ${h.notEnough} too few responses); ${[...r.worse].map(([k, t]) => `${k}: ${t.rolledBack} of ${t.changes} rolled back`).join('; ')}; failed requests: ${r.errors.length}`);
    for (const reason of h.reasons) rows.push(`  healthy rolled back: ${reason}`);
    for (const [k, t] of r.worse) for (const reason of t.reasons.filter((x) => !/rolled back/.test(x))) rows.push(`  ${k} NOT rolled back: ${reason}`);
    if (r.errors.length > 0) rows.push(`  failed requests: ${r.errors.slice(0, 5).join(' | ')}`);
    rolledBack += h.rolledBack;
    changes += h.changes;
    if ([...r.worse.values()].some((t) => t.rolledBack < t.changes) || r.errors.length > 0) bad = true;
  }
  // the goal: at most 1 healthy change in 200 rolled back
  if (rolledBack > Math.max(1, Math.floor(changes / 200))) bad = true;
  rows.push(`healthy changes rolled back: ${rolledBack} of ${changes}`);
  for (const row of rows) console.log(row);
  console.log(bad ? 'canary soak: FAILED' : 'canary soak: ok');
  process.exitCode = bad ? 1 : 0;
}

void main().catch((err: Error) => {
  console.error(`canary soak: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
