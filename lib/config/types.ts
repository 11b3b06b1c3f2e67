// The options of listen() and the listeners option, as the user writes them (ListenOptions)
// and as baton uses them once checked (ResolvedOptions). Every default is in options.ts
// and docs/options.md.
import type { RequestListener } from 'node:http';
import type { Server } from 'node:net';
import type { ExternalLogger, LogFormat, LogLevel } from '../log/log';
import type { CanaryPolicy, EndpointOption } from './observe';

export type { LogFormat, LogLevel } from '../log/log';
export type AcceptMode = 'workers' | 'master';

export interface ListenOptions {
  /**
   * TCP port (0 picks a free one, kept across upgrades). Default 8080 unless `path` is set.
   * A string of digits is read as a number: `port: process.env.PORT` works.
   */
  port?: number | string;
  /** Address to bind. Default: every interface, as Node does. */
  host?: string;
  /** UNIX socket path, instead of port/host. */
  path?: string;
  /**
   * Several named sockets instead of port/host/path, e.g.
   * `[{ name: 'web', port: 8080 }, { name: 'admin', path: '/run/app/admin.sock', mode: 0o660 }]`.
   * An entry may carry its own `handler` or `createServer`; otherwise the second argument of
   * listen() serves it.
   */
  listeners?: ListenerOption[];
  /** Worker processes per generation. Default os.availableParallelism(). */
  workers?: number;
  /** ms a draining generation may take before its connections are closed and its workers killed. */
  drainTimeout?: number;
  /** ms a new generation (reload or upgrade) may take to become ready before it is rolled back. */
  readyTimeout?: number;
  /** File that names the serving master's pid; `<pidFile>.oldbin` names the old one during an upgrade. */
  pidFile?: string;
  /** When true a worker is ready only once the app calls `ready()` on the object listen() returned. */
  manualReady?: boolean;
  /** ms an idle keep-alive socket of a draining worker is left open in case a request is on the wire. */
  keepAliveGrace?: number;
  /**
   * When a worker drains and the app has no `drain` handler, baton sends each WebSocket the app
   * took over a Close frame 1001 "going away" (clients reconnect to the new code). Default true.
   */
  closeWebSockets?: boolean;
  /** Listen backlog of the sockets baton binds. */
  backlog?: number;
  /**
   * Who accepts TCP connections: 'workers' (default; each worker accepts on a duplicate of the
   * socket, kept fair by the master) or 'master' (the master accepts and hands each connection
   * to a worker, as cluster's round robin does). UNIX sockets are always accepted by the master.
   * Env BATON_ACCEPT overrides.
   */
  accept?: AcceptMode;
  /** Which log lines are printed (to stderr). Default 'warn'; env BATON_LOG_LEVEL overrides. */
  logLevel?: LogLevel;
  /** 'text' (default) or 'json', one line per event; env BATON_LOG_FORMAT overrides. */
  logFormat?: LogFormat;
  /**
   * The app's logger (pino, bunyan, console, ...): baton calls `logger.info(fields, message)`
   * (error, warn, info, debug) instead of printing its own lines. Create it in every process:
   * the same file runs in the master and in each worker.
   */
  logger?: ExternalLogger;
  /** ms without a heartbeat after which a serving worker is deemed hung and replaced; 0 disables. */
  workerTimeout?: number;
  /** RSS above which a worker is recycled (replacement first, then drain): bytes, or '512M', '1G'; 0 disables. */
  maxMemory?: number | string;
  /** Requests after which a worker is recycled; 0 disables. */
  maxRequests?: number;
  /** Control socket for the `baton` CLI: a path, or false for none. Default `<pidFile>.sock` when pidFile is set. */
  controlSocket?: string | false;
  /**
   * ms a new generation (reload, upgrade) serves on probation beside the old one, rolled back if it
   * crashes or serves worse (more 5xx, a slower p99); 0 disables. Or `{ ms, maxErrorRate,
   * maxLatencyRatio, minRequests, warmup }` (defaults 3000, 0.05, 3, 20, a third of ms): docs/options.md.
   */
  probation?: number | { ms?: number; maxErrorRate?: number; maxLatencyRatio?: number; minRequests?: number; warmup?: number };
  /** The master serves `GET /metrics` (Prometheus text) here, on its own listener: `{ port, host? }` or `{ path }`. */
  metrics?: { port: number | string; host?: string } | { path: string } | false;
  /** The master serves `GET /livez` and `GET /readyz` here: `{ port, host? }` or `{ path }`. */
  health?: { port: number | string; host?: string } | { path: string } | false;
  /** ms between a stop and the drain: /readyz answers 503 while the server keeps serving. Default 0. */
  shutdownDelay?: number;
  /**
   * ms the beforeExit functions may take once a worker's connections are done (or a master's
   * generations are gone); then the process exits anyway. Default 10000.
   */
  exitTimeout?: number;
  /**
   * A file of NAME=value lines (Node's util.parseEnv) read by every new master and every new
   * generation (reload, upgrade): its variables override the inherited environment. Relative
   * to the master's working directory as the user named it ($PWD). See docs/options.md.
   */
  envFile?: string;
}

