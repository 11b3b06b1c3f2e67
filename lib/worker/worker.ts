// The worker role: builds the app's server, serves the connections the master hands
// over, drains when told (or when its master vanishes) and exits.
import cluster from 'node:cluster';
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { Acceptor } from './acceptor';
import { LoadReports } from './load';
import { ConnectionTracker } from './drain';
import { ExitHooks, type ExitHook } from './exit-hooks';
import { surviveMasterDisconnect } from '../os/internals';
import { Logger } from '../log/log';
import { isBaton, type FromWorker, type ToWorker } from '../messages';
import { errorText, explainCrash, runFactory } from './mistakes';
import { factoryResultMistake } from '../config/handler';
import type { App, ListenerConfig, ResolvedOptions } from '../config/options';
import { setTitle } from '../os/title';
import { sendIfConnected } from '../channel';
import { STOP_SIGNALS, StopSignals } from '../os/signals';
import { takeOverUncaught } from '../os/fatal';
import { recordForwarder } from './worker-records';
import { RequestCounting } from './counting';

export interface WorkerEvents {
  /** The server is built and receives connections. */
  listening: [server: net.Server];
  /**
   * Draining started: close long-lived connections (WebSockets, streams) politely. With no
   * listener, baton sends each WebSocket the app took over a Close 1001 (option closeWebSockets).
   */
  drain: [reason: string];
  /** A signal the master passes on to its workers: 'SIGUSR1' (reopen your log files). */
  signal: [signal: string];
}

export class BatonWorker extends EventEmitter<WorkerEvents> {
  readonly role = 'worker' as const;
  readonly generation: number;
  /** The app's server (the one listen()'s second argument builds; else the first listener's). */
  server: net.Server | undefined;
  /** The server of each listener, by name, once built. */
  readonly servers = new Map<string, net.Server>();
  private readonly abort = new AbortController();
  private readySent = false;
  private readyAsked = false;
  /** Its connections, and their drain (lib/worker/drain.ts). */
  private readonly tracker: ConnectionTracker;
  private queue: Array<[string, net.Socket]> = [];
  private readonly log: Logger;
  private readonly exitHooks: ExitHooks;
  /** Requests served (HTTP 'request' events, counted by the tracker), reported in heartbeats. */
  get requests(): number {
    return this.tracker.requests;
  }
  private readonly ownSignals = new StopSignals();

  private unknownListeners = new Set<string>();
  private failed = false;
  /** Accepting on the master's TCP sockets itself (lib/worker/acceptor.ts). */
  private readonly acceptor = new Acceptor({
    connection: (listener, socket) => this.accept(listener, socket),
    error: (listener, err) => this.log.warn('accept-error', `listener "${listener}": ${err.message}`),
    held: () => this.tracker.size,
    changed: (on) => this.load.changed(on),
  });
  /** Its load reports to the master, for the share (lib/worker/load.ts). */
  private readonly load = new LoadReports(
    () => ({ open: this.tracker.size, accepting: this.acceptor.accepting, pauses: this.acceptor.pauses }),
    (m) => this.tell(m),
  );
  /** Responses by status class and their latency, reported to the master (lib/worker/counting.ts). */
  private readonly counting: RequestCounting;

  constructor(private opts: ResolvedOptions, private app: App | undefined, private listenerConfigs: ListenerConfig[] = []) {
    super();
    this.generation = Number(process.env.BATON_GENERATION ?? '1') || 1;
    this.log = new Logger('worker', this.generation, opts.logLevel, opts.logFormat, opts.logger);
    this.log.sink = recordForwarder((m) => this.tell(m));
    this.exitHooks = new ExitHooks(this.log);
    this.counting = new RequestCounting((m, then) => this.tell(m, then), undefined, opts.canary.warmupMs ?? 0);
    // a connection gone (counted gone first): the acceptor counts it and decides again whether to accept
    this.tracker = new ConnectionTracker(opts.keepAliveGrace, () => this.acceptor.left(), this.counting.sink);
  }

  /**
   * Registers clean-up (close a pool, flush a queue): `fn(reason)` runs once this worker's
   * connections are done after a drain; the worker exits when every such function settled,
   * or `exitTimeout` ms after they were called (lib/worker/exit-hooks.ts).
   */
  beforeExit(fn: ExitHook): this {
    this.exitHooks.add(fn);
    return this;
  }

