// Integration-test harness: real processes, real sockets, real signals.
// Every process a test starts is remembered by pid and killed in afterEach, even when
// the test failed. Waits are conditions with deadlines (./wait.ts), never bare sleeps.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
export { isRunning as running } from '../../lib/os/proctree';
import { onLines } from '../../lib/log/lines';
import { request } from './http-client';
import { waitFor } from './wait';

export const DIST = path.resolve(__dirname, '../../dist/index.js');
const FIXTURE = path.resolve(__dirname, '../fixtures/app.js');
/** The multi-listener fixture (spec/integration/listeners.spec.ts). */
export const MULTI_FIXTURE = path.resolve(__dirname, '../fixtures/multi.js');
/**
 * The beforeExit and envFile fixture (spec/integration/exit-hooks.spec.ts,
 * spec/integration/envfile.spec.ts).
 */
export const LIFE_FIXTURE = path.resolve(__dirname, '../fixtures/life.js');

export interface Release {
  version: string;
  mode?: 'ok' | 'throw' | 'never-ready' | 'worker-throws' | 'crash-after-ready' | 'leak-after-ready'
    // the release's first master waits for `cue`, then throws (never calling listen())
    | 'throw-on-cue'
    // framework mistakes (spec/integration/mistakes.spec.ts)
    | 'factory-listens' | 'fastify-listens' | 'fastify-listens-later' | 'fastify-not-ready';
  /** The port a 'fastify-listens' release listens on itself. */
  port?: number;
  /** A file: the release's start waits until it exists (its workers; with 'throw-on-cue', its first master). */
  cue?: string;
  /** That many of every 10 requests answer 500. */
  errors?: number;
  /** Every answer waits that long (ms). */
  slowMs?: number;
  /** Each worker connects a pool (that long, ms) on its first request; every request waits for it. */
  poolMs?: number;
  /** With a pool: every answer then waits that long (ms), a query. */
  queryMs?: number;
}

export interface Event {
  ev: string;
  master: number;
  [k: string]: unknown;
}

/**
 * A temporary app directory holding a copy of the fixture and its release.json, and `tmp`:
 * the TMPDIR of every process a Server starts in it, so that what one test's processes leave
 * in their temp directory is theirs alone (not another baton's on the same machine).
 */
export class AppDir {
  readonly dir: string;
  readonly tmp: string;
  constructor(fixture: string = FIXTURE) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-spec-'));
    this.tmp = path.join(this.dir, 'tmp');
    fs.mkdirSync(this.tmp);
    fs.chmodSync(this.tmp, 0o1777); // as /tmp: tests may run the app as another user
    fs.copyFileSync(fixture, this.app);
  }
  get app(): string {
    return path.join(this.dir, 'app.js');
  }
  file(name: string): string {
    return path.join(this.dir, name);
  }
  release(r: Release): void {
    fs.writeFileSync(this.file('release.json'), JSON.stringify({ mode: 'ok', ...r }));
  }
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The processes of one baton server under test, seen through the fixture's event lines. */
export class Server {
  readonly events: Event[] = [];
  readonly pids = new Set<number>();
  stderr = '';
  readonly proc: ChildProcess;
  exitCode: number | null | undefined;

