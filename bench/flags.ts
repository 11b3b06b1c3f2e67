// The bench's command line: every flag, its default and its bounds. Bad input is refused
// with what was wrong and the usage, before any process is started.
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_LOADS, LOAD_NAMES, loadSpec, MODES, parseList, TARGET_NAMES, type LoadName, type Mode, type TargetName } from './loads';

const ROOT = path.resolve(__dirname, '..');

export interface Config {
  durationS: number;
  connections: number;
  /** The worker counts of the matrix (each target with workers runs at each). */
  workersSet: number[];
  /** Workers of the upgrade phase and the boot measurements: the core count if in workersSet, else its first. */
  workers: number;
  loads: LoadName[];
  targets: TargetName[];
  upgrades: number;
  reloads: number;
  /** Of the `share` load (the bench's older per-request mix). */
  keepAliveShare: number;
  delayMs: number;
  /** Rounds of the matrix: each (workers, load) runs its targets in turn this many times. */
  pairs: number;
  warmupS: number;
  maxRequests: number;
  requestTimeoutMs: number;
  json: boolean;
  /** Throughput and balance goals count in the exit status (correctness goals always do). */
  assertGoals: boolean;
  /** The steady matrix's load generator: wrk (the price per core, bench/price.ts) or the bench's own Node client (bench/steady.ts). */
  client: 'auto' | 'wrk' | 'node';
  /** The price-per-core matrix's modes, seconds per wrk run, rounds. */
  modes: Mode[];
  priceDurationS: number;
  priceRounds: number;
  outDir: string;
  /** The baton build under test. */
  dist: string;
}

const CORES = os.availableParallelism();

export const HELP = `usage: npm run bench -- [flags]

  --client C           the steady matrix's load generator: wrk, node or auto (default auto: wrk when
                       installed, else the bench's own Node client, said in the report)
  --modes LIST         of interleaved, paired: the price-per-core matrix's modes (default both)
  --price-duration S   whole seconds of each wrk run of the price-per-core matrix (default 2; its
                       warm-ups last --warmup s rounded, at least 1)
  --price-rounds R     rounds of each mode of the price-per-core matrix (default 4)
  --assert-goals       missed throughput and balance goals make the exit status 1 (without it, only
                       correctness does: failed requests, leaks, processes left, events not completed)
  --duration S         seconds of each measured steady run of the Node client (default 3)
  --connections C      concurrent closed loops (default 16); mixed = C-2 keep-alive + 2 fresh-connection loops
  --loads LIST         of keep-alive, mixed, fresh, share (default keep-alive,mixed,fresh; share is added
                       when --keepalive-share is given)
  --targets LIST       of single, cluster, cluster-none, baton, baton-uncounted (default all; baton-uncounted:
                       baton with its per-response counting off, to show what the metrics cost)
  --workers-set LIST   worker counts of the matrix (default ${CORES},${2 * CORES}: cores and 2 x cores)
  --workers W          one worker count (the same as --workers-set W)
  --pairs P            rounds of each (workers, load): the targets in turn, P times (default 3; --rounds too)
  --upgrades U         SIGUSR2 upgrades in the upgrade phase, spread over the loads (default 3; 100 = soak)
  --reloads R          SIGHUP reloads in the upgrade phase, spread over the loads (default 3)
  --keepalive-share F  the share load: share of requests on keep-alive connections, 0..1 (default 0.9)
  --delay MS           simulated work per request, a timer in the handler (default 0)
  --warmup S           seconds of unmeasured warm-up per server and load (default 1)
  --max-requests N     cap on requests sent per load run (default 3000000)
  --request-timeout MS a request unanswered after this fails as ETIMEDOUT (default 10000)
  --out DIR            where <timestamp>.json and .svg go (default bench/results)
  --dist FILE          the baton build to run (default dist/index.js, built by npm run bench)
  --json               print the result JSON on stdout (the report goes to stderr)
`;

function fail(message: string): never {
  throw new Error(`${message}\n\n${HELP}`);
}

