// Errors a new master throws before it loads baton (a syntax error in the entry file, a
// module that throws while the app requires it) reach the old master's log and the
// `baton upgrade` output, not only the shared stderr.
//
// The old master writes a tiny preload into a private temporary directory and starts the
// new master with it in NODE_OPTIONS (`--require`). The preload puts the user's own
// NODE_OPTIONS back at once (so the workers and later masters never see it) and reports
// every uncaught exception over the hand-off channel.
//
// The directory (in os.tmpdir(), so $TMPDIR) is removed by whoever is first: the preload
// itself once it is loaded (it is not needed after that, and so nothing is left even when
// the old master is killed meanwhile), the old master when the upgrade ends either way,
// or the old master's exit.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ORIGINAL_NODE_OPTIONS = 'BATON_ORIGINAL_NODE_OPTIONS';
/** Set by the preload, so that baton does not report the same error twice. */
export const EARLY_MARK = Symbol.for('baton.early-errors');

const PRELOAD = `'use strict';
// written by baton for one upgrade: see lib/early.ts
{
  try {
    require('fs').rmSync(__dirname, { recursive: true, force: true });
  } catch {}
  const original = process.env.${ORIGINAL_NODE_OPTIONS};
  if (original !== undefined) {
    if (original === '') delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = original;
    delete process.env.${ORIGINAL_NODE_OPTIONS};
  }
  if (typeof process.send === 'function' && process.env.BATON_HANDOFF) {
    globalThis[Symbol.for('baton.early-errors')] = true;
    process.on('uncaughtExceptionMonitor', (err) => {
      try {
        process.send({ baton: 1, type: 'error', message: (err && err.stack) || String(err) });
      } catch {}
    });
  }
}
`;

export interface EarlyReporter {
  /** Environment entries for the new master. */
  env: Record<string, string>;
  /** Removes the preload (call when the upgrade has ended). */
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
export function earlyReporter(env: NodeJS.ProcessEnv = process.env): EarlyReporter | undefined {
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
    fs.writeFileSync(file, PRELOAD, { mode: 0o600 });
  } catch {
    removeDir(dir);
    return undefined;
  }
  if (/["\\\s]/.test(file)) {
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
