// envFile: the environment each new master and each new generation starts with, read from the
// file at each start, reload and upgrade (docs/options.md, "The environment: envFile"). The file is
// the truth for the variables it sets: the master remembers what each variable it overrode was
// before, for a variable the file no longer sets and for the next master (an upgrade).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import type { Logger } from '../log/log';

/** Variables over a process's environment; undefined removes the variable. */
export type EnvOverlay = Record<string, string | undefined>;

const MAX_BYTES = 1024 * 1024;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** Variables baton and Node's cluster set themselves: a file must not override them. */
const RESERVED = /^(BATON_|NODE_UNIQUE_ID$|NODE_CHANNEL_)/;

function shown(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

/**
 * Lines that are not `NAME=value` (util.parseEnv would skip them, or run them into the next
 * variable's name). Values in quotes may span lines. Returns the first problem, if any.
 */
export function lineProblem(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^\s*(?:export\s+)?([^=]*?)\s*=(.*)$/.exec(line);
    if (!m) return `line ${i + 1} is not NAME=value`;
    const name = m[1] as string;
    if (!NAME.test(name)) return `line ${i + 1}: ${shown(name)} is not a valid variable name (letters, digits, "_", "." and "-", not starting with a digit)`;
    const value = (m[2] as string).trimStart();
    const quote = value[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      if (value.indexOf(quote, 1) !== -1) continue;
      // a quoted value spanning lines: skip to the line that closes it (if none does, the
      // opening quote is part of a one-line value)
      for (let j = i + 1; j < lines.length; j++) {
        if ((lines[j] as string).includes(quote)) {
          i = j;
          break;
        }
      }
    }
  }
  return undefined;
}

/** Parses an env file's text; throws an Error saying what is wrong. resolveOptions() made sure util.parseEnv exists. */
export function parseEnvText(text: string): Record<string, string> {
  if (text.includes('\0')) throw new Error('it contains a NUL byte: not a text file');
  const problem = lineProblem(text);
  if (problem !== undefined) throw new Error(problem);
  const vars = (util as unknown as { parseEnv: (content: string) => Record<string, string> }).parseEnv(text);
  for (const name of Object.keys(vars)) {
    if (!NAME.test(name)) {
      throw new Error(`util.parseEnv reads a variable named ${shown(name)}, not a valid name: check the lines around it (on Node 20 a comment must start at the beginning of its line)`);
    }
    if (RESERVED.test(name)) {
      throw new Error(`it sets ${name}, which baton or Node's cluster sets itself; set it in the service's environment, not in envFile`);
    }
  }
  return vars;
}

/** Reads and parses an env file; throws an Error whose message says what is wrong. */
export function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new Error('it is a directory');
    if (st.size > MAX_BYTES) throw new Error(`it is larger than ${MAX_BYTES / 1024 / 1024} MiB (${st.size} bytes): not an env file?`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'it does not exist'
      : e.code === 'EACCES' ? `it is not readable by this user (uid ${process.getuid?.() ?? '?'})`
        : e.message;
    throw new Error(`envFile ${file}: ${why}`);
  }
  try {
    return parseEnvText(text);
  } catch (err) {
    throw new Error(`envFile ${file}: ${(err as Error).message}`);
  }
}

export class EnvFile {
  /** The file, absolute; undefined without the option. */
  readonly path: string | undefined;
  /** What each variable the file changed in this process was before (undefined: unset). */
  private readonly inherited = new Map<string, string | undefined>();
  /** The variables of the last read, to log what changed. */
  private last: Record<string, string> = {};

  /**
   * `file` as the option gave it; a relative path is resolved against `cwd`, the master's
   * working directory as the user named it (through symlinks: `current/.env` follows a
   * switched `current`).
   */
  constructor(private readonly file: string | undefined, private readonly cwd: string, private readonly log: Logger, private readonly env: NodeJS.ProcessEnv = process.env) {
    this.path = file === undefined ? undefined : path.resolve(cwd, file);
  }

  /** At master start: reads the file into this process's environment. Throws an Error that says what to do. */
  load(): void {
    if (this.path === undefined) return;
    let vars: Record<string, string>;
    try {
      vars = readEnvFile(this.path);
    } catch (err) {
      const where = path.isAbsolute(this.file as string) ? '' : ` (a relative path is resolved against ${this.cwd})`;
      throw new Error(`baton: ${(err as Error).message}. Fix the file or the envFile option${where}; nothing was started.`);
    }
    for (const [name, value] of Object.entries(vars)) {
      if (!this.inherited.has(name)) this.inherited.set(name, this.env[name]);
      this.env[name] = value;
    }
    this.last = vars;
    const names = Object.keys(vars);
    this.log.info('env-file', `${this.path}: ${names.length} variable(s)${names.length ? `: ${names.join(', ')}` : ''}`);
  }

  /**
   * For a new generation: reads the file again. The variables its workers get over this
   * master's environment: the file's, and the inherited value back for one the file no
   * longer sets. Throws an Error with the reason (the reload fails).
   */
  forGeneration(): EnvOverlay {
    if (this.path === undefined) return {};
    const vars = readEnvFile(this.path);
    const changed = Object.keys(vars).filter((k) => this.last[k] !== vars[k]);
    const removed = Object.keys(this.last).filter((k) => !(k in vars));
    this.last = vars;
    if (changed.length > 0 || removed.length > 0) {
      const what = [changed.length ? `changed: ${changed.join(', ')}` : '', removed.length ? `removed: ${removed.join(', ')}` : ''].filter(Boolean).join('; ');
      this.log.info('env-file', `${this.path}: ${Object.keys(vars).length} variable(s); ${what}`);
    }
    return { ...Object.fromEntries(this.inherited), ...vars };
  }

  /** The next master (upgrade) starts from the inherited environment and reads its own file. */
  forNextMaster(): EnvOverlay {
    return Object.fromEntries(this.inherited);
  }
}