function num(flag: string, v: string | undefined, min: number, max: number, integer: boolean): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    fail(`${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }
  return n;
}

function list<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T[] {
  try {
    return parseList(flag, v, allowed);
  } catch (err) {
    return fail((err as Error).message);
  }
}

function workerList(flag: string, v: string | undefined): number[] {
  const items = (v ?? '').split(',').filter((s) => s.trim() !== '');
  if (items.length === 0) fail(`${flag} needs a comma-separated list of worker counts, e.g. 2,4`);
  const out = items.map((s) => num(flag, s.trim(), 1, 64, true));
  if (new Set(out).size !== out.length) fail(`${flag}: a worker count is named twice in ${JSON.stringify(v)}`);
  return out;
}

export function parseArgs(argv: string[]): Config {
  const c: Config = {
    durationS: 3,
    connections: 16,
    workersSet: [CORES, 2 * CORES],
    workers: CORES,
    loads: [...DEFAULT_LOADS],
    targets: [...TARGET_NAMES],
    upgrades: 3,
    reloads: 3,
    keepAliveShare: 0.9,
    delayMs: 0,
    pairs: 3,
    warmupS: 1,
    maxRequests: 3_000_000,
    requestTimeoutMs: 10_000,
    json: false,
    assertGoals: false,
    client: 'auto',
    modes: [...MODES],
    priceDurationS: 2,
    priceRounds: 4,
    outDir: path.join(__dirname, 'results'),
    dist: path.join(ROOT, 'dist', 'index.js'),
  };
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i] as string;
    let v: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const take = (): string | undefined => v ?? argv[++i];
    given.add(a === '--rounds' ? '--pairs' : a);
    switch (a) {
      case '--duration': c.durationS = num(a, take(), 0.2, 3600, false); break;
      case '--connections': c.connections = num(a, take(), 1, 1000, true); break;
      case '--workers': c.workersSet = [num(a, take(), 1, 64, true)]; break;
      case '--workers-set': c.workersSet = workerList(a, take()); break;
      case '--loads': c.loads = list(a, take(), LOAD_NAMES); break;
      case '--targets': c.targets = list(a, take(), TARGET_NAMES); break;
      case '--upgrades': c.upgrades = num(a, take(), 0, 10_000, true); break;
      case '--reloads': c.reloads = num(a, take(), 0, 10_000, true); break;
      case '--keepalive-share': c.keepAliveShare = num(a, take(), 0, 1, false); break;
      case '--delay': c.delayMs = num(a, take(), 0, 10_000, false); break;
      case '--pairs': case '--rounds': c.pairs = num(a, take(), 1, 100, true); break;
      case '--warmup': c.warmupS = num(a, take(), 0, 600, false); break;
      case '--max-requests': c.maxRequests = num(a, take(), 1, 50_000_000, true); break;
      case '--request-timeout': c.requestTimeoutMs = num(a, take(), 100, 600_000, true); break;
      case '--out': {
        const d = take();
        if (!d) fail('--out needs a directory');
        c.outDir = path.resolve(d);
        break;
      }
      case '--dist': {
        const d = take();
        if (!d) fail('--dist needs a path');
        c.dist = path.resolve(d);
        break;
      }
      case '--json': c.json = true; break;
      case '--assert-goals': c.assertGoals = true; break;
      case '--client': {
        const d = take();
        if (d !== 'auto' && d !== 'wrk' && d !== 'node') fail(`--client must be wrk, node or auto, got ${JSON.stringify(d ?? '')}`);
        c.client = d;
        break;
      }
      case '--modes': c.modes = list(a, take(), MODES); break;
      case '--price-duration': c.priceDurationS = num(a, take(), 1, 600, true); break;
      case '--price-rounds': c.priceRounds = num(a, take(), 1, 100, true); break;
      case '--help': case '-h': process.stdout.write(HELP); process.exit(0); break;
      default: fail(`unknown argument ${JSON.stringify(argv[i])}`);
    }
  }
  if (given.has('--workers') && given.has('--workers-set')) fail('give --workers or --workers-set, not both');
  if (given.has('--keepalive-share') && !given.has('--loads') && !c.loads.includes('share')) c.loads.push('share');
  try {
    for (const l of c.loads) loadSpec(l, c.connections, c.keepAliveShare);
  } catch (err) {
    fail((err as Error).message);
  }
  c.workers = c.workersSet.includes(CORES) ? CORES : (c.workersSet[0] as number);
  return c;
}
