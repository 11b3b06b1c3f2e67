// What `baton help`, `baton help CMD` and `baton CMD --help` print: each command's usage,
// what it waits for, its options, its exit codes and the environment it reads.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The version in baton's package.json (dist/ and lib/ both sit beside it). */
export function version(): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown }).version);
  } catch {
    return 'unknown';
  }
}

const ADDRESS = `  --pid-file FILE   the master's pid file (the listen() option pidFile); its control
                    socket is FILE.sock
  --socket PATH     the control socket (the listen() option controlSocket)
  --timeout MS      give up waiting after MS milliseconds (default 300000): exit 4
  --json            print the master's JSON lines on stdout as they come
  -h, --help        this text`;

const CLI_EXIT = `exit codes:
  0  done
  1  the master answered that it failed (the reason, with the new code's error, on stderr)
  2  usage error
  3  no master could be reached (not running, no control socket, or another user's)
  4  no outcome within --timeout (it may still complete: check baton status)`;

const CLI_ENV = `environment:
  BATON_PID_FILE    the default for --pid-file
  BATON_SOCKET      the default for --socket (wins over BATON_PID_FILE)`;

const SERVER_ENV = `  BATON_LOG_LEVEL   silent, error, warn, info or debug: overrides the listen() option
                    logLevel, and sets the supervisor's own level (default warn)
  BATON_LOG_FORMAT  text or json: overrides the listen() option logFormat, and sets the
                    supervisor's own format
  BATON_ACCEPT      workers or master: overrides the listen() option accept (who accepts
                    TCP connections)
  BATON_REQUEST_STATS  off: workers do not count their responses (no request metrics;
                    probation judges on crashes alone)`;

const OUTPUT = `Progress lines go to stderr, the result to stdout`;

/** The help of a command that talks to a master: `about` (what it does and prints), then its options. */
function masterCommand(usage: string, about: string, options = ''): string {
  return `usage: baton ${usage}\n\n${about}\n\noptions:\n${options}${ADDRESS}\n\n${CLI_EXIT}\n\n${CLI_ENV}\n`;
}

const WAIT_DRAIN = '  --wait-drain      also wait until the old generation has drained and is gone\n';

/** Each command's help, in the order `baton help` lists them. */
const TEXT = {
  upgrade: masterCommand('upgrade [--wait-drain] [--pid-file FILE | --socket PATH] [options]', `Starts a new master from the files on disk (new app code, new baton, new Node binary)
with the listening sockets, and waits until it serves and the old master no longer
accepts. A new master that fails (it exits, throws, or is not serving within
readyTimeout) is killed; the old one never stopped serving. One that serves worse than
the old one during probation (more 5xx, a slower p99: the listen() option probation) is
rolled back and drained; the reason, with the figures, is printed and the exit is 1.

${OUTPUT}: the new master's pid alone, so that
  NEW=$(baton upgrade --pid-file /run/app.pid)
gets it.`, WAIT_DRAIN),
  reload: masterCommand('reload [--wait-drain] [--pid-file FILE | --socket PATH] [options]', `Starts a new generation of workers with freshly loaded app code in the same master, and
waits until it serves. A generation whose worker throws or exits at start, or that is
not ready within readyTimeout, or that serves worse than the old one during probation
(more 5xx, a slower p99), is rolled back; the old one keeps serving, and the error the
new code threw, or the figures, are the reason printed.

${OUTPUT}: the new generation's number.`, WAIT_DRAIN),
  stop: masterCommand('stop [--pid-file FILE | --socket PATH] [options]', `Stops the server gracefully: it stops accepting, every generation drains (at most
drainTimeout), and the master exits. Waits until it is done.`),
  status: masterCommand('status [--json] [--pid-file FILE | --socket PATH] [options]', `Prints the master, its listeners, any upgrade in progress, and every generation with its
workers (state, connections, requests, RSS, uptime) on stdout; with --json, one JSON object.`),
  scale: masterCommand('scale N [--pid-file FILE | --socket PATH] [options]', `Sets the number of workers per generation to N (at least 1; also for later reloads and
upgrades) and waits until N workers of the serving generation are ready (scaling down:
until the extra ones drained).

${OUTPUT}: N.`),
  metrics: masterCommand('metrics [--pid-file FILE | --socket PATH] [options]', `Prints the master's metrics in the Prometheus text format (what GET /metrics serves with
the listen() option metrics), with or without that option.`),
  history: `usage: baton history [--json] [--pid-file FILE]

Prints the last 100 upgrades and reloads, oldest first: when, upgrade or reload, what
triggered it (signal, cli, api), the result (succeeded, rolled_back, failed), how long it
took, from and to (generation, release, Node), and why. Read from FILE.history, so it
works when no master runs. With --json, the records as stored, one JSON object a line.

options:
  --pid-file FILE   the master's pid file (the listen() option pidFile)
  --json            one JSON object per line
  -h, --help        this text

exit codes:
  0  printed (an empty history too)
  2  usage error

environment:
  BATON_PID_FILE    the default for --pid-file
`,
  run: `usage: baton run [--ready-timeout MS] [node options] app.js [app arguments]

Starts app.js under a supervisor with a stable pid, as if you had typed
\`node [node options] app.js [app arguments]\`: the supervisor holds the listening
sockets and starts every master (for containers, systemd Type=simple or notify units,
and shells, where the process that started the server must stay). SIGUSR2 or
baton upgrade to either the supervisor or the master upgrades; a master that dies is
restarted on the held sockets; SIGTERM, SIGINT and SIGQUIT stop everything gracefully.

options (before app.js; everything after it is the app's):
  --ready-timeout MS  how long the first master may take to call baton's listen()
                      (default 60000): then it is stopped and baton run exits 1
  -h, --help          this text

exit codes:
  0  every master stopped gracefully (SIGTERM, SIGINT, SIGQUIT, baton stop)
  1  the first master could not start, or did not call baton's listen() within
     --ready-timeout; or a second SIGTERM/SIGINT killed every master
  N  the first master exited with code N before it served
  2  usage error

environment:
${SERVER_ENV}
`,
  help: `usage: baton help [COMMAND]

Prints the list of commands, or what COMMAND does, its options, exit codes and
environment variables (also: baton COMMAND --help).
`,
};
export type Command = keyof typeof TEXT;
export const COMMANDS = Object.keys(TEXT) as Command[];

export function isCommand(s: string | undefined): s is Command {
  return (COMMANDS as string[]).includes(s ?? '');
}

export const USAGE = `usage: baton <command> [options]

commands:
  upgrade [--wait-drain]  start a new master from the files on disk; wait until it serves
                          (and, with --wait-drain, until the old generation is gone)
  reload [--wait-drain]   new workers with fresh app code in the same master
  stop                    graceful stop; waits for the drain
  status [--json]         generations, masters and workers
  scale N                 N workers per generation; waits until N are ready
  metrics                 the master's metrics, in the Prometheus text format
  history [--json]        the last 100 upgrades and reloads (read from FILE.history)
  run [node options] app.js [args]
                          start app.js under a supervisor with a stable pid that owns the
                          sockets and starts every master (containers, systemd, Ctrl-C)
  help [COMMAND]          what COMMAND does, its options, exit codes and environment

Every command but run talks to a running master over its control socket:
${ADDRESS}
  -v, --version     baton's version

${OUTPUT}.

${CLI_EXIT}

${CLI_ENV}
${SERVER_ENV}
`;

/** The help of one command, or the overview. */
export function helpText(command?: Command): string {
  return command === undefined ? USAGE : TEXT[command];
}
