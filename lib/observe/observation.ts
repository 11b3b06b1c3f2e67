// Everything issue 12 adds to a master, behind the few calls the master makes: the observer
// (metrics, history), the `metrics` / `health` listeners, the canary of a reload, the
// `shutdownDelay` before a stop's drain, and the upgrade channel's share of it: the counters
// sent on to the next master (so they continue), the endpoints' listening sockets handed to it
// (so a probe never finds the port closed).
//
// Why one object: the master stays a coordinator; each of these is one line there.
import type { ChildProcess } from 'node:child_process';
import { sendIfConnected } from '../channel';
import { isBaton } from '../messages';
import type { Logger } from '../log/log';
import type { ResolvedOptions } from '../config/types';
import { addressKey, Endpoints, type EndpointsOptions } from './endpoints';
import { closeFd } from '../sockets/ledger';
import { emptyTally } from './metrics';
import { Observer, type ObservedMaster } from './observer';
import { CanaryWindow, type Judge } from './canary';

/** How often a draining old master sends its totals on to the new one. */
export const TOTALS_EVERY = 1_000;
/** How often an endpoint address in use is tried again. */
export const RETRY_MS = 250;

/** `inherited`: the endpoints' sockets the previous master handed over. */
export interface ObservationOptions extends Pick<EndpointsOptions, 'inherited'> {
  opts: ResolvedOptions;
  log: Logger;
}

export class Observation {
  readonly observer: Observer;
  private endpoints: Endpoints | undefined;
  private delay: NodeJS.Timeout | undefined;
  private delayed = false;
  private fromPredecessor = false;
  private closed = false;
  private sendTotals: (() => void) | undefined;
  /** The metrics text as it was at the hand-over (see handedOver()). */
  private atHandOver: string | undefined;

  constructor(private readonly m: ObservedMaster, private readonly o: ObservationOptions) {
    this.observer = new Observer(m, o.opts.pidFile, o.log);
  }

  /**
   * Starts observing, and binds `metrics` / `health` (a bind error is logged: the app serves on).
   * With the previous master's endpoint sockets, only once it released this one (or is gone):
   * until then it answers on them itself, so a scrape never sees the new master's counters
   * without the old one's, nor a probe a master that does not serve yet.
   */
  async start(fromPredecessor: boolean): Promise<void> {
    this.fromPredecessor = fromPredecessor;
    this.observer.start();
    // before the master's own handlers (lib/master/master.ts run()): what they start, a signal triggered
    for (const sig of ['SIGUSR2', 'SIGHUP'] as const) process.prependListener(sig, () => this.observer.signalled());
    // a socket the previous master passed for an address this release does not serve: nobody would accept on it
    const wanted = new Set([this.o.opts.metrics, this.o.opts.health].flatMap((a) => (a ? [addressKey(a)] : [])));
    const inherited = [...(this.o.inherited ?? [])];
    for (const [key, fd] of inherited) if (!wanted.has(key)) closeFd(fd);
    if (!fromPredecessor) return this.bind(0);
    let bound = inherited.length === 0 ? this.bind(0) : undefined;
    const released = (): Promise<void> => (bound ??= this.bind(0));
    // the old master's totals, again and again while it drains (the latest counts)
    process.on('message', (msg: unknown) => {
      if (!isBaton(msg)) return;
      if (msg.type === 'totals') this.observer.inherited = (msg as { snapshot?: unknown }).snapshot;
      if (msg.type === 'release') void released();
    });
    process.once('disconnect', () => void released());
    await bound;
  }

  /**
   * Binds `metrics` / `health`. An address in use is tried again every RETRY_MS: under `baton
   * run` the old master holds it until it hands over (the supervisor holds no endpoint).
   */
  private async bind(attempt: number): Promise<void> {
    const { metrics, health } = this.o.opts;
    if ((metrics === undefined && health === undefined) || this.closed) return;
    try {
      this.endpoints = await Endpoints.start({ metrics, health, render: () => this.render(), notReady: () => this.notReady(), inherited: this.o.inherited });
      for (const e of this.endpoints.all) this.o.log.info('endpoint-listening', `${e.serves} on ${e.address}`);
    } catch (err) {
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (attempt === 0) this.o.log.error('endpoint-failed', `${(err as Error).message}; the app serves on without it${inUse ? `, and baton tries again every ${RETRY_MS} ms` : ''}`);
      if (inUse) setTimeout(() => void this.bind(attempt + 1), RETRY_MS).unref();
    }
  }

