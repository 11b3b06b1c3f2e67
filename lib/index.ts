// baton: nginx-style zero-downtime upgrades for multi-core Node.js servers.
//
//   const baton = require('baton-cluster');
//   baton.listen({ port: 8080 }, (req, res) => res.end('hello'));
//
// The same file runs as the master (`node app.js`) and as every worker. In the master,
// listen() returns a Master (events, upgrade(), reload(), stop()); in a worker, a
// BatonWorker (the server, ready(), the drain signal). See docs/architecture.md.
import cluster from 'node:cluster';
import { Master } from './master/master';
import { resolveMainApp, resolveOptions, type AppHandler, type ListenOptions } from './config/options';
import { BatonWorker } from './worker/worker';
import { reportUncaught } from './upgrade/early';

export { Master, type MasterEvents, type MasterState } from './master/master';
export type { Outcome } from './control/commands';
export { BatonWorker, type WorkerEvents } from './worker/worker';
export { BatonOptionError, DEFAULTS, DEFAULT_PORT } from './config/options';
export type { ListenOptions, ListenerOption, AppHandler, ServerFactory, LogLevel, LogFormat } from './config/options';
export { listenerOf } from './worker/tags';
export type { LogRecord, ExternalLogger } from './log/log';
export type { ExitHook } from './worker/exit-hooks';
export { ListenError } from './sockets/ledger';

let current: Master | BatonWorker | undefined;

// errors the app's code throws reach the parent from the moment baton loads, if its preload did not see to it
reportUncaught(cluster.isWorker ? 'worker' : 'master');

/**
 * Serves `handler` on every core with zero-downtime upgrades.
 * Options are checked before anything is forked; a mistake throws BatonOptionError.
 * `handler` may be left out when every entry of `options.listeners` has its own.
 */
export function listen(options: ListenOptions, handler?: AppHandler): Master | BatonWorker {
  const opts = resolveOptions(options);
  const app = resolveMainApp(handler, opts.listeners);
  if (current) throw new Error('baton: listen() was already called in this process; call it once per program');
  if (cluster.isPrimary) {
    const master = new Master(opts, opts.listeners.map((l) => l.spec));
    current = master;
    master.run();
    return master;
  }
  const worker = new BatonWorker(opts, app, opts.listeners);
  current = worker;
  worker.start();
  return worker;
}

/** With `manualReady: true`: tells the master this worker may receive connections. No-op in the master. */
export function ready(): void {
  current?.ready();
}

/** The object listen() returned in this process, if it was called. */
export function instance(): Master | BatonWorker | undefined {
  return current;
}