  /**
   * Starts `node app.js` in the app directory, or as `how` says: another command (a
   * `node` found on PATH), script argument as typed, and working directory (whose
   * symlinked name is passed in $PWD, as a shell does).
   */
  constructor(
    readonly appDir: AppDir,
    env: Record<string, string> = {},
    how: { command?: string; script?: string; args?: string[]; cwd?: string; ownGroup?: boolean; fds?: Array<number | 'ignore'>; uid?: number; gid?: number } = {},
  ) {
    const cwd = how.cwd ?? appDir.dir;
    // `args` replaces the script argument (e.g. `sh -c '...'`); `fds` land at fd 3, 4, ...
    this.proc = spawn(how.command ?? process.execPath, how.args ?? [how.script ?? appDir.app], {
      cwd,
      env: { ...process.env, BATON_DIST: DIST, PWD: cwd, TMPDIR: appDir.tmp, ...env },
      stdio: ['ignore', 'pipe', 'pipe', ...(how.fds ?? [])],
      detached: how.ownGroup === true, // its own process group, as a shell job has
      ...(how.uid !== undefined ? { uid: how.uid, gid: how.gid } : {}),
    });
    this.pids.add(this.proc.pid as number);
    if (this.proc.stdout) {
      onLines(this.proc.stdout, (line) => {
        try {
          const e = JSON.parse(line) as Event;
          this.events.push(e);
          for (const p of [e.master, e.pid, e.worker]) if (typeof p === 'number' && p > 0) this.pids.add(p);
        } catch {
          // not an event line
        }
      });
    }
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.proc.on('exit', (code) => {
      this.exitCode = code;
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  count(ev: string): number {
    return this.events.filter((e) => e.ev === ev).length;
  }

  async waitEvent(ev: string, n = 1, timeoutMs = 10_000, match: (e: Event) => boolean = () => true): Promise<Event> {
    // stderr as it is when the wait times out (what happened meanwhile is the story)
    return waitFor(() => `event ${ev} #${n}\n--- stderr ---\n${this.stderr.slice(-3000)}`, () => {
      const all = this.events.filter((e) => e.ev === ev && match(e));
      return all.length >= n ? all[n - 1] : undefined;
    }, timeoutMs);
  }

  /** The master currently serving: the last one that announced 'serving'. */
  servingMaster(): number {
    const s = this.events.filter((e) => e.ev === 'serving');
    return (s[s.length - 1] as Event).master;
  }

  async port(): Promise<number> {
    const e = await this.waitEvent('listening');
    return e.port as number;
  }

  /** Kills every process this server ever had, by pid. */
  kill(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

export interface LoadStats {
  sent: number;
  ok: number;
  errors: string[];
  non2xx: number;
  versions: Map<string, number>;
}

/**
 * Keep-alive and non-keep-alive clients in a loop until stop() (bounded by maxMs and
 * maxRequests). Every request is accounted for: answered 2xx, answered otherwise, or failed.
 */
export class Load {
  readonly stats: LoadStats = { sent: 0, ok: 0, errors: [], non2xx: 0, versions: new Map() };
  private stopped = false;
  private loops: Promise<void>[] = [];
  private agent: http.Agent;
  private started = Date.now();

  constructor(private target: { port?: number; socketPath?: string }, opts: { keepAlive?: number; fresh?: number; maxMs?: number; maxRequests?: number } = {}) {
    const keepAlive = opts.keepAlive ?? 4;
    const fresh = opts.fresh ?? 2;
    const maxMs = opts.maxMs ?? 60_000;
    const maxRequests = opts.maxRequests ?? 200_000;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: keepAlive });
    const loop = async (agent: http.Agent | undefined): Promise<void> => {
      while (!this.stopped && Date.now() - this.started < maxMs && this.stats.sent < maxRequests) {
        this.stats.sent++;
        try {
          const r = await request(this.target, '/', { agent });
          if (r.status >= 200 && r.status < 300) this.stats.ok++;
          else this.stats.non2xx++;
          const v = String(r.json?.version ?? '?');
          this.stats.versions.set(v, (this.stats.versions.get(v) ?? 0) + 1);
        } catch (err) {
          this.stats.errors.push(`${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`);
        }
      }
    };
    for (let i = 0; i < keepAlive; i++) this.loops.push(loop(this.agent));
    for (let i = 0; i < fresh; i++) this.loops.push(loop(undefined));
  }

  /** Waits until `n` more requests were answered. */
  async progress(n: number, timeoutMs = 10_000): Promise<void> {
    const target = this.stats.ok + this.stats.non2xx + n;
    await waitFor(`${n} more responses`, () => this.stats.ok + this.stats.non2xx >= target, timeoutMs);
  }

  async stop(): Promise<LoadStats> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.stats;
  }
}

/**
 * The per-test fixture of an integration suite: a fresh app directory (release v0, and its
 * own TMPDIR) before each test; after it, every process of `t.server` killed by pid and the
 * directory removed.
 */
export function perTest(fixture?: string): { dir: AppDir; server: Server | undefined } {
  const t = { server: undefined } as { dir: AppDir; server: Server | undefined };
  beforeEach(() => {
    t.dir = new AppDir(fixture);
    t.dir.release({ version: 'v0' });
    t.server = undefined;
  });
  afterEach(() => {
    t.server?.kill();
    t.server = undefined;
    t.dir.remove();
  });
  return t;
}

/**
 * Whether the built package can be loaded by the unprivileged user 65534 (nobody): only root
 * can start processes as another user, and a checkout in a private directory (mode 0700) is
 * unreadable to them. Tests that run baton as another user skip otherwise.
 */
export function nobodyCanLoadBaton(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(DIST)}); require(${JSON.stringify(path.resolve(__dirname, '../../dist/cli.js'))})`], {
    uid: 65534, gid: 65534, stdio: 'ignore', timeout: 10_000,
  });
  return r.status === 0;
}
