// Types and helpers shared by the bench's processes (orchestrator and load generator).
import { performance } from 'node:perf_hooks';
export { descendants, isRunning as running } from '../lib/os/proctree';

/** Wall-clock epoch ms with sub-ms precision: comparable across processes on one machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Outcome of one request in the records. */
export const PENDING = 0;
export const ANSWERED = 1;
export const FAILED = 2;

/** What the orchestrator asks the load generator to do. */
export interface RunCommand {
  type: 'run';
  id: string;
  host: string;
  port: number;
  /** Sending stops after this many ms (the orchestrator may stop it earlier). */
  durationMs: number;
  /** Sending stops after this many requests. */
  maxRequests: number;
  /** Closed loops in all. */
  connections: number;
  /** Of those, loops that open a new connection (no agent, `Connection: close`) for every request. */
  freshLoops: number;
  /** The other loops: share of their requests sent on the keep-alive agent; the rest each open a new connection. */
  keepAliveShare: number;
  /** A request not answered within this many ms is failed (code ETIMEDOUT). */
  requestTimeoutMs: number;
  /** After sending stops, how long to wait for requests in flight before counting them as such. */
  settleMs: number;
}

export interface StopCommand {
  type: 'stop';
  id: string;
}

export interface Progress {
  type: 'progress';
  id: string;
  sent: number;
  answered: number;
  failed: number;
  non2xx: number;
}

/**
 * Every request one run sent, column by column (index = order sent).
 * Times are epoch ms (see now()); a request still in flight at the end has outcome PENDING.
 */
export interface RunRecords {
  type: 'result';
  id: string;
  /** When sending started and stopped, and when the records were frozen. */
  startedAt: number;
  stoppedAt: number;
  frozenAt: number;
  /** Why sending stopped: 'duration', 'maxRequests' or 'stopped'. */
  stopReason: string;
  n: number;
  sendAt: Float64Array;
  /** ms from send to the end of the response (or to the error); NaN while in flight. */
  latency: Float32Array;
  outcome: Uint8Array;
  /** HTTP status, 0 when none arrived. */
  status: Uint16Array;
  /** Index into `versions` (x-bench-version), -1 when unknown. */
  version: Int16Array;
  /** x-bench-generation, 0 when unknown. */
  generation: Uint16Array;
  /** Index into `workerPids` (x-bench-pid: the process that answered), -1 when unknown. */
  worker: Int16Array;
  /** Index into `errorCodes`, -1 when none. */
  error: Int16Array;
  /** 1 when sent on a keep-alive connection, 0 on a connection of its own. */
  keepAlive: Uint8Array;
  /** Keep-alive only: ms the reused socket had been idle before this request; NaN on a new socket. */
  socketIdle: Float32Array;
  versions: string[];
  /** The pids that answered, in the order first seen. */
  workerPids: number[];
  errorCodes: string[];
  /** One error message per code, to tell what the code meant. */
  errorSamples: Record<string, string>;
  /** Set by the orchestrator (not the load generator): CPU ms the server's processes used during the run. */
  serverCpuMs?: number | null;
}

export type FromLoadgen = Progress | RunRecords | { type: 'fatal'; message: string };
export type ToLoadgen = RunCommand | StopCommand;


