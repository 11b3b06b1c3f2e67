// What an old master tells the new one it spawns: which listening sockets sit at which
// file descriptors, with the spec each was made from, and the generation number to
// continue from. It travels in one environment variable; the sockets themselves travel
// in the new master's stdio, from fd 4 on (fd 3 is the IPC channel).
import type { Inherited } from '../sockets/ledger';

/** The first fd a new master finds its inherited sockets at (fd 3 is its IPC channel). */
export const FIRST_FD = 4;
export const HANDOFF_ENV = 'BATON_HANDOFF';

export interface Handoff {
  v: 1;
  /** The old master. */
  parent: number;
  /** The id the new master's first generation takes. */
  generation: number;
  /** Each listening socket: its spec, its fd here, whether systemd owns it. */
  listeners: Inherited[];
  /** Workers per generation, when the old master was scaled at run time. */
  workers?: number;
  /** The `metrics` / `health` listening sockets (lib/observe/endpoints.ts addressKey()), after the listeners' fds. */
  endpoints?: Array<{ key: string; fd: number }>;
}

function fail(why: string): never {
  throw new Error(`baton: malformed ${HANDOFF_ENV} from the previous master (${why}); start this program without ${HANDOFF_ENV} in its environment`);
}

/** Reads and checks the hand-off (JSON); undefined when this master was started by hand. */
export function readHandoff(env: NodeJS.ProcessEnv = process.env): Handoff | undefined {
  const raw = env[HANDOFF_ENV];
  if (raw === undefined || raw === '') return undefined;
  let h: unknown;
  try {
    h = JSON.parse(raw);
  } catch {
    fail('not JSON');
  }
  const o = h as Partial<Handoff>;
  if (typeof o !== 'object' || o === null || o.v !== 1) fail('unknown version');
  if (!Number.isInteger(o.parent) || (o.parent as number) <= 0) fail('no parent pid');
  if (!Number.isInteger(o.generation) || (o.generation as number) <= 0) fail('no generation');
  if (!Array.isArray(o.listeners)) fail('no listener list');
  if (o.workers !== undefined && (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 1024)) fail('workers is not an integer from 1 to 1024');
  const seen = new Set<string>();
  const fds = new Set<number>();
  for (const l of o.listeners) {
    if (typeof l !== 'object' || l === null || typeof l.spec !== 'object' || l.spec === null) fail('a listener without a spec');
    if (!Number.isInteger(l.fd) || l.fd < FIRST_FD) fail(`listener fd ${String(l.fd)} is not a number from ${FIRST_FD} up`);
    if (typeof l.spec.name !== 'string' || l.spec.name === '') fail('a listener without a name');
    if (seen.has(l.spec.name)) fail(`listener name "${l.spec.name}" appears twice`);
    seen.add(l.spec.name);
    if (fds.has(l.fd)) fail(`fd ${l.fd} appears twice`);
    fds.add(l.fd);
  }
  for (const e of o.endpoints ?? []) {
    if (typeof e !== 'object' || e === null || typeof e.key !== 'string' || !Number.isInteger(e.fd) || e.fd < FIRST_FD || fds.has(e.fd)) fail('a malformed endpoint');
    fds.add(e.fd);
  }
  return o as Handoff;
}
