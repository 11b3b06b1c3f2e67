// The pid file and its `.oldbin` twin (nginx's convention), written atomically:
// a reader sees the old content or the new, never a partial file.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function oldbinPath(pidFile: string): string {
  return `${pidFile}.oldbin`;
}

export function writePidFile(file: string, pid: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

export function readPidFile(file: string): number | undefined {
  try {
    const n = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the file only if it still names `pid` (another master may own it by now). */
export function removePidFileIf(file: string, pid: number): void {
  if (readPidFile(file) !== pid) return;
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone
  }
}

/** Fails early, with the path in the message, when the pid file could not be written later. */
export function checkPidFileWritable(file: string): void {
  const dir = path.dirname(file);
  try {
    if (!fs.statSync(dir).isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const what = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a directory' : 'is not writable';
    throw new Error(`baton: the pid file ${file} cannot be written: its directory ${dir} ${what} (${code}). Create it, or choose another pidFile.`);
  }
}