  /** Aborted when this worker starts draining. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get draining(): boolean {
    return this.abort.signal.aborted;
  }

  /** With `manualReady`, tells the master this worker may receive connections. */
  ready(): void {
    this.readyAsked = true;
    this.sendReady();
  }

  start(): void {
    if (cluster.worker) surviveMasterDisconnect(cluster.worker);
    setTitle('worker', this.generation, 'starting');
    takeOverUncaught(this.log);
    process.on('message', (m: unknown, handle: unknown) => this.onMessage(m, handle));
    process.on('disconnect', () => this.drain('the master is gone'));
    for (const sig of ['SIGHUP', 'SIGUSR2'] as const) {
      // Meant for the master (`pkill -USR2 -f app.js` also hits workers): ignore.
      process.on(sig, () => this.log.debug('signal-ignored', `${sig} is for the master; ignored`));
    }
    for (const sig of STOP_SIGNALS) {
      process.on(sig, () => {
        // Count this process's own signals: the master's drain message may arrive first
        // (Ctrl-C reaches the master and its workers at once) and is not a second signal.
        if (this.ownSignals.note(sig) === 'force') {
          this.log.warn('forced-exit', `second ${sig}: exiting now`);
          process.exit(1);
        }
        this.tell({ type: 'draining', reason: sig });
        this.drain(sig);
      });
    }
    // Heartbeats tell the master this event loop is alive (workerTimeout) and carry the
    // counters it shows in `baton status` and checks against maxMemory / maxRequests.
    const every = Number(process.env.BATON_HEARTBEAT) || 1_000;
    setInterval(() => this.tell({
      type: 'beat', connections: this.tracker.size, requests: this.requests, rss: process.memoryUsage.rss(),
    }), every).unref();
    const early = (err: unknown): void => this.failStart(err);
    process.on('uncaughtException', early);
    this.build()
      .then(() => {
        process.removeListener('uncaughtException', early);
        // From now on the app's errors take Node's usual course; the master learns why.
        process.on('uncaughtExceptionMonitor', (err) => this.tell({ type: 'error', message: explainCrash(err, this.servers.values()) }));
      })
      .catch(early);
  }

  private async build(): Promise<void> {
    // One server per app: listeners without an app of their own share the main one.
    const built = new Map<App, net.Server>();
    const make = async (app: App): Promise<net.Server> => {
      if (!built.has(app)) built.set(app, await this.makeServer(app));
      return built.get(app) as net.Server;
    };
    const main = this.app && (this.listenerConfigs.length === 0 || this.listenerConfigs.some((l) => l.app === undefined)) ? await make(this.app) : undefined;
    for (const l of this.listenerConfigs) this.servers.set(l.spec.name, l.app ? await make(l.app) : (main as net.Server));
    const first = main ?? [...built.values()][0];
    if (first === undefined) throw new Error('baton: no server to build: give listen() a handler or each listener its own');
    this.server = first;
    for (const server of built.values()) {
      this.counting.watch(server, this.tracker.watch(server));
      // Node starts its HTTP connection bookkeeping (headersTimeout, requestTimeout) on
      // 'listening'; baton feeds connections instead of listening, so it says so itself.
      server.emit('listening');
      this.emit('listening', server);
    }
    for (const [listener, socket] of this.queue.splice(0)) this.accept(listener, socket);
    setTitle('worker', this.generation, this.draining ? 'draining' : 'serving');
    if (!this.opts.manualReady) this.readyAsked = true;
    this.sendReady();
  }

  private async makeServer(app: App): Promise<net.Server> {
    // a factory's server: a listen() call on it throws, naming the mistake
    const server: unknown = app.kind === 'handler' ? http.createServer(app.handler) : await runFactory(app.factory);
    if (!(server instanceof net.Server)) {
      const mistake = factoryResultMistake(server);
      throw new TypeError(`baton: createServer() must return a net.Server (http, https, http2 or net)${mistake ? `; it ${mistake}` : `, got ${server === null ? 'null' : typeof server}`}`);
    }
    return server;
  }

  private sendReady(): void {
    if (this.readySent || !this.readyAsked || this.server === undefined || this.draining) return;
    this.readySent = true;
    this.tell({ type: 'ready' });
    this.log.debug('worker-ready', 'ready');
  }

