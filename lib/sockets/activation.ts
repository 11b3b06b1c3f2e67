// systemd socket activation (sd_listen_fds(3)): a first master with LISTEN_PID = its pid finds
// LISTEN_FDS listening sockets at fd 3 on, each matched to the listener named in LISTEN_FDNAMES (a
// single listener takes a single socket whatever its name). The variables are removed at once:
// workers and later masters never see them; the sockets travel like any other, by the hand-off.
import { closeFd, describeSpec, type Inherited } from './ledger';
import type { ListenerSpec } from '../config/types';
import type { Logger } from '../log/log';

export const SD_LISTEN_FDS_START = 3;
const VARS = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

export function takeActivatedSockets(specs: ListenerSpec[], log: Logger, env: NodeJS.ProcessEnv = process.env, pid = process.pid): Inherited[] {
  const listenPid = env.LISTEN_PID;
  const listenFds = env.LISTEN_FDS;
  const listenNames = env.LISTEN_FDNAMES;
  if (listenPid === undefined && listenFds === undefined) return [];
  for (const v of VARS) delete env[v];
  if (Number(listenPid) !== pid) {
    log.debug('activation-ignored', `LISTEN_PID=${listenPid} is not this process (${pid}): the sockets were meant for another one`);
    return [];
  }
  const n = Number(listenFds);
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    log.warn('activation-ignored', `LISTEN_FDS=${listenFds} is not a number of sockets; binding the listeners instead`);
    return [];
  }
  const names = listenNames !== undefined && listenNames !== '' ? listenNames.split(':') : [];
  const out: Inherited[] = [];
  const taken = new Set<string>();
  for (let i = 0; i < n; i++) {
    const fd = SD_LISTEN_FDS_START + i;
    const name = names[i];
    let spec = name !== undefined ? specs.find((s) => s.name === name && !taken.has(s.name)) : undefined;
    if (spec === undefined && n === 1 && specs.length === 1) spec = specs[0];
    if (spec === undefined) {
      closeFd(fd);
      log.warn('activation-unused', `systemd passed fd ${fd}${name !== undefined ? ` named "${name}"` : ''}, which names no listener (${specs.map((s) => s.name).join(', ')}); closed it`);
      continue;
    }
    taken.add(spec.name);
    out.push({ spec, fd, external: true });
    log.info('activation', `listener "${spec.name}" (${describeSpec(spec)}) takes systemd's socket at fd ${fd}`, { listener: spec.name });
  }
  return out;
}