export type ServerFactory = () => Server | Promise<Server>;
export type AppHandler = RequestListener | { createServer: ServerFactory };

/** One entry of the `listeners` option: a TCP address or a UNIX socket, with a unique name. */
export interface ListenerOption {
  /** Unique, non-empty; tells the app which socket a connection came in on (listenerOf()). */
  name: string;
  /** TCP port (0 picks a free one, kept across upgrades); a string of digits is read as a number. */
  port?: number | string;
  /** Address to bind with `port`. Default: every interface, as Node does. */
  host?: string;
  /** UNIX socket path, instead of port/host. */
  path?: string;
  /** Permission bits of the UNIX socket file, e.g. 0o660. */
  mode?: number;
  /** This listener's own request listener (instead of the one given to listen()). */
  handler?: RequestListener;
  /** This listener's own server factory (instead of the one given to listen()). */
  createServer?: ServerFactory;
}

/**
 * A listener once checked (lib/config/listeners.ts): its name and address, as every process and message
 * carries it. Its `mode` is not part of its identity: a release may change it.
 */
export interface ListenerSpec extends Omit<ListenerOption, 'port' | 'handler' | 'createServer'> {
  port?: number;
}

export type App = { kind: 'handler'; handler: RequestListener } | { kind: 'factory'; factory: ServerFactory };

/** A listener as baton uses it: what to bind (the spec) and, when it has one, its own app. */
export interface ListenerConfig {
  spec: ListenerSpec;
  app: App | undefined;
}

/** The options baton uses as they were given, once checked: each is set (to its default when not given). */
type AsGiven = 'workers' | 'drainTimeout' | 'readyTimeout' | 'manualReady' | 'keepAliveGrace' | 'closeWebSockets' | 'backlog'
  | 'accept' | 'logLevel' | 'logFormat' | 'workerTimeout' | 'maxRequests' | 'shutdownDelay' | 'exitTimeout';

export interface ResolvedOptions extends Required<Pick<ListenOptions, AsGiven>> {
  /** The `listeners` option checked, or the single listener "default" that port/host/path describe. */
  listeners: ListenerConfig[];
  port: number | undefined;
  host: string | undefined;
  path: string | undefined;
  pidFile: string | undefined;
  logger: ExternalLogger | undefined;
  maxMemory: number;
  controlSocket: string | undefined;
  /** ms of probation (0: none). */
  probation: number;
  /** How the new generation is judged at the end of probation (lib/observe/canary.ts). */
  canary: CanaryPolicy;
  metrics: EndpointOption | undefined;
  health: EndpointOption | undefined;
  /** As given (resolved by the master against its working directory, lib/config/envfile.ts). */
  envFile: string | undefined;
}

