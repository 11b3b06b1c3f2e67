// What a master is made of before it does anything, read or built once when it is
// constructed (MasterContext), and what its pieces may read of it (MasterView).
import { EnvFile } from '../config/envfile';
import type { ResolvedOptions } from '../config/options';
import { ExitHooks } from '../worker/exit-hooks';
import { HANDOFF_ENV, readHandoff, type Handoff } from '../upgrade/handoff';
import { Predecessor } from '../upgrade/predecessor';
import { captureStart, type StartContext } from '../os/relaunch';
import { Logger } from '../log/log';
import { Notifier } from '../os/notify';
import { SupervisorLink, takeSupervisedMarker } from '../supervisor/supervised';
import type { Generation } from '../pool/generation';
import type { Listener } from '../sockets/ledger';
import { Observation } from '../observe/observation';
import type { ObservedMaster } from '../observe/observer';
import { checkPidFileWritable } from '../os/pidfile';
import type { MasterState } from './states';
import { Surface } from './surface';

export interface MasterContext {
  /** How it was started (lib/os/relaunch.ts). */
  readonly start: StartContext;
  /** Set in a master spawned by an upgrade: what the old master handed to it. */
  readonly handoff: Handoff | undefined;
  /** The channel to whoever spawned this master (the old master after an upgrade). */
  readonly parent: Predecessor;
  readonly log: Logger;
  readonly envFile: EnvFile;
  readonly exitHooks: ExitHooks;
  /** Pid file, control socket, systemd, process title, exit. */
  readonly surface: Surface;
  /** Set when this master runs under `baton run`: the supervisor performs upgrades. */
  readonly link: SupervisorLink | undefined;
  /** Metrics, health, the reload canary, shutdownDelay, history (lib/observe/observation.ts). */
  readonly observation: Observation;
}

/** What the pieces may read of the master (they change nothing there: they report by events). */
export interface MasterView {
  state(): MasterState;
  sockets(): Listener[];
  /** The serving generation (before a hand-over: the one a take-back starts the release of again). */
  serving(): Generation | undefined;
  /** The serving generation's number (for the notifier and the process title). */
  generation(): number;
  /** The number the next generation gets (a new master's first, after an upgrade). */
  nextGeneration(): number;
  /** Workers per generation for a new master: the count when this master was scaled, else its own option. */
  workersForNext(): number | undefined;
}

/** `master`: what the observation reads of it. Throws on a pid file it cannot write. */
export function masterContext(opts: ResolvedOptions, master: ObservedMaster): MasterContext {
  const start = captureStart();
  const handoff = readHandoff();
  delete process.env[HANDOFF_ENV];
  const parent = new Predecessor(opts.probation);
  const log = new Logger('master', handoff?.generation ?? 1, opts.logLevel, opts.logFormat, opts.logger);
  const link = takeSupervisedMarker() ? new SupervisorLink() : undefined;
  link?.send({ type: 'hello', readyTimeout: opts.readyTimeout });
  // systemd notifications (Type=notify); under `baton run` the supervisor sends them
  const notifier = new Notifier(log, link === undefined);
  if (opts.pidFile !== undefined) checkPidFileWritable(opts.pidFile);
  const exitHooks = new ExitHooks(log);
  const envFile = new EnvFile(opts.envFile, start.cwd, log);
  envFile.load();
  const observation = new Observation(master, { opts, log, inherited: new Map((handoff?.endpoints ?? []).map((e) => [e.key, e.fd])) });
  // the old master's canary: the first generation's tally when asked
  if (handoff) {
    parent.report = () => {
      const tally = observation.observer.metrics.tally(handoff.generation);
      return { tally, left: { ms: opts.canary.warmupMs ?? 0, responses: tally.left } };
    };
  }
  // its endpoints close last; their socket files stay when the next master serves on them
  exitHooks.add((reason: string) => observation.close(reason !== 'upgraded'));
  return { start, handoff, parent, log, envFile, exitHooks, link, observation, surface: new Surface(opts, log, notifier, exitHooks, handoff !== undefined) };
}
