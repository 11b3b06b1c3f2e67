// The `baton` command: talks to a running master over its control socket and waits
// for the outcome, so that a deploy script (or systemd's ExecReload=) knows whether an
// upgrade worked. Progress lines go to stderr and the result (a pid, a generation, a
// number, the status) to stdout, for `NEW=$(baton upgrade)`; the exit code says how it
// ended (EXIT). The commands, their options and exit codes are told in help.ts.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { onLines } from './log/lines';
import { userCwd, type StartContext } from './os/relaunch';
import { Supervisor, type SupervisorOptions } from './supervisor/supervisor';
import { helpText, isCommand, version, type Command } from './control/help';
import { formatHistory, historyPath, readHistory } from './observe/history';

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, timeout: 4 } as const;

export interface Args {
  command: Exclude<Command, 'run' | 'help'>;
  socket: string;
  /** --pid-file or $BATON_PID_FILE (`baton history` reads FILE.history). */
  pidFile?: string;
  waitDrain: boolean;
  json: boolean;
  timeout: number;
  workers?: number;
}

export class UsageError extends Error {
  constructor(message: string, readonly command?: Command) {
    super(message);
  }
}

/** `--help` / `-h`: the help of `command` (or the overview) was asked for. */
export class HelpRequest extends Error {
  constructor(readonly command?: Command) {
    super('help');
  }
}

const TAKES_VALUE = new Set(['--pid-file', '--socket', '--timeout']);

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Args {
  // the command: the first word that is not an option's value, known before any error (for its usage line)
  const named = argv.find((a, i) => !a.startsWith('-') && !TAKES_VALUE.has(argv[i - 1] ?? ''));
  const known = isCommand(named) ? named : undefined;
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequest(known);
  const usage = (message: string): UsageError => new UsageError(message, known);
  const rest = [...argv];
  let socket = env.BATON_SOCKET || (env.BATON_PID_FILE ? `${env.BATON_PID_FILE}.sock` : undefined);
  let pidFile = env.BATON_PID_FILE || undefined;
  let waitDrain = false;
  let json = false;
  let timeout = 300_000;
  const positional: string[] = [];
  while (rest.length > 0) {
    const a = rest.shift() as string;
    const value = (): string => {
      const v = rest.shift();
      if (v === undefined || v.startsWith('--')) throw usage(`${a} needs a value`);
      return v;
    };
    if (a === '--pid-file') {
      pidFile = value();
      socket = `${pidFile}.sock`;
    }
    else if (a === '--socket') socket = value();
    else if (a === '--wait-drain') waitDrain = true;
    else if (a === '--json') json = true;
    else if (a === '--timeout') {
      timeout = Number(value());
      if (!Number.isInteger(timeout) || timeout <= 0) throw usage('--timeout takes a positive number of milliseconds');
    } else if (a.startsWith('-')) throw usage(`unknown option ${a}`);
    else positional.push(a);
  }
  const command = positional.shift();
  if (command === undefined) throw usage('');
  if (!isCommand(command) || command === 'run' || command === 'help') throw usage(`unknown command "${command}": run baton help`);
  if (command === 'history' && pidFile === undefined) throw usage('say which server: --pid-file FILE (the history is FILE.history)');
  if (socket === undefined && command !== 'history') throw usage('say which server: --pid-file FILE or --socket PATH');
  let workers: number | undefined;
  if (command === 'scale') {
    workers = Number(positional.shift());
    if (!Number.isInteger(workers) || workers < 1) throw usage('scale takes a number of workers, at least 1: baton scale 4');
  }
  if (positional.length > 0) throw usage(`unexpected argument "${positional[0]}"`);
  return { command, socket: socket ?? '', pidFile, waitDrain, json, timeout, workers };
}

type Line = { done?: boolean; ok?: boolean; error?: string; event?: string; message?: string; [k: string]: unknown };

function fmtBytes(n: unknown): string {
  return typeof n === 'number' && n > 0 ? `${(n / 1048576).toFixed(1)} MiB` : '-';
}

