// Errors a new process throws before it loads baton (a syntax error in the entry file, a
// module that throws while the app requires it) reach the log and the `baton upgrade` /
// `baton reload` output, not only the shared stderr: for a new master (upgrade) and for
// the workers of a generation that is starting (reload, first start, take-back).
//
// The master writes a tiny preload into a private temporary directory and starts the
// process with it in NODE_OPTIONS (`--require`). The preload puts the user's own
// NODE_OPTIONS back at once (so the app, its children and later processes never see it)
// and reports every uncaught exception over the process's IPC channel. With
// `logFormat: 'json'` it also writes an uncaught error as one JSON record instead of
// Node's raw stack lines, until baton takes over (lib/os/fatal.ts). Each process gets a
// preload of its own.
//
// The directory (in os.tmpdir(), so $TMPDIR) is removed by whoever is first: the preload
// itself once it is loaded (it is not needed after that, and so nothing is left even when
// the master is killed meanwhile), the master when the upgrade or the generation's start
// ends either way, or the master's exit.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LogFormat } from '../config/options';
import type { Role } from '../log/log';
import { EARLY_FATAL } from '../os/fatal';

export const ORIGINAL_NODE_OPTIONS = 'BATON_ORIGINAL_NODE_OPTIONS';

/**
 * Reports each uncaught exception to the parent over IPC, once per process: a master spawned
 * by an upgrade to the old master (the reason the upgrade failed), a worker to its master (the
 * reason a reload failed, or a worker died). The preload runs this very function (its source
 * is written into it, so it names nothing from outside); lib/index.ts runs it when no preload did.
 */
export function reportUncaught(role: 'master' | 'worker'): void {
  const g = globalThis as Record<symbol, unknown>;
  const mark = Symbol.for('baton.early-errors');
  // BATON_HANDOFF is HANDOFF_ENV (lib/upgrade/handoff.ts) written out: the preload has no imports
  if (g[mark] || typeof process.send !== 'function' || (role === 'master' && !process.env.BATON_HANDOFF)) return;
  g[mark] = true;
  process.on('uncaughtExceptionMonitor', (err) => {
    try {
      process.send?.({ baton: 1, type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    } catch {
      // the parent is gone
    }
  });
}

/**
 * The JSON record lib/log/log.ts writes for an uncaught error, without baton loaded. The
 * handler is left under EARLY_FATAL's name, where lib/os/fatal.ts finds it to replace it.
 */
const JSON_FATAL = `
  const fatal = (err, origin) => {
    if (process.listenerCount('uncaughtException') > 1) return;
    const e = err instanceof Error ? { type: err.name, message: err.message, stack: err.stack } : { type: typeof err, message: String(err) };
    const what = origin === 'unhandledRejection' ? 'unhandled promise rejection' : 'uncaught exception';
    try {
      process.stderr.write(JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, hostname: require('os').hostname(),
        role: ROLE, generation: GENERATION, event: 'uncaught-exception', err: e, msg: what + ': ' + e.message }) + '\\n');
    } catch {}
    process.exit(1);
  };
  globalThis[Symbol.for('${EARLY_FATAL.description}')] = fatal;
  process.on('uncaughtException', fatal);`;

function preload(o: EarlyOptions): string {
  return `'use strict';
// written by baton: see lib/upgrade/early.ts
{
  try {
    require('fs').rmSync(__dirname, { recursive: true, force: true });
  } catch {}
  const ROLE = ${JSON.stringify(o.role)};
  const GENERATION = ${JSON.stringify(o.generation)};
  const original = process.env.${ORIGINAL_NODE_OPTIONS};
  if (original !== undefined) {
    if (original === '') delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = original;
    delete process.env.${ORIGINAL_NODE_OPTIONS};
  }
  // a cluster worker has no NODE_UNIQUE_ID any more: ROLE says what this process is
  (${reportUncaught})(ROLE);${o.format === 'json' ? JSON_FATAL : ''}
}
`;
}

export interface EarlyOptions {
  /** The process it goes into: a new master, or the workers of one generation. */
  role: Extract<Role, 'master' | 'worker'>;
  generation: number;
  format: LogFormat;
}

export interface EarlyReporter {
  /** Environment entries for the new process. */
  env: Record<string, string>;
  /** Removes the preload (call when the upgrade, or the generation's start, has ended). */
  remove(): void;
}

/** The preload directories of this process not removed yet: its exit removes them. */
const live = new Set<string>();

function removeDir(dir: string): void {
  live.delete(dir);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // not ours to worry about any more
  }
}

let exitHooked = false;

/** Prepares the preload; undefined when it cannot be written (the upgrade goes on without it). */
export function earlyReporter(o: EarlyOptions, env: NodeJS.ProcessEnv = process.env): EarlyReporter | undefined {
  // NODE_OPTIONS cannot carry a path with quotes, backslashes or spaces
  if (/["\\\s]/.test(os.tmpdir())) return undefined;
  let dir: string;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-early-'));
  } catch {
    return undefined;
  }
  live.add(dir);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const d of [...live]) removeDir(d);
    });
  }
  const file = path.join(dir, 'early.js');
  try {
    fs.writeFileSync(file, preload(o), { mode: 0o600 });
  } catch {
    removeDir(dir);
    return undefined;
  }
  const original = env.NODE_OPTIONS ?? '';
  return {
    env: {
      NODE_OPTIONS: `${original} --require=${file}`.trim(),
      [ORIGINAL_NODE_OPTIONS]: original,
    },
    remove: () => removeDir(dir),
  };
}

/**
 * Preloads for the workers a generation forks while it starts, one per worker (each removes
 * its own once loaded); `removeAll()` when the start has ended, for those never loaded.
 * `env` is the workers' environment (the master's with the generation's envFile), whose
 * NODE_OPTIONS the preload puts back.
 */
export function workerPreloads(o: Omit<EarlyOptions, 'role'>, env: () => NodeJS.ProcessEnv): { env(): Record<string, string>; removeAll(): void } {
  const made = new Set<EarlyReporter>();
  return {
    env: () => {
      const r = earlyReporter({ ...o, role: 'worker' }, env());
      if (r === undefined) return {};
      made.add(r);
      return r.env;
    },
    removeAll: () => {
      for (const r of made) r.remove();
      made.clear();
    },
  };
}