  /** undefined when /readyz is 200; otherwise why not. */
  notReady(): string | undefined {
    if (this.delayed) return 'stopping (shutdownDelay)';
    switch (this.m.state) {
      case 'serving':
        return this.m.serving ? undefined : 'no generation serves';
      case 'starting':
        // spawned by an upgrade: the old master serves meanwhile, on the same sockets
        return this.fromPredecessor ? undefined : 'starting';
      case 'handed-over':
        // its endpoints closed at the hand-over; what it still answers, the new master serves
        return undefined;
      default:
        return this.m.state;
    }
  }

  /** The canary of a reload from generation `old` to `next`, judged with the probation policy. */
  reloadJudge(next: number, old: number | undefined): Judge {
    return new CanaryWindow(() => this.observer.metrics.tally(next), () => (old === undefined ? emptyTally() : this.observer.metrics.tally(old)), this.o.opts.canary);
  }

  /**
   * A stop: with shutdownDelay, /readyz turns 503 and the server serves on for that long, then
   * `then` drains. Returns false when the stop goes on now (no delay, not serving, or a second
   * stop during the delay, which ends it).
   */
  delayStop(reason: string, then: () => void): boolean {
    const ms = this.o.opts.shutdownDelay;
    if (this.delay !== undefined) {
      clearTimeout(this.delay);
      this.delay = undefined;
      this.o.log.info('stop-undelayed', `${reason} during shutdownDelay: draining now`);
      return false;
    }
    if (ms <= 0 || this.m.state !== 'serving' || this.delayed) return false;
    this.delayed = true;
    this.o.log.info('stop-delayed', `${reason}: /readyz answers 503; serving on for shutdownDelay (${ms} ms), then draining`);
    this.delay = setTimeout(() => {
      this.delay = undefined;
      then();
    }, ms);
    return true;
  }

  /** A new master is starting: it gets this master's totals, now and while this one drains. */
  followSuccessor(child: ChildProcess): void {
    const send = (): void => {
      if (!sendIfConnected(child, { type: 'totals', snapshot: this.observer.snapshot() })) clearInterval(t);
    };
    this.sendTotals = send;
    const t = setInterval(send, TOTALS_EVERY).unref();
    for (const gone of ['exit', 'disconnect']) child.once(gone, () => clearInterval(t));
    send();
  }

  /** The endpoints' listening sockets for the next master (key and fd). */
  handoff(): Array<{ key: string; fd: number }> {
    return this.endpoints?.handoff() ?? [];
  }

  /**
   * Handed over (the attempt's 'serving', before the release is sent: lib/master/upgrades.ts):
   * the new master gets the latest totals first and serves the endpoints on the same sockets;
   * this one lets go. Not at 'upgrade-succeeded', which waits for the old workers to close
   * their socket duplicates: the new master would serve the endpoints before the last totals.
   */
  handedOver(): void {
    // What this master still answers (connections it accepted before its listener closed) is
    // the text of the totals it sends now, the new master's starting point: this master's own
    // count goes on growing as its workers drain, the new master learns of it only with the
    // next totals (TOTALS_EVERY), and a scrape answered here and then there would see the total
    // fall (spec/integration/observe.spec.ts caught it once in CI).
    this.atHandOver = this.observer.render();
    this.sendTotals?.();
    void this.endpoints?.close(false);
  }

  /** The metrics text: the hand-over's once this master handed over (handedOver()). */
  render(): string {
    return this.atHandOver ?? this.observer.render();
  }

  /** The master exits: the endpoints close (their socket files go unless the next master serves on them), the observer stops. */
  close(removePaths = true): Promise<void> {
    this.closed = true;
    this.observer.stop();
    if (this.delay) clearTimeout(this.delay);
    return this.endpoints?.close(removePaths) ?? Promise.resolve();
  }
}
