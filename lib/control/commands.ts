// What the control socket's commands do in a master: `baton upgrade | reload | stop |
// scale N | status | metrics`, each followed through the master's events to its outcome, with
// progress lines for the CLI. The socket and its protocol are in socket.ts.
import type { ControlTarget, Progress, Reply, Request } from './socket';
import type { Generation } from '../pool/generation';
import type { Observer } from '../observe/observer';

/** What an upgrade, a reload or a scale resolves with (the master's, which the commands report). */
export interface Outcome {
  ok: boolean;
  /** The new master (upgrade) or generation (reload) when ok. */
  pid?: number;
  generation?: number;
  reason?: string;
}

/** The events the commands follow. */
export interface CommandEvents {
  'upgrade-started': [info: { pid: number }];
  'upgrade-worker-ready': [info: { pid: number; ready: number; total: number }];
  'reload-started': [info: { generation: number }];
  'worker-ready': [info: { pid: number; generation: number }];
  'worker-exit': [info: { pid: number; generation: number }];
  exiting: [];
}

/** What the commands need of a master: a narrow view, so that this file does not depend on the Master class. */
export interface CommandTarget {
  readonly generations: ReadonlyMap<number, Generation>;
  serving(): Generation | undefined;
  readonly readyTimeout: number;
  status(): Record<string, unknown>;
  upgrade(): Promise<Outcome>;
  reload(): Promise<Outcome>;
  stop(reason: string): void;
  scale(n: number): Promise<Outcome>;
  // methods (not properties), so that a typed EventEmitter of more events fits
  on(ev: keyof CommandEvents, fn: (...a: any[]) => void): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  once(ev: keyof CommandEvents, fn: (...a: any[]) => void): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  removeListener(ev: keyof CommandEvents, fn: (...a: any[]) => void): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class Commands implements ControlTarget {
  constructor(private m: CommandTarget, private observer?: Observer) {}

  /** A request from the control socket (the `baton` CLI): checked, then followed with progress lines. */
  async control(req: Request, progress: Progress): Promise<Reply> {
    switch (req.cmd) {
      case 'status':
        return { ok: true, status: this.m.status() };
      case 'metrics':
        return this.observer ? { ok: true, text: this.observer.render() } : { ok: false, error: 'this master has no metrics' };
      case 'scale': {
        const n = req.workers;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1024) return { ok: false, error: 'scale needs "workers": an integer from 1 to 1024' };
        return this.controlScale(n, progress);
      }
      case 'stop':
        return this.controlStop(progress);
      case 'upgrade':
      case 'reload':
        return this.controlChange(req.cmd, req.waitDrain === true, progress);
      default:
        return { ok: false, error: `unknown command ${JSON.stringify(req.cmd)}: use status, metrics, upgrade, reload, stop or scale` };
    }
  }

  /** Follows master events while `body` runs; every listener is removed afterwards. */
  private follow<T>(body: (on: <K extends keyof CommandEvents>(ev: K, fn: (...a: CommandEvents[K]) => void) => void) => Promise<T>): Promise<T> {
    const added: Array<[keyof CommandEvents, (...a: never[]) => void]> = [];
    const on = <K extends keyof CommandEvents>(ev: K, fn: (...a: CommandEvents[K]) => void): void => {
      this.m.on(ev, fn as never);
      added.push([ev, fn as never]);
    };
    return body(on).finally(() => {
      for (const [ev, fn] of added) this.m.removeListener(ev, fn as never);
    });
  }

  /** Reports connections left in draining generations until they are gone. */
  private waitDrained(progress: Progress): Promise<void> {
    return new Promise((resolve) => {
      const drained = (): void => {
        clearInterval(t);
        progress('drained', 'the old generation is gone');
        resolve();
      };
      const tick = (): void => {
        const draining = [...this.m.generations.values()].filter((g) => g.state === 'draining');
        if (draining.length === 0) return drained();
        let connections = 0; // still open in the draining generations (from heartbeats)
        for (const g of draining) for (const w of g.slots.values()) connections += w.connections;
        progress('draining', `draining: ${connections} connection(s) left in generation ${draining.map((g) => g.id).join(', ')}`, { connections });
      };
      const t = setInterval(tick, 500);
      this.m.once('exiting', drained);
      tick();
    });
  }

  private controlChange(what: 'upgrade' | 'reload', waitDrain: boolean, progress: Progress): Promise<Reply> {
    return this.follow(async (on) => {
      if (what === 'upgrade') {
        on('upgrade-started', ({ pid }) => progress('started', `new master ${pid} started`, { pid }));
        on('upgrade-worker-ready', ({ ready, total }) => progress('worker-ready', `workers ready ${ready}/${total}`, { ready, total }));
      } else {
        on('reload-started', ({ generation }) => progress('started', `generation ${generation} starting`, { generation }));
        on('worker-ready', ({ generation }) => {
          const g = this.m.generations.get(generation);
          if (g && g.state === 'starting') progress('worker-ready', `workers ready ${g.readyCount()}/${g.target}`, { ready: g.readyCount(), total: g.target });
        });
      }
      const run = (): Promise<Outcome> => (what === 'upgrade' ? this.m.upgrade() : this.m.reload());
      const outcome = await (this.observer ? this.observer.triggeredBy('cli', run) : run());
      if (!outcome.ok) return { ok: false, error: outcome.reason ?? `${what} failed` };
      progress('serving', what === 'upgrade'
        ? `new master ${outcome.pid} serves; the old generation stopped accepting`
        : `generation ${outcome.generation} serves; the old generation stopped accepting`, { pid: outcome.pid, generation: outcome.generation });
      if (waitDrain) await this.waitDrained(progress);
      return { ok: true, pid: outcome.pid ?? process.pid, generation: outcome.generation };
    });
  }

  private async controlStop(progress: Progress): Promise<Reply> {
    this.m.stop('stop requested by the control socket');
    progress('stopping', 'stopped accepting; draining');
    await this.waitDrained(progress);
    return { ok: true };
  }

  private controlScale(n: number, progress: Progress): Promise<Reply> {
    return this.follow(async (on) => {
      const outcome = await this.m.scale(n);
      if (!outcome.ok) return { ok: false, error: outcome.reason };
      const gen = this.m.serving();
      if (!gen) return { ok: true, workers: n };
      const done = (): boolean => gen.readyCount() === n && [...gen.slots.values()].filter((s) => s.state !== 'draining').length === n;
      if (!done()) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`not ${n} ready workers within readyTimeout (${this.m.readyTimeout} ms)`)), this.m.readyTimeout);
          const check = (): void => {
            progress('workers', `workers ready ${gen.readyCount()}/${n}`, { ready: gen.readyCount(), total: n });
            if (done()) {
              clearTimeout(timer);
              resolve();
            }
          };
          on('worker-ready', check);
          on('worker-exit', check);
        });
      }
      return { ok: true, workers: n };
    });
  }
}
