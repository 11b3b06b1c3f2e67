// How to start this program again, *as the user started it*, so that an upgrade picks up
// whatever the user's words point at now (a `node` symlink, a `current -> releases/42`
// directory): Node resolves them away, so baton keeps process.argv0, $PWD and the script path
// of /proc/self/cmdline (docs/architecture.md, "What the new master runs").
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What cluster workers run: the script (absolute), its arguments and working directory, through the user's symlinks. */
export interface WorkerExec {
  script: string;
  args: string[];
  cwd: string;
}

export interface Relaunch extends WorkerExec {
  /** The binary to spawn: argv0 looked up again at upgrade time. */
  command: string;
  /** argv[0] the new master sees (as the user typed it). */
  argv0: string;
  execArgv: string[];
}

function realpathOr(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

/** The working directory as the user gave it: $PWD when it still names process.cwd(). */
export function userCwd(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const pwd = env.PWD;
  if (pwd && path.isAbsolute(pwd) && realpathOr(pwd) === cwd) return pwd;
  return cwd;
}

/** The script argument as typed, read from /proc/self/cmdline when available. */
export function typedScript(cmdline: string[] | undefined, execArgv: string[], argv1: string, cwd: string): string {
  const typed = cmdline?.[1 + execArgv.length];
  if (typed !== undefined && typed !== '') {
    // Only trust it when it names the same file Node resolved.
    const a = realpathOr(path.resolve(cwd, typed));
    const b = realpathOr(argv1);
    if (a !== undefined && a === b) return typed;
  }
  return argv1;
}

export function readCmdline(): string[] | undefined {
  try {
    const raw = fs.readFileSync('/proc/self/cmdline', 'utf8');
    return raw.split('\0').slice(0, -1);
  } catch {
    return undefined;
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Finds `argv0` as a shell would now: a path relative to cwd, or a name on PATH. */
export function lookupBinary(argv0: string, cwd: string, env: NodeJS.ProcessEnv, fallback: string): string {
  if (argv0.includes('/')) {
    const p = path.resolve(cwd, argv0);
    return isExecutable(p) ? p : fallback;
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const p = path.join(path.resolve(cwd, dir), argv0);
    if (isExecutable(p)) return p;
  }
  return fallback;
}

/** Captured once at start-up, before the app could chdir(). */
export interface StartContext {
  argv0: string;
  execArgv: string[];
  argv: string[];
  cwd: string;
  typedScript: string;
}

export function captureStart(): StartContext {
  const cwd = userCwd();
  const argv1 = process.argv[1];
  if (argv1 === undefined) {
    throw new Error('baton: listen() must run from a script file (node app.js), not from -e or the REPL: upgrades re-run that file.');
  }
  return {
    argv0: process.argv0,
    execArgv: [...process.execArgv],
    argv: [...process.argv],
    cwd,
    typedScript: typedScript(readCmdline(), process.execArgv, argv1, process.cwd()),
  };
}

/** What workers run through the user's symlinks now, so that a reload loads the current release. */
export function workerExec(start: StartContext): WorkerExec {
  return { script: path.resolve(start.cwd, start.typedScript), args: start.argv.slice(2), cwd: start.cwd };
}

/** The command that starts the next master, resolved now. */
export function relaunch(start: StartContext, env: NodeJS.ProcessEnv = process.env): Relaunch {
  const command = lookupBinary(start.argv0, start.cwd, env, process.execPath);
  return { ...workerExec(start), command, argv0: start.argv0, execArgv: start.execArgv };
}

/**
 * The same with the symlinks resolved now: the release these workers load, still that one
 * after `current` is switched (undefined when the files are gone).
 */
export function pinnedExec(e: WorkerExec): WorkerExec | undefined {
  const script = realpathOr(e.script);
  const cwd = realpathOr(e.cwd);
  return script !== undefined && cwd !== undefined ? { script, args: e.args, cwd } : undefined;
}
