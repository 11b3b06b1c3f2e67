// The master's side of `baton run`: a master whose parent is the supervisor.
//
// It hands the supervisor its sockets (SupervisorLink.hold()) and keeps it informed of what the
// next master needs. Upgrades are run by the supervisor, the new master's parent: this master
// asks for one (SIGUSR2, `baton upgrade`) and follows it through RemoteUpgrade.
import { EventEmitter } from 'node:events';
import { sendIfConnected } from '../channel';
import type { Listener } from '../sockets/ledger';
import { isBaton, type FromMaster, type ToMaster } from '../messages';
import { Upgrade } from '../upgrade/attempt';
import { upgradeEvent } from './bridge';

export const SUPERVISOR_ENV = 'BATON_SUPERVISOR';

/** Whether this process is a master started by `baton run` (reads and clears the marker). */
export function takeSupervisedMarker(): boolean {
  const on = process.env[SUPERVISOR_ENV] === '1' && typeof process.send === 'function';
  delete process.env[SUPERVISOR_ENV];
  return on;
}

/**
 * An upgrade the supervisor runs, seen from the master being replaced (lib/supervisor/bridge.ts):
 * the same events as an UpgradeAttempt, and the same table of phases (lib/upgrade/phases.ts),
 * followed on what the supervisor forwards.
 */
export class RemoteUpgrade extends Upgrade {
  pid: number | undefined;

  constructor(private link: SupervisorLink) {
    super();
    this.on('started', (pid) => (this.pid = pid));
    // the phase each event moves it to ('go' is never forwarded: HandOver.follow() passes it)
    const moves = { started: 'starting', probation: 'probation', tally: 'judging', serving: 'serving', failed: 'failed' } as const;
    for (const [event, phase] of Object.entries(moves)) this.on(event as keyof typeof moves, () => this.handOver.follow(phase));
  }

  start(): void {
    this.link.send({ type: 'upgrade-request' });
  }

  /** This master gives up following it (it is stopping); the supervisor decides for the new master. */
  fail(reason: string): void {
    if (this.finished) return;
    this.emit('failed', reason);
  }
}

/** What the supervisor asks: it started an upgrade on its own (SIGUSR2 sent to it); it stops the service. */
export class SupervisorLink extends EventEmitter<{ upgrade: [u: RemoteUpgrade]; stop: [] }> {
  private current: RemoteUpgrade | undefined;

  constructor() {
    super();
    process.on('message', (m: unknown) => this.onMessage(m));
  }

  /** Sends `m`; `written` is called once it is in the channel (or could not be sent). */
  send(m: FromMaster, handle?: object, written?: () => void): void {
    // the supervisor is gone: this master goes on alone
    sendIfConnected(process, m, handle ? { handle, keepOpen: true, written } : { written });
  }

  /**
   * Hands the supervisor a duplicate of every listening socket (the first master, once: under
   * `baton run` no master takes service back), then `state` (which tells it this master serves);
   * resolves when all of it is in the channel, where it stays readable after this process dies
   * (the supervisor acts on a master's death only once it has read its channel to the end). A
   * handle waits for the supervisor's acknowledgement before anything after it is written: at
   * most `timeoutMs`.
   */
  hold(listeners: Listener[], state: FromMaster, timeoutMs = 5_000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      for (const l of listeners) this.send({ type: 'hold', spec: l.spec, external: l.external || undefined }, l.handle());
      this.send(state, undefined, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The upgrade this master asks for, or (onMessage) one the supervisor started on its own. */
  request(): RemoteUpgrade {
    const u = new RemoteUpgrade(this);
    this.current = u;
    return u;
  }

  private onMessage(m: unknown): void {
    if (!isBaton(m)) return;
    const message = m as ToMaster;
    if (message.type === 'stop') {
      this.emit('stop');
      return;
    }
    let u = this.current;
    if (message.type === 'upgrade-started' && (u === undefined || u.finished)) {
      u = this.request();
      this.emit('upgrade', u);
    }
    const e = upgradeEvent(message);
    if (u === undefined || u.finished || e === undefined) return;
    (u.emit as (event: string, ...args: unknown[]) => boolean)(e.event, ...e.args);
  }
}
