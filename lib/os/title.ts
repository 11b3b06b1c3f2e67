// Process titles, so that `ps` tells the roles and their stages apart as it does for nginx: the
// command line gets the long form, the kernel's 15-byte `comm` a short one that still says role,
// generation and stage (both shown in docs/options.md). Linux keeps the command line within the
// space of the original one: a short command (`node app.js`) shows a truncated long form.
import * as fs from 'node:fs';
import type { Role } from '../log/log';

export const COMM_MAX = 15;

export function titleFor(role: Role, generation: number, state: string): string {
  if (role === 'supervisor') return 'baton supervisor';
  return `baton ${role} gen=${generation} ${state}`;
}

const STAGE: Record<string, string> = {
  starting: 'start', serving: 'serve', draining: 'drain', stopping: 'stop', 'old, draining': 'old', 'taking back': 'back',
};

/** The comm: at most 15 bytes; the generation goes first when it does not fit. */
export function shortTitleFor(role: Role, generation: number, state: string): string {
  if (role === 'supervisor') return 'baton:sup';
  const stage = STAGE[state] ?? state.slice(0, 5);
  const letter = role === 'master' ? 'm' : 'w';
  const full = `baton:${letter}${generation} ${stage}`;
  return full.length <= COMM_MAX ? full : `baton:${letter} ${stage}`.slice(0, COMM_MAX);
}

export function setTitle(role: Role, generation: number, state: string): void {
  try {
    // Node sets the comm too, to the first 15 bytes of the title: the short form replaces them
    process.title = titleFor(role, generation, state);
  } catch {
    // some platforms refuse; the title is a convenience
  }
  if (process.platform !== 'linux') return;
  try {
    fs.writeFileSync('/proc/self/comm', shortTitleFor(role, generation, state));
  } catch {
    // no /proc: the truncated long form stays
  }
}
