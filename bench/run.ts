// `npm run bench`: baton under load, with upgrades and reloads, side by side with bare
// node:cluster and a single process. See docs/benchmarks.md.
//
//   boot      bare cluster boot time, idle (3 samples); baton cold boot
//   single    warm-up, then one measured run against one node:http process
//   warm-up   bare cluster, then baton (during which a bare cluster boots under load)
//   pairs     bare, baton, bare, baton, ... (--pairs, at least 3): steady-state ratio
//   upgrades  baton under load while it gets --upgrades SIGUSR2 and --reloads SIGHUP,
//             each with new code (version.json rewritten before the signal); after each,
//             the serving master's fd count and RSS (bench/soak.ts)
//
// The load generator is a separate process (bench/loadgen.ts). Every request it sends is
// recorded and accounted for. Results: bench/results/<timestamp>.json and .svg.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderChart, type ChartEvent } from './chart';
import { now, sleep, type FromLoadgen, type Progress, type RunCommand, type RunRecords } from './common';
import { ServerProc, waitGone } from './servers';
import { carries, sampleMaster, summarizeSoak, taggedProcesses, untilNone, type SoakSample, type SoakSummary } from './soak';
import { median, round, summarize, timeSeries, type TargetStats } from './stats';
import { renderReport } from './table';

const ROOT = path.resolve(__dirname, '..');
const APP = path.join(__dirname, 'app.js');
const HOST = '127.0.0.1';

export interface Config {
  durationS: number;
  connections: number;
  workers: number;
  upgrades: number;
  reloads: number;
  keepAliveShare: number;
  delayMs: number;
  pairs: number;
  warmupS: number;
  maxRequests: number;
  requestTimeoutMs: number;
  json: boolean;
  outDir: string;
  /** The baton build under test. */
  dist: string;
}

const HELP = `usage: npm run bench -- [flags]

  --duration S         seconds of each measured steady run (default 3)
  --connections C      concurrent keep-alive connections / closed loops (default 16)
  --workers W          workers for baton and the bare cluster (default: one per core, ${os.availableParallelism()})
  --upgrades U         SIGUSR2 upgrades during the upgrade phase (default 3; 100 = soak)
  --reloads R          SIGHUP reloads during the upgrade phase (default 2)
  --keepalive-share F  share of requests sent on keep-alive connections, 0..1 (default 0.9);
                       the others each open a connection of their own
  --delay MS           simulated work per request, a timer in the handler (default 0)
  --pairs P            alternating bare/baton steady pairs (default 5; use at least 3)
  --warmup S           seconds of unmeasured warm-up per server (default 1)
  --max-requests N     cap on requests sent per load run (default 3000000)
  --request-timeout MS a request unanswered after this fails as ETIMEDOUT (default 10000)
  --out DIR            where <timestamp>.json and .svg go (default bench/results)
  --dist FILE          the baton build to run (default dist/index.js, built by npm run bench)
  --json               print the result JSON on stdout (the report goes to stderr)
`;

