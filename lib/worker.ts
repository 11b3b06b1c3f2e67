// The worker role: builds the app's server, serves the connections the master hands
// over, drains when told (or when its master vanishes) and exits.
import cluster from 'node:cluster';
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { ConnectionTracker } from './drain';
import { surviveMasterDisconnect } from './internals';
import { Logger } from './log';
import { isBaton, msg, type FromWorker, type ToWorker } from './messages';
import type { App, ResolvedOptions } from './options';
import { setTitle } from './title';

export interface WorkerEvents {
  /** The server is built and receives connections. */
  listening: [server: net.Server];
  /** Draining started: close long-lived connections (WebSockets, streams) politely. */
  drain: [reason: string];
}

export class BatonWorker extends EventEmitter<WorkerEvents> {
  readonly role = 'worker' as const;
  readonly generation: number;
  server: net.Server | undefined;
  private readonly abort = new AbortController();
  private readySent = false;
  private readyAsked = false;
  private tracker: ConnectionTracker | undefined;
  private queue: Array<[string, net.Socket]> = [];
  private readonly log: Logger;

  constructor(private opts: ResolvedOptions, private app: App) {
    super();
    this.generation = Number(process.env.BATON_GENERATION ?? '1') || 1;
    this.log = new Logger('worker', this.generation, opts.logLevel, opts.logFormat);
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
    const worker = cluster.worker;
    if (worker) surviveMasterDisconnect(worker);
    setTitle('worker', this.generation, 'starting');
    process.on('message', (m: unknown, handle: unknown) => this.onMessage(m, handle));
    process.on('disconnect', () => this.drain('the master is gone'));
    for (const sig of ['SIGHUP', 'SIGUSR2'] as const) {
      // Meant for the master (`pkill -USR2 -f app.js` also hits workers): ignore.
      process.on(sig, () => this.log.debug('signal-ignored', `${sig} is for the master; ignored`));
    }
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) {
      process.on(sig, () => {
        if (this.draining && sig !== 'SIGQUIT') {
          this.log.warn('forced-exit', `second ${sig}: exiting now`);
          process.exit(1);
        }
        this.tell({ type: 'draining', reason: sig });
        this.drain(sig);
      });
    }
    const early = (err: unknown): void => this.failStart(err);
    process.on('uncaughtException', early);
    this.build()
      .then(() => process.removeListener('uncaughtException', early))
      .catch(early);
  }

  private async build(): Promise<void> {
    let server: unknown;
    if (this.app.kind === 'handler') server = http.createServer(this.app.handler);
    else server = await this.app.factory();
    if (!(server instanceof net.Server)) {
      throw new TypeError(`baton: createServer() must return a net.Server (http, https, http2 or net), got ${server === null ? 'null' : typeof server}`);
    }
    if (server.listening) {
      throw new Error('baton: the server returned by createServer() is already listening; return it without calling listen(): baton feeds it the connections');
    }
    this.server = server;
    this.tracker = new ConnectionTracker(server, this.opts.keepAliveGrace);
    // Node starts its HTTP connection bookkeeping (headersTimeout, requestTimeout) on
    // 'listening'; baton feeds connections instead of listening, so it says so itself.
    server.emit('listening');
    this.emit('listening', server);
    for (const [listener, socket] of this.queue.splice(0)) this.accept(listener, socket);
    setTitle('worker', this.generation, this.draining ? 'draining' : 'serving');
    if (!this.opts.manualReady) this.readyAsked = true;
    this.sendReady();
    if (this.draining) this.drain('drain requested during start-up');
  }

  private sendReady(): void {
    if (this.readySent || !this.readyAsked || this.server === undefined || this.draining) return;
    this.readySent = true;
    this.tell({ type: 'ready' });
    this.log.debug('worker-ready', 'ready');
  }

  private failStart(err: unknown): void {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`${text}\n`);
    this.log.error('start-failed', `the app failed to start: ${text}`);
    const exit = (): never => process.exit(1);
    if (process.connected) {
      process.send?.(msg<FromWorker>({ type: 'error', message: text }), undefined, {}, exit);
      setTimeout(exit, 1000).unref();
    } else exit();
  }

  private onMessage(m: unknown, handle: unknown): void {
    if (!isBaton(m)) return;
    const message = m as ToWorker;
    if (message.type === 'conn' && handle instanceof net.Socket) this.accept(message.listener, handle);
    else if (message.type === 'drain') this.drain(message.reason);
  }

  private accept(listener: string, socket: net.Socket): void {
    if (this.server === undefined || this.tracker === undefined) {
      this.queue.push([listener, socket]);
      return;
    }
    this.tracker.add(socket);
    this.server.emit('connection', socket);
  }

  private drain(reason: string): void {
    if (this.draining) return;
    this.abort.abort(new Error(`baton: draining (${reason})`));
    setTitle('worker', this.generation, 'draining');
    this.log.info('worker-draining', `draining: ${reason}`);
    this.emit('drain', reason);
    if (this.tracker === undefined) {
      // Not built yet: nothing was served; leave once any queued sockets are handed back.
      for (const [, socket] of this.queue.splice(0)) socket.destroy();
      this.exit(0);
      return;
    }
    this.tracker.drain(this.opts.drainTimeout).then(({ forced }) => {
      if (forced > 0) this.log.warn('drain-forced', `drainTimeout (${this.opts.drainTimeout} ms) reached: closed ${forced} connection(s) by force`, { forced });
      this.exit(0);
    });
  }

  private exit(code: number): void {
    this.log.debug('worker-exit', `exiting with code ${code}`);
    setImmediate(() => process.exit(code));
  }

  private tell(m: FromWorker): void {
    if (!process.connected) return;
    try {
      process.send?.(msg(m));
    } catch {
      // the master is gone
    }
  }
}