function fmtAge(ms: unknown): string {
  if (typeof ms !== 'number') return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

/** The `baton status` table. */
export function statusTable(status: Record<string, unknown>): string {
  const m = status.master as Record<string, unknown>;
  const out = [`master ${m.pid}  generation ${m.generation}  ${m.state}  up ${fmtAge(m.uptime)}  workers ${m.workers}  rss ${fmtBytes(m.rss)}`];
  for (const l of (status.listeners as Array<Record<string, unknown>>) ?? []) out.push(`listener ${l.name}  ${l.address}`);
  const up = status.upgrade as Record<string, unknown> | null;
  if (up) out.push(`upgrade in progress: new master ${up.pid}`);
  const rows: string[][] = [['GEN', 'STATE', 'RESTARTS', 'WORKER', 'WORKER-STATE', 'CONNS', 'REQUESTS', 'RSS', 'UPTIME']];
  for (const g of (status.generations as Array<Record<string, unknown>>) ?? []) {
    const workers = (g.workers as Array<Record<string, unknown>>) ?? [];
    if (workers.length === 0) rows.push([String(g.id), String(g.state), String(g.restarts), '-', '-', '-', '-', '-', '-']);
    for (const w of workers) {
      rows.push([String(g.id), String(g.state), String(g.restarts), String(w.pid), String(w.state), String(w.connections), String(w.requests), fmtBytes(w.rss), fmtAge(w.uptime)]);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) out.push(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  return out.join('\n');
}

/** Sends one request and streams the answer; resolves with the exit code. */
export function run(args: Args, out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  const request: Record<string, unknown> = { cmd: args.command };
  if (args.command === 'upgrade' || args.command === 'reload') request.waitDrain = args.waitDrain;
  if (args.command === 'scale') request.workers = args.workers;
  if (args.command === 'history') {
    const records = readHistory(historyPath(path.resolve(args.pidFile as string)));
    out(args.json ? records.map((r) => `${JSON.stringify(r)}\n`).join('') : formatHistory(records));
    return Promise.resolve(EXIT.ok);
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (code: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(code);
    };
    const timer = setTimeout(() => {
      err(`baton: no answer within ${args.timeout} ms; the ${args.command} may still complete: check \`baton status\`\n`);
      finish(EXIT.timeout);
    }, args.timeout);
    const sock = net.connect(args.socket);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? 'no such socket: is the server running, with a pidFile or controlSocket?'
        : e.code === 'ECONNREFUSED' ? 'nobody listens there: the server is not running'
          : e.code === 'EACCES' ? 'permission denied: the control socket belongs to another user'
            : e.message;
      err(`baton: cannot reach the master at ${args.socket}: ${hint}\n`);
      finish(EXIT.unreachable);
    });
    onLines(sock, (raw) => {
      if (settled) return;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        return;
      }
      if (args.json) out(`${raw}\n`);
      if (!line.done) {
        if (!args.json && line.message) err(`baton: ${line.message}\n`);
        return;
      }
      if (!line.ok) {
        err(`baton: ${args.command} failed: ${line.error ?? 'unknown error'}\n`);
        finish(EXIT.failed);
        return;
      }
      if (!args.json) {
        // what was done on stderr, the result alone on stdout
        if (args.command === 'status') out(`${statusTable(line.status as Record<string, unknown>)}\n`);
        else if (args.command === 'metrics') out(String(line.text));
        else if (args.command === 'upgrade') {
          err(`baton: upgrade done: new master ${line.pid}\n`);
          out(`${line.pid}\n`);
        } else if (args.command === 'reload') {
          err(`baton: reload done: generation ${line.generation} serves\n`);
          out(`${line.generation}\n`);
        } else if (args.command === 'scale') {
          err(`baton: ${line.workers} worker(s) ready\n`);
          out(`${line.workers}\n`);
        } else err('baton: stopped\n');
      }
      finish(EXIT.ok);
    });
    sock.on('close', () => {
      if (!settled) {
        err(`baton: the master closed the connection before answering (it may have exited)\n`);
        finish(EXIT.failed);
      }
    });
  });
}

/**
 * `baton run [--ready-timeout MS] [node options] app.js [app args]`: the context the
 * supervisor restarts masters from, as if the user had typed `node [node options] app.js
 * [app args]`. Options before app.js that are baton's (and --help) are taken out; the
 * others are Node's.
 */
export function runArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { context: StartContext; options: SupervisorOptions } {
  const options: SupervisorOptions = {};
  const node: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) break;
    if (a === '--help' || a === '-h') throw new HelpRequest('run');
    const m = /^--ready-timeout(?:=(.*))?$/.exec(a);
    if (m) {
      const v = m[1] ?? argv[++i];
      const ms = Number(v);
      if (v === undefined || !Number.isInteger(ms) || ms <= 0) throw new UsageError('--ready-timeout takes a positive number of milliseconds', 'run');
      options.readyTimeout = ms;
    } else node.push(a);
  }
  if (i >= argv.length) throw new UsageError('run needs the app to start: baton run app.js [args]', 'run');
  const cwd = userCwd(env);
  const script = argv[i] as string;
  if (!fs.existsSync(path.resolve(cwd, script))) throw new UsageError(`run: no such file ${script}`, 'run');
  return {
    context: {
      argv0: 'node',
      execArgv: node,
      argv: ['node', path.resolve(cwd, script), ...argv.slice(i + 1)],
      cwd,
      typedScript: script,
    },
    options,
  };
}

/** Runs the `baton` command; sets process.exitCode. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const out = (s: string): boolean => process.stdout.write(s);
  const err = (s: string): boolean => process.stderr.write(s);
  const first = argv[0];
  try {
    if (first === '--version' || first === '-v') {
      out(`${version()}\n`);
      return;
    }
    if (first === 'help' || first === '--help' || first === '-h') {
      const topic = first === 'help' && (argv[1] === '--help' || argv[1] === '-h') ? 'help' : argv[1];
      if (topic !== undefined && !isCommand(topic)) throw new UsageError(`no command "${topic}"`);
      throw new HelpRequest(topic);
    }
    if (first === 'run') {
      const { context, options } = runArgs(argv.slice(1));
      new Supervisor(context, options).run();
      return;
    }
    process.exitCode = await run(parseArgs(argv));
  } catch (e) {
    if (e instanceof HelpRequest) {
      out(helpText(e.command));
      process.exitCode = EXIT.ok;
    } else if (e instanceof UsageError) {
      // the usage line, first of the command's help
      err(e.message ? `baton: ${e.message}\n${helpText(e.command).split('\n')[0]}\n(baton help${e.command && e.command !== 'help' ? ` ${e.command}` : ''} says more)\n` : helpText());
      process.exitCode = EXIT.usage;
    } else throw e;
  }
}