export function parseArgs(argv: string[]): Config {
  const c: Config = {
    durationS: 3,
    connections: 16,
    workers: os.availableParallelism(),
    upgrades: 3,
    reloads: 2,
    keepAliveShare: 0.9,
    delayMs: 0,
    pairs: 5,
    warmupS: 1,
    maxRequests: 3_000_000,
    requestTimeoutMs: 10_000,
    json: false,
    outDir: path.join(__dirname, 'results'),
    dist: path.join(ROOT, 'dist', 'index.js'),
  };
  const num = (flag: string, v: string | undefined, min: number, max: number, integer: boolean): number => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new Error(`${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}\n\n${HELP}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i] as string;
    let v: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const take = (): string | undefined => v ?? argv[++i];
    switch (a) {
      case '--duration': c.durationS = num(a, take(), 0.2, 3600, false); break;
      case '--connections': c.connections = num(a, take(), 1, 1000, true); break;
      case '--workers': c.workers = num(a, take(), 1, 64, true); break;
      case '--upgrades': c.upgrades = num(a, take(), 0, 10_000, true); break;
      case '--reloads': c.reloads = num(a, take(), 0, 10_000, true); break;
      case '--keepalive-share': c.keepAliveShare = num(a, take(), 0, 1, false); break;
      case '--delay': c.delayMs = num(a, take(), 0, 10_000, false); break;
      case '--pairs': c.pairs = num(a, take(), 1, 100, true); break;
      case '--warmup': c.warmupS = num(a, take(), 0, 600, false); break;
      case '--max-requests': c.maxRequests = num(a, take(), 1, 50_000_000, true); break;
      case '--request-timeout': c.requestTimeoutMs = num(a, take(), 100, 600_000, true); break;
      case '--out': {
        const d = take();
        if (!d) throw new Error(`--out needs a directory\n\n${HELP}`);
        c.outDir = path.resolve(d);
        break;
      }
      case '--dist': {
        const d = take();
        if (!d) throw new Error(`--dist needs a path\n\n${HELP}`);
        c.dist = path.resolve(d);
        break;
      }
      case '--json': c.json = true; break;
      case '--help': case '-h': process.stdout.write(HELP); process.exit(0); break;
      default: throw new Error(`unknown argument ${JSON.stringify(argv[i])}\n\n${HELP}`);
    }
  }
  return c;
}

// ---- the load generator ------------------------------------------------------------

class Loadgen {
  readonly proc: ChildProcess;
  progress: Progress = { type: 'progress', id: '', sent: 0, answered: 0, failed: 0, non2xx: 0 };
  private pending: { id: string; resolve: (r: RunRecords) => void; reject: (e: Error) => void } | undefined;
  private seq = 0;
  private readyP: Promise<void>;

  constructor() {
    this.proc = fork(path.join(__dirname, 'loadgen.ts'), [], {
      execArgv: ['-r', require.resolve('ts-node/register/transpile-only')],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.readyP = new Promise((resolve, reject) => {
      this.proc.once('message', () => resolve());
      this.proc.once('exit', (code) => reject(new Error(`the load generator exited with code ${code} before it was ready`)));
    });
    this.proc.on('message', (m: FromLoadgen) => {
      if (m.type === 'progress') this.progress = m;
      else if (m.type === 'result' && this.pending?.id === m.id) {
        this.progress = { type: 'progress', id: '', sent: 0, answered: 0, failed: 0, non2xx: 0 };
        const p = this.pending;
        this.pending = undefined;
        p.resolve(m);
      } else if (m.type === 'fatal') {
        const p = this.pending;
        this.pending = undefined;
        p?.reject(new Error(`load generator: ${m.message}`));
      }
    });
    this.proc.on('exit', (code, signal) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(new Error(`the load generator exited (${signal ?? `code ${code}`}) during a run`));
    });
  }

  ready(): Promise<void> {
    return this.readyP;
  }

  /** Starts a run; resolves with its records once sending stopped and requests settled. */
  run(c: Omit<RunCommand, 'type' | 'id'>): { id: string; done: Promise<RunRecords> } {
    if (this.pending) throw new Error('a load run is already in progress');
    const id = `run${++this.seq}`;
    const done = new Promise<RunRecords>((resolve, reject) => {
      this.pending = { id, resolve, reject };
    });
    this.progress = { type: 'progress', id, sent: 0, answered: 0, failed: 0, non2xx: 0 };
    this.proc.send({ type: 'run', id, ...c } satisfies RunCommand);
    return { id, done };
  }

  stop(id: string): void {
    if (this.proc.connected) this.proc.send({ type: 'stop', id });
  }

  close(): void {
    if (this.proc.connected) this.proc.disconnect();
    setTimeout(() => {
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    }, 1000).unref();
  }
}

// ---- progress line ----------------------------------------------------------------------

class ProgressLine {
  phase = 'starting';
  note = '';
  phaseStart = now();
  doneRequests = 0;
  doneErrors = 0;
  phaseDone = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tty = process.stderr.isTTY === true;
  private last = 0;

  constructor(private lg: () => Progress, private t0: number) {}

  start(): void {
    this.timer = setInterval(() => this.print(false), this.tty ? 250 : 1000);
  }

  set(phase: string, note = ''): void {
    this.print(true);
    this.phase = phase;
    this.note = note;
    this.phaseStart = now();
    this.phaseDone = 0;
  }

  /** Adds a finished load run to the running totals. */
  account(r: RunRecords): void {
    this.doneRequests += r.n;
    this.phaseDone += r.n;
    let bad = 0;
    for (let i = 0; i < r.n; i++) if (r.outcome[i] !== 1 || r.status[i] < 200 || r.status[i] > 299) bad++;
    this.doneErrors += bad;
  }

  line(): string {
    const p = this.lg();
    const t = ((now() - this.t0) / 1000).toFixed(1);
    const el = ((now() - this.phaseStart) / 1000).toFixed(1);
    return `[bench ${t}s] ${this.phase.padEnd(22)} ${el.padStart(6)}s  requests ${this.doneRequests + p.sent} (this phase ${this.phaseDone + p.sent})  errors ${this.doneErrors + p.failed + p.non2xx}${this.note ? `  ${this.note}` : ''}`;
  }

  print(force: boolean): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${this.line()}`);
    } else if (force || now() - this.last >= 2000) {
      this.last = now();
      process.stderr.write(`${this.line()}\n`);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) process.stderr.write(`\r\x1b[K${this.line()}\n`);
  }
}

