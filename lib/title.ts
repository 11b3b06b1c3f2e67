// Process titles, so that `ps` tells the roles apart as it does for nginx:
//   baton master gen=3 serving     baton worker gen=3 draining
// Linux keeps a title within the space of the original command line: a short command
// (`node app.js`) shows a truncated title; /proc/<pid>/cmdline and `ps -o args` read it.
import type { Role } from './log';

export function titleFor(role: Role, generation: number, state: string): string {
  return `baton ${role} gen=${generation} ${state}`;
}

export function setTitle(role: Role, generation: number, state: string): void {
  try {
    process.title = titleFor(role, generation, state);
  } catch {
    // some platforms refuse; the title is a convenience
  }
}