  private failStart(err: unknown): void {
    if (this.failed) return; // one reason is enough (a listen() mistake may be followed by its EADDRINUSE)
    this.failed = true;
    const text = errorText(err);
    // as text, the stack as Node prints it too; JSON and a logger get it inside the record only
    if (this.log.format === 'text' && this.log.logger === undefined) process.stderr.write(`${text}\n`);
    this.log.error('start-failed', 'the app failed to start', { err });
    // the reason first (the master puts it in the generation's failure), then exit 1
    this.tell({ type: 'error', message: text }, () => process.exit(1));
  }

  private onMessage(m: unknown, handle: unknown): void {
    if (!isBaton(m)) return;
    const message = m as ToWorker;
    if (message.type === 'conn' && handle instanceof net.Socket) this.accept(message.listener, handle);
    else if (message.type === 'handle' && typeof handle === 'object' && handle !== null) {
      this.acceptor.take(message.listener, handle, message.backlog);
    } else if (message.type === 'accept') {
      this.acceptor.want(message.on && !this.draining);
      if (!this.draining) this.load.start();
    } else if (message.type === 'share') this.acceptor.share(message.limit);
    else if (message.type === 'shed') this.tracker.shed(message.connections, message.http2 === true);
    else if (message.type === 'drain') this.drain(message.reason);
    else if (message.type === 'signal') this.emit('signal', message.signal);
  }

  private accept(listener: string, socket: net.Socket): void {
    if (this.server === undefined) {
      this.queue.push([listener, socket]);
      return;
    }
    let server = this.servers.get(listener);
    if (server === undefined) {
      // a listener this code does not declare (changing listeners needs an upgrade, not a reload)
      server = this.server;
      if (!this.unknownListeners.has(listener)) {
        this.unknownListeners.add(listener);
        this.log.warn('unknown-listener', `a connection came in on listener "${listener}", which this code does not declare; the main server serves it (change listeners with an upgrade, SIGUSR2, not a reload)`);
      }
    }
    this.tracker.feed(socket, server, listener);
  }

  private drain(reason: string): void {
    if (this.draining) return;
    // no new connections from now on: the socket's queue is for the other workers
    this.acceptor.close();
    this.tell({ type: 'accept-closed' });
    this.load.stop();
    this.abort.abort(new Error(`baton: draining (${reason})`));
    setTitle('worker', this.generation, 'draining');
    this.log.info('worker-draining', `draining: ${reason}`);
    this.emit('drain', reason);
    if (this.server === undefined) {
      // Not built yet: nothing was served; leave once any queued sockets are handed back.
      for (const [, socket] of this.queue.splice(0)) socket.destroy();
      this.leave(reason);
      return;
    }
    const closeWebSockets = this.opts.closeWebSockets && this.listenerCount('drain') === 0;
    this.tracker.drain(this.opts.drainTimeout, closeWebSockets).then(({ forced, upgraded }) => {
      const websockets = this.tracker.webSocketsClosed;
      if (websockets > 0) this.log.info('websockets-closed', `sent ${websockets} WebSocket(s) a Close frame 1001 "going away" (no drain handler; option closeWebSockets)`, { websockets });
      if (forced === 0) return this.leave(reason);
      const which = upgraded > 0 ? ` (${upgraded} of them upgraded, e.g. WebSockets)` : '';
      this.log.warn('drain-forced', `drainTimeout (${this.opts.drainTimeout} ms) reached: closed ${forced} connection(s) by force${which}`, { forced, upgraded });
      // the master reports it (event 'drain-forced'); exit once the message is on its way
      this.tell({ type: 'drain-forced', connections: forced, upgraded }, () => this.leave(reason));
    });
  }

  /** Connections done: the app's beforeExit functions, then exit. */
  private leave(reason: string): void {
    // every response it served is counted: the last report goes before the exit hooks run
    this.counting.close(() => void this.exitHooks.run(reason, this.opts.exitTimeout).then(() => {
      this.log.debug('worker-exit', 'exiting with code 0');
      setImmediate(() => process.exit(0));
    }));
  }

  /** `then` runs once the message is in the channel, at once without a master, or after 1 s. */
  private tell(m: FromWorker, then?: () => void): void {
    sendIfConnected(process, m, { written: then, within: 1000 }); // the master is gone: nothing to tell
  }
}