// ---- events (upgrades and reloads) ------------------------------------------------------

export interface BenchEvent {
  kind: 'upgrade' | 'reload';
  /** 1-based, per kind. */
  index: number;
  /** ms from the start of the upgrade phase's load. */
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
  ok: boolean;
  reason?: string;
}

interface BatonState {
  master: number;
  generation: number;
  version: string;
}

function writeVersion(dir: string, version: string): void {
  const tmp = path.join(dir, `version.json.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify({ version }));
  fs.renameSync(tmp, path.join(dir, 'version.json'));
}

const SERVING_TIMEOUT = 70_000; // baton's readyTimeout (60 s) and some
const GONE_TIMEOUT = 45_000; // drainTimeout (30 s) + the kill grace (2 s) and some

async function doUpgrade(s: ServerProc, dir: string, st: BatonState, index: number, base: number): Promise<BenchEvent> {
  const toVersion = `u${index}`;
  const ev: BenchEvent = {
    kind: 'upgrade', index, signalAt: 0, servingAt: null, oldGoneAt: null, toServingMs: null, toOldGoneMs: null,
    firstNewResponseAt: null, lastOldResponseAt: null, fromVersion: st.version, toVersion, oldMaster: st.master,
    newMaster: null, oldGeneration: st.generation, newGeneration: null, ok: false,
  };
  writeVersion(dir, toVersion);
  const since = s.events.length;
  const old = st.master;
  const signalAt = now();
  process.kill(old, 'SIGUSR2');
  ev.signalAt = signalAt - base;
  try {
    const outcome = await s.waitFor(`upgrade ${index} outcome`, (e) => e.master === old && (e.ev === 'upgrade-succeeded' || e.ev === 'upgrade-failed'), since, SERVING_TIMEOUT);
    if (outcome.ev === 'upgrade-failed') {
      ev.reason = String(outcome.reason);
      return ev;
    }
    const pid = outcome.pid as number;
    ev.newMaster = pid;
    const serving = await s.waitFor(`master ${pid} serving`, (e) => e.master === pid && e.ev === 'serving', since, 5_000);
    ev.servingAt = serving.t - base;
    ev.newGeneration = serving.generation as number;
    const oldPids = [old, ...s.events.filter((e) => e.master === old && e.ev === 'worker-ready').map((e) => e.pid as number)];
    const gone = await waitGone(oldPids, GONE_TIMEOUT);
    if (gone === undefined) {
      ev.reason = `old master ${old} or its workers still running ${GONE_TIMEOUT} ms after the signal`;
    } else {
      ev.oldGoneAt = gone - base;
      ev.ok = true;
    }
    st.master = pid;
    st.generation = ev.newGeneration;
    st.version = toVersion;
  } catch (err) {
    ev.reason = (err as Error).message;
  }
  return ev;
}

async function doReload(s: ServerProc, dir: string, st: BatonState, index: number, base: number): Promise<BenchEvent> {
  const toVersion = `r${index}`;
  const ev: BenchEvent = {
    kind: 'reload', index, signalAt: 0, servingAt: null, oldGoneAt: null, toServingMs: null, toOldGoneMs: null,
    firstNewResponseAt: null, lastOldResponseAt: null, fromVersion: st.version, toVersion, oldMaster: st.master,
    newMaster: st.master, oldGeneration: st.generation, newGeneration: null, ok: false,
  };
  writeVersion(dir, toVersion);
  const since = s.events.length;
  const m = st.master;
  const oldGen = st.generation;
  const oldWorkers = s.workersOf(m, oldGen);
  const signalAt = now();
  process.kill(m, 'SIGHUP');
  ev.signalAt = signalAt - base;
  try {
    const outcome = await s.waitFor(`reload ${index} outcome`, (e) => e.master === m && (e.ev === 'reload-succeeded' || e.ev === 'reload-failed'), since, SERVING_TIMEOUT);
    if (outcome.ev === 'reload-failed') {
      ev.reason = String(outcome.reason);
      return ev;
    }
    ev.servingAt = outcome.t - base;
    ev.newGeneration = outcome.generation as number;
    st.generation = ev.newGeneration;
    st.version = toVersion;
    await s.waitFor(`generation ${oldGen} drained`, (e) => e.master === m && e.ev === 'generation-drained' && e.generation === oldGen, since, GONE_TIMEOUT);
    const gone = await waitGone(oldWorkers, 5_000);
    if (gone === undefined) ev.reason = `workers of generation ${oldGen} still running after it drained`;
    else {
      ev.oldGoneAt = gone - base;
      ev.ok = true;
    }
  } catch (err) {
    ev.reason = (err as Error).message;
  }
  return ev;
}

/** Fills the response-derived fields of the events from the records of the upgrade phase. */
function annotate(events: BenchEvent[], r: RunRecords, base: number): void {
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

// ---- the result ------------------------------------------------------------------------

export interface Goal {
  what: string;
  value: number | null;
  target: string;
  met: boolean;
  /** Counted in the exit status (a missed asserted goal makes it 1); the others are reported only. */
  asserted: boolean;
}

/** One request that did not get a complete 2xx response (the first 200 are listed). */
export interface Failure {
  run: string;
  /** ms from the start of its run to when it was sent. */
  sentAt: number;
  /** ms from sending to the error (null: still in flight at the end). */
  afterMs: number | null;
  what: string;
  keepAlive: boolean;
  /** Keep-alive: how long the reused socket had been idle before this request (null: a new socket). */
  socketIdleMs: number | null;
  /** Upgrade phase only: the last upgrade/reload signalled before it was sent, and how long before. */
  lastEvent?: string;
  sinceSignalMs?: number;
  sinceServingMs?: number;
}

export interface PairResult {
  bareRps: number;
  batonRps: number;
  ratio: number;
  bareP99: number;
  batonP99: number;
  p99Ratio: number;
}

export interface BenchResult {
  bench: 'baton';
  version: 1;
  startedAt: string;
  finishedAt: string;
  wallS: number;
  command: string;
  machine: { nproc: number; cpu: string; node: string; uname: string; loadavgStart: number[]; loadavgEnd: number[] };
  config: Omit<Config, 'json' | 'outDir' | 'dist'>;
  /** The baton build that ran. */
  dist: string;
  /** Requests that did not get a complete 2xx response, over every load run of the bench (warm-ups included). */
  failedRequests: number;
  /** The first 200 requests that did not get a complete 2xx response. */
  failures: Failure[];
  accounting: { requests: number; answered2xx: number; non2xx: number; errors: number; inflight: number };
  targets: { single: TargetStats; bare: TargetStats; batonSteady: TargetStats; batonUpgrades: TargetStats };
  /** Requests of the upgrade phase sent between an upgrade's (reload's) signal and its old generation gone. */
  windows: { duringUpgrades: TargetStats; duringReloads: TargetStats };
  warmups: Record<string, TargetStats>;
  ratios: {
    /** Steady throughput baton / bare cluster: the median of the per-pair ratios. */
    batonOverBare: number;
    /** The alternating pairs it comes from, and the spread of their ratios. */
    pairs: PairResult[];
    min: number;
    max: number;
    spread: number;
    /** Steady p99 baton / bare cluster, median of the pairs (lower is better for baton). */
    p99BatonOverBare: number;
    p99Min: number;
    p99Max: number;
  };
  boot: { bareIdleMs: number[]; bareIdleMedianMs: number; bareUnderLoadMs: number | null; batonColdMs: number };
  events: BenchEvent[];
  /** What the baton masters said during the upgrade phase (ms from its start). */
  timeline: Array<{ at: number; ev: string; master: number; pid?: number; generation?: number }>;
  eventSummary: { upgrades: { count: number; ok: number; toServingMedianMs: number | null; toServingMaxMs: number | null; toOldGoneMedianMs: number | null; toOldGoneMaxMs: number | null }; reloads: { count: number; ok: number; toServingMedianMs: number | null; toServingMaxMs: number | null; toOldGoneMedianMs: number | null; toOldGoneMaxMs: number | null } };
  goals: Goal[];
  /** The serving master after each upgrade and reload (fds, RSS), and the processes left behind. */
  soak: SoakSummary;
  series: ReturnType<typeof timeSeries>;
  serverStderr: string[];
  /** The same as soak.leftoverPids. */
  leftoverPids: number[];
  files: { json: string; svg: string };
  exitCode: number;
}

function eventStats(evs: BenchEvent[]): BenchResult['eventSummary']['upgrades'] {
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

function machine(): BenchResult['machine'] {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    uname: `${os.type()} ${os.hostname()} ${os.release()} ${os.version()} ${os.machine()}`,
    loadavgStart: os.loadavg().map((x) => round(x)),
    loadavgEnd: [],
  };
}

// ---- main ------------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<number> {
  const cfg = parseArgs(argv);
  if (!fs.existsSync(cfg.dist)) throw new Error(`${cfg.dist} is missing: run npm run build first`);
  const t0 = now();
  const startedAt = new Date();
  const mach = machine();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-bench-'));
  fs.copyFileSync(APP, path.join(dir, 'app.js'));
  writeVersion(dir, 'v0');
  const app = path.join(dir, 'app.js');
  const servers: ServerProc[] = [];
  const lg = new Loadgen();
  const progress = new ProgressLine(() => lg.progress, t0);
  const allRuns: RunRecords[] = [];
  const runLabel = new Map<RunRecords, string>();
  const log = (s: string): void => {
    process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${s}\n`);
  };

  // every process of every server carries BENCH_RUN (inherited by masters and workers), so that
  // processes the servers never named are found too (bench/soak.ts, taggedProcesses)
  const tagged = (expected?: Set<number>): number[] => taggedProcesses('BENCH_RUN', dir, expected);
  // a pid a server named that runs now and is still ours (not reused by another process)
  const ours = (pid: number): boolean => carries(pid, 'BENCH_RUN', dir);

  let interrupted = false;
  const emergency = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${sig}: killing every process the bench started\n`);
    for (const s of servers) s.killNow();
    for (const pid of tagged()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      lg.proc.kill('SIGKILL');
    } catch {
      // gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.on('SIGINT', emergency);
  process.on('SIGTERM', emergency);

  const env = (mode: string): Record<string, string> => ({
    BENCH_RUN: dir,
    BENCH_MODE: mode,
    BATON_DIST: cfg.dist,
    BENCH_WORKERS: String(cfg.workers),
    BENCH_DELAY: String(cfg.delayMs),
  });
  const startServer = async (name: string, mode: string): Promise<{ s: ServerProc; port: number; bootMs: number }> => {
    const s = new ServerProc(name, app, dir, env(mode));
    servers.push(s);
    const { port, serving } = await s.ready(SERVING_TIMEOUT);
    return { s, port, bootMs: round(serving.t - s.spawnedAt) };
  };
  const stopServer = async (s: ServerProc): Promise<void> => {
    const left = await s.kill();
    if (left.length > 0) log(`warning: ${s.name}: still running after SIGKILL: ${left.join(', ')}`);
  };
  const load = async (port: number, durationS: number): Promise<RunRecords> => {
    const run = lg.run(loadCommand(port, durationS * 1000));
    const r = await run.done;
    allRuns.push(r);
    runLabel.set(r, progress.phase);
    progress.account(r);
    return r;
  };
  const loadCommand = (port: number, durationMs: number): Omit<RunCommand, 'type' | 'id'> => ({
    host: HOST,
    port,
    durationMs,
    maxRequests: cfg.maxRequests,
    connections: cfg.connections,
    keepAliveShare: cfg.keepAliveShare,
    requestTimeoutMs: cfg.requestTimeoutMs,
    settleMs: cfg.requestTimeoutMs + 1000,
  });

  try {
    await lg.ready();
    progress.start();
    log(`baton bench: ${cfg.workers} worker(s), ${cfg.connections} connections, keep-alive share ${cfg.keepAliveShare}, delay ${cfg.delayMs} ms, `
      + `${cfg.durationS} s per phase, ${cfg.pairs} pairs, ${cfg.upgrades} upgrade(s), ${cfg.reloads} reload(s); ${mach.nproc} cores, node ${mach.node}`);

    // boot times, idle
    progress.set('boot');
    const bareIdle: number[] = [];
    for (let k = 0; k < 3; k++) {
      const b = await startServer(`bare-boot-${k + 1}`, 'cluster');
      bareIdle.push(b.bootMs);
      await stopServer(b.s);
    }
    const baton = await startServer('baton', 'baton');
    const bare = await startServer('bare', 'cluster');
    const single = await startServer('single', 'single');
    log(`boot: bare cluster idle ${bareIdle.join(', ')} ms; baton cold ${baton.bootMs} ms`);

    // single process
    const warmups: Record<string, TargetStats> = {};
    if (cfg.warmupS > 0) {
      progress.set('single warm-up');
      warmups.single = summarize([await load(single.port, cfg.warmupS)]);
    }
    progress.set('single');
    const singleRun = await load(single.port, cfg.durationS);
    await stopServer(single.s);

    // warm-ups, and a bare cluster booting while baton is under load
    if (cfg.warmupS > 0) {
      progress.set('bare warm-up');
      warmups.bare = summarize([await load(bare.port, cfg.warmupS)]);
    }
    progress.set('baton warm-up', '(+ bare boot under load)');
    const run = lg.run(loadCommand(baton.port, Math.max(cfg.warmupS * 1000, 60_000)));
    await sleep(Math.min(500, cfg.warmupS * 500 + 200));
    const probe = await startServer('bare-boot-under-load', 'cluster');
    const bareUnderLoad = probe.bootMs;
    await stopServer(probe.s);
    const warmStart = now();
    await sleep(Math.max(0, cfg.warmupS * 1000 - (warmStart - progress.phaseStart)));
    lg.stop(run.id);
    const warmBaton = await run.done;
    allRuns.push(warmBaton);
    runLabel.set(warmBaton, 'baton warm-up');
    progress.account(warmBaton);
    warmups.baton = summarize([warmBaton]);
    log(`boot: bare cluster under load ${bareUnderLoad} ms`);

    // alternating steady pairs
    const bareRuns: RunRecords[] = [];
    const batonRuns: RunRecords[] = [];
    const pairs: PairResult[] = [];
    for (let k = 1; k <= cfg.pairs; k++) {
      progress.set(`pair ${k}/${cfg.pairs}: bare`);
      const a = await load(bare.port, cfg.durationS);
      progress.set(`pair ${k}/${cfg.pairs}: baton`);
      const b = await load(baton.port, cfg.durationS);
      bareRuns.push(a);
      batonRuns.push(b);
      const sa = summarize([a]);
      const sb = summarize([b]);
      pairs.push({ bareRps: sa.rps, batonRps: sb.rps, ratio: round(sb.rps / sa.rps, 4), bareP99: sa.p99, batonP99: sb.p99, p99Ratio: round(sb.p99 / sa.p99, 4) });
      log(`pair ${k}: bare ${sa.rps}/s p99 ${sa.p99} ms, baton ${sb.rps}/s p99 ${sb.p99} ms, ratio ${round(sb.rps / sa.rps, 3)}`);
    }
    await stopServer(bare.s);

    // upgrades and reloads under load
    const total = cfg.upgrades + cfg.reloads;
    const schedule: Array<'upgrade' | 'reload'> = [];
    for (let k = 0; k < total; k++) {
      // the reloads spread evenly between the upgrades (Bresenham): U U R U R for 3 and 2
      schedule.push(Math.floor(((k + 1) * cfg.reloads) / total) > Math.floor((k * cfg.reloads) / total) ? 'reload' : 'upgrade');
    }
    const gap = Math.max(250, Math.min(1000, (cfg.durationS * 1000) / (total + 1)));
    const lead = Math.min(1000, cfg.durationS * 1000);
    progress.set('upgrades + reloads');
    const phaseBound = lead + total * (SERVING_TIMEOUT + GONE_TIMEOUT + gap) + cfg.durationS * 1000 + 5000;
    const upRun = lg.run(loadCommand(baton.port, phaseBound));
    const base = now();
    const st: BatonState = { master: baton.s.servingMasterPid(), generation: baton.s.servingGeneration(), version: 'v0' };
    const events: BenchEvent[] = [];
    const samples: SoakSample[] = [];
    await sleep(lead);
    let nu = 0;
    let nr = 0;
    for (const kind of schedule) {
      progress.note = `${kind} ${kind === 'upgrade' ? nu + 1 : nr + 1}/${kind === 'upgrade' ? cfg.upgrades : cfg.reloads}`;
      const ev = kind === 'upgrade' ? await doUpgrade(baton.s, dir, st, ++nu, base) : await doReload(baton.s, dir, st, ++nr, base);
      events.push(ev);
      if (!ev.ok) log(`${kind} ${ev.index} did not complete: ${ev.reason ?? 'unknown'}`);
      // the event has completed (new generation serving, old one gone): the serving master now,
      // during the pause before the next signal
      const pauseStart = now();
      samples.push(await sampleMaster(kind, ev.index, st.master, st.master === baton.s.pid, base));
      await sleep(Math.max(0, gap - (now() - pauseStart)));
    }
    progress.note = '';
    const rest = cfg.durationS * 1000 - (now() - base);
    if (rest > 0) await sleep(rest);
    lg.stop(upRun.id);
    const upgradesRun = await upRun.done;
    allRuns.push(upgradesRun);
    runLabel.set(upgradesRun, 'upgrades + reloads');
    progress.account(upgradesRun);
    progress.set('finishing');
    // before the stop, only the serving master and its serving generation's workers may run
    const expected = new Set([st.master, ...baton.s.workersOf(st.master, st.generation)]);
    const strays = await untilNone(() => [...new Set([...[...baton.s.pids].filter((p) => !expected.has(p) && ours(p)), ...tagged(expected)])], 2_000);
    if (strays.length > 0) log(`warning: still running besides the serving generation: ${strays.join(', ')}`);
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await stopServer(baton.s);
    progress.stop();

    // ---- figures
    annotate(events, upgradesRun, upgradesRun.startedAt);
    const inWindows = (kind: 'upgrade' | 'reload') => {
      const ws = events.filter((e) => e.kind === kind).map((e) => [upgradesRun.startedAt + e.signalAt, upgradesRun.startedAt + (e.oldGoneAt ?? (upgradesRun.stoppedAt - upgradesRun.startedAt))] as const);
      const dur = ws.reduce((a, [s, e]) => a + Math.max(0, e - s), 0) / 1000;
      const all = summarize([upgradesRun], (r, i) => {
        const t = r.sendAt[i] as number;
        return ws.some(([s, e]) => t >= s && t <= e);
      }, dur);
      // the longest stall within one window (not the time between two windows)
      all.maxGapMs = 0;
      all.maxGapAt = NaN;
      for (const [s, e] of ws) {
        const one = summarize([upgradesRun], (r, i) => (r.sendAt[i] as number) >= s && (r.sendAt[i] as number) <= e);
        if (one.maxGapMs > all.maxGapMs) {
          all.maxGapMs = one.maxGapMs;
          all.maxGapAt = one.maxGapAt;
        }
      }
      return all;
    };
    const targets = {
      single: summarize([singleRun]),
      bare: summarize(bareRuns),
      batonSteady: summarize(batonRuns),
      batonUpgrades: summarize([upgradesRun]),
    };
    const windows = { duringUpgrades: inWindows('upgrade'), duringReloads: inWindows('reload') };
    const ratios = pairs.map((p) => p.ratio);
    const p99r = pairs.map((p) => p.p99Ratio);
    const everything = summarize(allRuns);
    const failures: Failure[] = [];
    for (const r of allRuns) {
      for (let i = 0; i < r.n && failures.length < 200; i++) {
        const o = r.outcome[i];
        const st = r.status[i] as number;
        if (o === 1 && st >= 200 && st <= 299) continue;
        const sendAt = (r.sendAt[i] as number) - r.startedAt;
        const f: Failure = {
          run: runLabel.get(r) ?? '?',
          sentAt: round(sendAt),
          afterMs: o === 0 ? null : round(r.latency[i] as number),
          what: o === 0 ? 'in flight at the end' : o === 2 ? (r.errorCodes[r.error[i] as number] ?? '?') : `status ${st}`,
          keepAlive: r.keepAlive[i] === 1,
          socketIdleMs: Number.isNaN(r.socketIdle[i]) ? null : round(r.socketIdle[i] as number),
        };
        if (r === upgradesRun) {
          const before = events.filter((e) => e.signalAt <= sendAt);
          const last = before[before.length - 1];
          if (last) {
            f.lastEvent = `${last.kind} ${last.index}`;
            f.sinceSignalMs = round(sendAt - last.signalAt);
            if (last.servingAt !== null) f.sinceServingMs = round(sendAt - last.servingAt);
          }
        }
        failures.push(f);
      }
    }
    const failedRequests = everything.failed + everything.non2xx + everything.inflight;
    const up = events.filter((e) => e.kind === 'upgrade');
    const eventSummary = { upgrades: eventStats(up), reloads: eventStats(events.filter((e) => e.kind === 'reload')) };
    const bareIdleMedian = round(median(bareIdle));
    const steadyRatio = round(median(ratios), 4);
    const duringP99 = (up.length > 0 ? windows.duringUpgrades : windows.duringReloads).p99;
    const goals: Goal[] = [
      { what: 'failed requests (all phases)', value: failedRequests, target: '= 0', met: failedRequests === 0, asserted: true },
      { what: 'steady throughput baton / bare cluster (median of pairs)', value: steadyRatio, target: '>= 0.97', met: steadyRatio >= 0.97, asserted: false },
      {
        what: `p99 during ${up.length > 0 ? 'upgrades' : 'reloads'} / baton steady p99`,
        value: events.length ? round(duringP99 / targets.batonSteady.p99, 3) : null,
        target: '<= 2',
        met: events.length === 0 || duringP99 <= 2 * targets.batonSteady.p99,
        asserted: false,
      },
      {
        what: 'upgrade signal -> serving (median) / bare cluster boot under load',
        value: eventSummary.upgrades.toServingMedianMs !== null ? round(eventSummary.upgrades.toServingMedianMs / bareUnderLoad, 3) : null,
        target: '<= 1.5',
        met: eventSummary.upgrades.toServingMedianMs === null || eventSummary.upgrades.toServingMedianMs <= 1.5 * bareUnderLoad,
        asserted: false,
      },
      {
        what: 'upgrade signal -> serving (median) / bare cluster boot idle',
        value: eventSummary.upgrades.toServingMedianMs !== null ? round(eventSummary.upgrades.toServingMedianMs / bareIdleMedian, 3) : null,
        target: '<= 1.5',
        met: eventSummary.upgrades.toServingMedianMs === null || eventSummary.upgrades.toServingMedianMs <= 1.5 * bareIdleMedian,
        asserted: false,
      },
      { what: 'upgrades and reloads completed', value: events.filter((e) => e.ok).length, target: `= ${events.length}`, met: events.every((e) => e.ok), asserted: true },
    ];
    // after the stop (every server SIGKILLed by pid): nothing of any server may run
    const afterStop = [...new Set([...servers.flatMap((s) => [...s.pids].filter(ours)), ...tagged()])];
    const soak = summarizeSoak(samples, { beforeStop: strays, afterStop }, cfg.connections);
    for (const g of soak.goals) goals.push({ ...g, asserted: true });
    const exitCode = goals.some((g) => g.asserted && !g.met) ? 1 : 0;
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    fs.mkdirSync(cfg.outDir, { recursive: true });
    const files = { json: path.join(cfg.outDir, `${stamp}.json`), svg: path.join(cfg.outDir, `${stamp}.svg`) };
    mach.loadavgEnd = os.loadavg().map((x) => round(x));
    const { json: _json, outDir: _outDir, dist: _dist, ...config } = cfg;
    const series = timeSeries(upgradesRun);
    const result: BenchResult = {
      bench: 'baton',
      version: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      wallS: round((now() - t0) / 1000, 1),
      command: `npm run bench --${argv.length ? ` ${argv.join(' ')}` : ''}`,
      machine: mach,
      config,
      dist: cfg.dist,
      failedRequests,
      failures,
      accounting: { requests: everything.requests, answered2xx: everything.ok, non2xx: everything.non2xx, errors: everything.failed, inflight: everything.inflight },
      targets,
      windows,
      warmups,
      ratios: {
        batonOverBare: steadyRatio,
        pairs,
        min: round(Math.min(...ratios), 4),
        max: round(Math.max(...ratios), 4),
        spread: round(Math.max(...ratios) - Math.min(...ratios), 4),
        p99BatonOverBare: round(median(p99r), 4),
        p99Min: round(Math.min(...p99r), 4),
        p99Max: round(Math.max(...p99r), 4),
      },
      boot: { bareIdleMs: bareIdle, bareIdleMedianMs: bareIdleMedian, bareUnderLoadMs: bareUnderLoad, batonColdMs: baton.bootMs },
      events,
      timeline: baton.s.events.filter((e) => e.t >= upgradesRun.startedAt && e.t <= upgradesRun.frozenAt).map((e) => ({
        at: round(e.t - upgradesRun.startedAt),
        ev: e.ev,
        master: e.master,
        ...(typeof e.pid === 'number' ? { pid: e.pid } : {}),
        ...(typeof e.generation === 'number' ? { generation: e.generation } : {}),
      })),
      eventSummary,
      goals,
      soak: soak.summary,
      series,
      serverStderr: servers.flatMap((s) => s.warnings.map((w) => `${s.name}: ${w}`)).slice(0, 200),
      leftoverPids: soak.summary.leftoverPids,
      files,
      exitCode,
    };
    const chartEvents: ChartEvent[] = events.map((e) => ({
      kind: e.kind, index: e.index, signalAt: e.signalAt, servingAt: e.servingAt ?? undefined, oldGoneAt: e.oldGoneAt ?? undefined, ok: e.ok,
    }));
    const svg = renderChart({
      title: `baton under load: ${cfg.upgrades} upgrade(s) and ${cfg.reloads} reload(s), ${targets.batonUpgrades.requests} requests, ${targets.batonUpgrades.failed + targets.batonUpgrades.non2xx + targets.batonUpgrades.inflight} failed`,
      subtitle: `${cfg.workers} workers, ${cfg.connections} connections, keep-alive share ${cfg.keepAliveShare}, delay ${cfg.delayMs} ms; ${mach.nproc} cores, node ${mach.node}; ${result.startedAt}`,
      series,
      events: chartEvents,
      bareRps: targets.bare.rps,
      steadyP99: targets.batonSteady.p99,
    });
    fs.writeFileSync(files.json, JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(files.svg, svg);
    const report = renderReport(result);
    if (cfg.json) {
      process.stderr.write(report);
      process.stdout.write(JSON.stringify(result) + '\n');
    } else {
      process.stdout.write(report);
    }
    return exitCode;
  } finally {
    progress.stop();
    for (const s of servers) await s.kill();
    for (const pid of tagged()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    lg.close();
    fs.rmSync(dir, { recursive: true, force: true });
    process.removeListener('SIGINT', emergency);
    process.removeListener('SIGTERM', emergency);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (err: Error) => {
    process.stderr.write(`\nbench failed: ${err.stack ?? err.message}\n`);
    process.exitCode = 2;
  });
}
