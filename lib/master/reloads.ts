// The reloads of a master (SIGHUP, `baton reload`), as one piece the coordinator
// (lib/master/master.ts) drives: the attempt itself is lib/pool/reload.ts; this is what a
// master makes of it (the envFile read again, its log lines, systemd's RELOADING/READY,
// the Outcome the request resolves with). A piece, as docs/architecture.md says: it reads the
// master's view and reports (ReloadsEvents).
import { EventEmitter } from 'node:events';
import type { Generation } from '../pool/generation';
import { ReloadAttempt } from '../pool/reload';
import type { EnvOverlay } from '../config/envfile';
import type { ResolvedOptions } from '../config/options';
import { setTitle } from '../os/title';
import type { MasterContext, MasterView } from './context';
import type { MasterEvents } from './events';
import type { Outcome } from '../control/commands';

export interface ReloadsEvents {
  'reload-started': MasterEvents['reload-started'];
  'reload-failed': MasterEvents['reload-failed'];
  'reload-succeeded': MasterEvents['reload-succeeded'];
  /** New connections go to `gen`; the generation serving so far sheds half its keep-alive ones. */
  promoted: [gen: Generation];
  /** The old generation takes them again (when it still can). */
  'rolled-back': [restored: Generation | undefined];
  /** The old generation may drain; `env`: what the new one was started with. */
  succeeded: [old: Generation | undefined, env: EnvOverlay];
}

export class Reloads extends EventEmitter<ReloadsEvents> {
  private current: ReloadAttempt | undefined;

  /** @param newGeneration creates (not starts) a generation of the current release with `env` over the master's */
  constructor(private readonly c: MasterContext, private readonly opts: ResolvedOptions, private readonly m: Pick<MasterView, 'serving' | 'generation' | 'nextGeneration'>, private readonly newGeneration: (env: EnvOverlay) => Generation) {
    super();
  }

  /** The generation the reload in progress is starting. */
  get busy(): number | undefined {
    return this.current?.gen.id;
  }

  /** Scaling applies to the generation on its way in too. */
  scale(n: number): void {
    this.current?.gen.scale(n);
  }

  /** The master stops or hands over: the new generation is killed, the reload forgotten. */
  abort(): void {
    this.current?.abort();
    this.current = undefined;
  }

  start(): Promise<Outcome> {
    const { c, m } = this;
    const { log, surface: { notifier } } = c;
    let env: EnvOverlay;
    try {
      env = c.envFile.forGeneration();
    } catch (err) {
      const reason = (err as Error).message;
      log.error('reload-failed', `reload failed, generation ${m.serving()?.id} keeps serving: ${reason}`);
      this.emit('reload-failed', { generation: m.nextGeneration(), reason });
      return Promise.resolve({ ok: false, generation: m.nextGeneration(), reason });
    }
    const old = m.serving();
    const gen = this.newGeneration(env);
    const r = new ReloadAttempt(gen, old, this.opts.probation, c.observation.reloadJudge(gen.id, old?.id), log);
    this.current = r;
    log.info('reload-started', `reload started: generation ${gen.id}`);
    notifier.reloading(`reloading: generation ${gen.id} starting`);
    this.emit('reload-started', { generation: gen.id });
    return new Promise((resolve) => {
      r.on('promoted', () => this.emit('promoted', gen));
      r.on('rolled-back', (reason, restored) => {
        this.current = undefined;
        this.emit('rolled-back', restored);
        log.error('reload-failed', `reload to generation ${gen.id} failed, generation ${m.serving()?.id} keeps serving: ${reason}`);
        this.emit('reload-failed', { generation: gen.id, reason });
        notifier.ready(process.pid, `reload failed; generation ${m.generation()} serving`);
        resolve({ ok: false, generation: gen.id, reason });
      });
      r.on('succeeded', () => {
        this.current = undefined;
        log.generation = gen.id;
        setTitle('master', gen.id, 'serving');
        log.info('reload-succeeded', `generation ${gen.id} serves${old ? `; generation ${old.id} drains` : ''}`);
        this.emit('reload-succeeded', { generation: gen.id });
        notifier.ready(process.pid, `generation ${gen.id} serving`);
        this.emit('succeeded', old, env);
        resolve({ ok: true, generation: gen.id });
      });
      r.start();
    });
  }
}
