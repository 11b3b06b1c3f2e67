// `baton history`'s store: the last upgrades and reloads, one JSON object per line, in
// `<pidFile>.history`.
//
// Why a file beside the pid file: it must outlive every master (an upgrade replaces the
// process, a restart the whole tree) and be readable when none runs. Written whole to a
// temporary file and renamed over the old one, so a reader sees the old list or the new,
// never half a line; bounded to the last HISTORY_LIMIT records. Two masters may append at
// nearly the same time (an old one recording an upgrade while the new one reloads): each
// re-reads after its rename and appends again if its record was lost to the other's rename.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const HISTORY_LIMIT = 100;
/** Longer reasons are cut (a stack of a release that throws can be long). */
export const REASON_LIMIT = 4096;

const KINDS = ['upgrade', 'reload'] as const;
export type HistoryKind = (typeof KINDS)[number];
const TRIGGERS = ['signal', 'cli', 'api'] as const;
export type HistoryTrigger = (typeof TRIGGERS)[number];
/** How an upgrade or reload ended, in the history and in the metrics' `result` label. */
export const RESULTS = ['succeeded', 'rolled_back', 'failed'] as const;
export type HistoryResult = (typeof RESULTS)[number];

export interface HistorySide {
  /** The release path the generation ran (the real path of its script's directory). */
  release: string;
  /** process.version of its Node. */
  node: string;
  generation: number;
  /** The master's pid. */
  pid?: number;
}

export interface HistoryRecord {
  /** Unique: tells this record from others appended at the same time. */
  id: string;
  /** ISO time the change started. */
  at: string;
  kind: HistoryKind;
  trigger: HistoryTrigger;
  from: HistorySide;
  /** Missing when no new generation or master got as far as having one. */
  to?: HistorySide;
  result: HistoryResult;
  /** Why it was rolled back or failed (the rollback's reason), or a note. */
  reason?: string;
  durationMs: number;
}

export type NewRecord = Omit<HistoryRecord, 'id'>;

export function historyPath(pidFile: string): string {
  return `${pidFile}.history`;
}

/** Whether `x` is a well-formed side (a file's line, or what a new master sent). */
export function isSide(x: unknown): x is HistorySide {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  return typeof s.release === 'string' && typeof s.node === 'string' && Number.isInteger(s.generation) && (s.pid === undefined || Number.isInteger(s.pid));
}

/** Whether `x` is a record this version can show (a line written by hand or by another version may not be). */
export function isHistoryRecord(x: unknown): x is HistoryRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return typeof r.id === 'string' && typeof r.at === 'string' && (KINDS as readonly unknown[]).includes(r.kind) && (TRIGGERS as readonly unknown[]).includes(r.trigger)
    && isSide(r.from) && (r.to === undefined || isSide(r.to)) && (RESULTS as readonly unknown[]).includes(r.result)
    && (r.reason === undefined || typeof r.reason === 'string') && typeof r.durationMs === 'number' && Number.isFinite(r.durationMs);
}

/** The records, oldest first; a missing file is an empty history, a line that does not parse is skipped. */
export function readHistory(file: string): HistoryRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: HistoryRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r: unknown = JSON.parse(line);
      if (isHistoryRecord(r)) out.push(r);
    } catch {
      // not a record: skipped
    }
  }
  return out;
}

function write(file: string, records: HistoryRecord[]): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(tmp, records.map((r) => `${JSON.stringify(r)}\n`).join(''), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // never written
    }
    throw err;
  }
}

/**
 * Appends a record (keeping the last HISTORY_LIMIT), written atomically; returns the record as stored
 * (with its id, the reason cut to REASON_LIMIT). Throws on a record that is not well formed,
 * and on file errors (the caller logs them: a history that cannot be written fails nothing).
 */
export function appendHistory(file: string, rec: NewRecord): HistoryRecord {
  const stored: HistoryRecord = { ...rec, id: `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}` };
  if (stored.reason !== undefined && stored.reason.length > REASON_LIMIT) stored.reason = `${stored.reason.slice(0, REASON_LIMIT - 1)}…`;
  if (!isHistoryRecord(stored)) throw new TypeError(`baton: not a history record: ${JSON.stringify(rec)}`);
  for (let attempt = 0; attempt < 3; attempt++) {
    const records = readHistory(file).filter((r) => r.id !== stored.id);
    records.push(stored);
    write(file, records.slice(-HISTORY_LIMIT));
    if (readHistory(file).some((r) => r.id === stored.id)) return stored;
  }
  throw new Error(`baton: ${file}: the record was overwritten by another writer three times`);
}

/** `baton history`'s table: one line per record, newest last. */
export function formatHistory(records: readonly HistoryRecord[]): string {
  const side = (s: HistorySide | undefined): string => (s === undefined ? '-' : `gen ${s.generation} ${s.release} (${s.node})`);
  const lines = records.map((r) => {
    const why = r.reason !== undefined ? `: ${r.reason.split('\n')[0]}` : '';
    return `${r.at}  ${r.kind.padEnd(7)} ${r.trigger.padEnd(6)} ${r.result.padEnd(11)} ${(r.durationMs / 1000).toFixed(1).padStart(6)}s  ${side(r.from)} -> ${side(r.to)}${why}`;
  });
  return lines.length === 0 ? 'no upgrades or reloads recorded\n' : `${lines.join('\n')}\n`;
}
