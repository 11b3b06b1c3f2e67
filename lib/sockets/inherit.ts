// Which inherited socket is which: a socket this master did not bind (the previous
// master's hand-off, systemd's socket activation) goes to the listener of this release with
// the same name and address, or failing that the same address alone (a renamed listener);
// the rest belongs to listeners this release dropped, and is closed.
import * as fs from 'node:fs';
import type { ListenerSpec } from '../config/types';

/** The first fd a new master finds its inherited sockets at (fd 3 is its IPC channel). */
export const FIRST_FD = 4;

/** What identifies a listener across masters: a release with the same spec reuses the socket. */
export function specKey(spec: ListenerSpec): string {
  return JSON.stringify([spec.name, spec.path ?? null, spec.host ?? null, spec.port ?? null]);
}

/** The address alone, without the name: a release that renames a listener still reuses its socket. */
export function addressKey(spec: ListenerSpec): string {
  return JSON.stringify([spec.path ?? null, spec.host ?? null, spec.port ?? null]);
}

/** A socket this master did not bind: from the previous master (hand-off) or from systemd. */
export interface Inherited {
  spec: ListenerSpec;
  fd: number;
  /** systemd's socket (socket activation): baton never removes its path. */
  external?: boolean;
}

/**
 * Which inherited socket each configured listener takes: the one with the same name and
 * address; failing that, the one with the same address under another name (a renamed
 * listener), when that address is unambiguous on both sides. The rest is unused: a release
 * that dropped a listener.
 */
export function matchInherited(specs: ListenerSpec[], given: Inherited[]): { adopt: Map<string, Inherited>; unused: Inherited[] } {
  const adopt = new Map<string, Inherited>();
  const left = [...given];
  for (const spec of specs) {
    const i = left.findIndex((g) => specKey(g.spec) === specKey(spec));
    if (i >= 0) adopt.set(spec.name, left.splice(i, 1)[0] as Inherited);
  }
  for (const spec of specs) {
    if (adopt.has(spec.name) || spec.port === 0) continue;
    const same = left.filter((g) => addressKey(g.spec) === addressKey(spec));
    const rivals = specs.filter((s) => !adopt.has(s.name) && addressKey(s) === addressKey(spec));
    if (same.length === 1 && rivals.length === 1) {
      adopt.set(spec.name, same[0] as Inherited);
      left.splice(left.indexOf(same[0] as Inherited), 1);
    }
  }
  return { adopt, unused: left };
}

/** Closes an inherited fd nobody adopts; false when it was not open. */
export function closeFd(fd: number): boolean {
  try {
    fs.closeSync(fd);
    return true;
  } catch {
    return false;
  }
}
