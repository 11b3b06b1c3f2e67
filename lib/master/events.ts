// What a master reports: the events of the object listen() returns in the master (see
// docs/operations.md), each with the fields a dashboard or a test needs.
import type { LogRecord } from '../log/log';

export interface MasterEvents {
  listening: [info: { name: string; address: string; port: number | undefined }];
  serving: [info: { generation: number }];
  'worker-ready': [info: { pid: number; generation: number }];
  'worker-exit': [info: { pid: number; generation: number; code: number | null; signal: string | null; expected: boolean }];
  'upgrade-started': [info: { pid: number }];
  'upgrade-worker-ready': [info: { pid: number; ready: number; total: number }];
  'upgrade-succeeded': [info: { pid: number }];
  'upgrade-failed': [info: { reason: string }];
  'reload-started': [info: { generation: number }];
  'reload-succeeded': [info: { generation: number }];
  'reload-failed': [info: { generation: number; reason: string }];
  'generation-draining': [info: { generation: number; reason: string }];
  'generation-drained': [info: { generation: number; forced: number }];
  /** A draining worker closed connections by force at drainTimeout (`upgraded`: how many were WebSockets or other upgrades). */
  'drain-forced': [info: { generation: number; pid: number; connections: number; upgraded: number }];
  stopping: [info: { reason: string }];
  scaled: [info: { workers: number }];
  /** Every generation drained; the process exits right after. */
  exiting: [];
  'worker-replaced': [info: { pid: number; generation: number; reason: string }];
  /** The new master died after it took over, while this one still drained: this one serves again. */
  'taking-back': [info: { pid: number; reason: string }];
  /** Taking service back failed (the fresh generation could not start): this one drains and exits. */
  'take-back-failed': [info: { reason: string }];
  log: [record: LogRecord];
}

/** Re-emits `events` of a piece (their names and arguments are the master's) on the master. */
export function forward<E extends keyof MasterEvents>(from: { on(e: E, fn: (...a: never[]) => void): unknown }, to: { emit(e: E, ...a: unknown[]): boolean }, events: readonly E[]): void {
  for (const e of events) from.on(e, (...a: unknown[]) => to.emit(e, ...a));
}
