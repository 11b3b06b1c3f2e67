// The worker's side of the request metrics: each response counted by status class and timed.
//
// Why here and not in the master: no request passes through the master (workers accept for
// themselves), so only the worker sees responses. It keeps what changed since the last
// takeDelta() (a few numbers and the non-empty histogram buckets) for the worker to send
// every 100 ms, and nothing when nothing changed.
//
// How it learns of responses: in a worker, the drain tracker follows the requests of http and
// https servers from Node's diagnostics channels (for the drain and for this, one watcher per
// request: lib/worker/drain.ts) and tells record() and aborted() (ResponseSink): per request,
// a histogram increment here. Servers the tracker does not follow (http2's compatibility API)
// are counted by watch(): the server's 'request' event and a 'close' listener per response.
//
// What counts: a response is counted when it finishes (its last byte handed to the kernel), by
// its status code. One that never finishes (the client went away, the worker cut it) is counted
// as `aborted`, untimed, when its connection closes (http2: when the response closes unended).
// Latency runs from the request's headers parsed to the response's last byte. Upgrades
// (WebSocket) and CONNECT are not requests.
//
// Warm-up (why: docs/options.md, "Canary probation"): the responses to requests that arrived in
// the worker's first `warmupMs` of serving, from its first request, are counted as usual and also,
// apart, as its warm-up (`warm` in the delta), which the canary leaves out (BatonMetrics.tally()).
import type { Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Histogram, isCount, isHistogramData, type HistogramData } from './histogram';

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];
/** Responses by status class; a class with none may be left out. */
export type ClassCounts = Partial<Record<StatusClass, number>>;

/** Responses by class and their latency: the part of a delta that was the worker's warm-up. */
export interface WarmDelta {
  codes: ClassCounts;
  latency: HistogramData;
}

/** What a worker sends: the responses and their latency since its previous delta. */
export interface RequestDelta extends WarmDelta {
  /** Requests whose response closed before the app ended it (not in `codes` nor `latency`). */
  aborted: number;
  /** Of those responses, the ones to requests that arrived in the worker's warm-up (absent: none). */
  warm?: WarmDelta;
}

/** Where a follower of requests tells each response it saw end (the worker's drain tracker tells RequestStats). */
export interface ResponseSink {
  /** A response finished with `statusCode`; its request started at `start`, it ended at `end` (performance.now()). */
  record(statusCode: number, start: number, end: number): void;
  /** `n` responses a closing connection left unfinished. */
  aborted(n: number): void;
}

/** The response objects of http, https and http2's compatibility API, as far as counting goes. */
interface Res {
  statusCode: number;
  writableEnded: boolean;
  on(event: 'close', fn: (this: Res) => void): unknown;
  [START]?: number;
}

const START = Symbol('baton.requestStart');

export class RequestStats implements ResponseSink {
  private readonly byClass = new Float64Array(5);
  private unfinished = 0;
  private readonly latency = new Histogram();
  private readonly warmClass = new Float64Array(5);
  private readonly warmLatency = new Histogram();
  /** When this worker's first request arrived; its warm-up lasts warmupMs from then. */
  private firstAt: number | undefined;
  private readonly servers = new WeakSet<Server>();
  /** Bound once: the listeners every request shares. */
  private readonly onRequest: (req: unknown, res: Res) => void;
  private readonly onClose: (this: Res) => void;

  constructor(private readonly warmupMs = 0) {
    const stats = this;
    this.onRequest = (_req, res) => {
      const t = performance.now();
      res[START] = t;
      stats.firstAt ??= t;
      res.on('close', stats.onClose);
    };
    this.onClose = function onClose(this: Res) {
      const start = this[START];
      if (start === undefined) return;
      this[START] = undefined; // a second 'close' counts nothing
      if (this.writableEnded) stats.done(this.statusCode, start, performance.now());
      else stats.unfinished++;
    };
  }

  /** Counts the requests of `server` from its 'request' event: a server the drain tracker does not follow (http2). */
  watch(server: Server): void {
    if (this.servers.has(server)) return;
    this.servers.add(server);
    server.prependListener('request', this.onRequest as (...args: unknown[]) => void);
  }

  record(statusCode: number, start: number, end: number): void {
    if (this.firstAt === undefined || start < this.firstAt) this.firstAt = start;
    this.done(statusCode, start, end);
  }

  aborted(n: number): void {
    this.unfinished += n;
  }

  /** One response ended at `end`: counted by class and timed. */
  private done(statusCode: number, start: number, end: number): void {
    const cls = Math.floor(statusCode / 100) - 1;
    if (cls < 0 || cls > 4) return; // Node allows 600-999; no class of ours
    const ms = end - start;
    this.byClass[cls]++;
    this.latency.record(ms);
    // its request arrived in the worker's warm-up (nothing more is stored per request for this)
    if (start - (this.firstAt as number) < this.warmupMs) {
      this.warmClass[cls]++;
      this.warmLatency.record(ms);
    }
  }

  /** Requests counted (responses and aborted ones) since the last takeDelta(). */
  get counted(): number {
    return this.latency.count + this.unfinished;
  }

  /** What changed since the last call, as a small plain object, or undefined when nothing did. */
  takeDelta(): RequestDelta | undefined {
    if (this.counted === 0) return undefined;
    const delta: RequestDelta = { codes: classCounts(this.byClass), aborted: this.unfinished, latency: this.latency.toData() };
    if (this.warmLatency.count > 0) {
      delta.warm = { codes: classCounts(this.warmClass), latency: this.warmLatency.toData() };
      this.warmClass.fill(0);
      this.warmLatency.reset();
    }
    this.byClass.fill(0);
    this.unfinished = 0;
    this.latency.reset();
    return delta;
  }
}

/** The classes with responses of `byClass` (indexed 1xx to 5xx). */
function classCounts(byClass: Float64Array): ClassCounts {
  const codes: ClassCounts = {};
  STATUS_CLASSES.forEach((c, i) => {
    if (byClass[i] > 0) codes[c] = byClass[i];
  });
  return codes;
}

/** Whether `codes` and `latency` are well formed and agree (as many responses as timings). */
function isCounted(codes: unknown, latency: unknown): boolean {
  if (typeof codes !== 'object' || codes === null || !isHistogramData(latency)) return false;
  let total = 0;
  for (const [k, v] of Object.entries(codes)) {
    if (!(STATUS_CLASSES as readonly string[]).includes(k) || !isCount(v)) return false;
    total += v;
  }
  return total === latency.n;
}

/** Whether `x` is a well-formed RequestDelta (check what comes over IPC). */
export function isRequestDelta(x: unknown): x is RequestDelta {
  if (typeof x !== 'object' || x === null) return false;
  const d = x as Record<string, unknown>;
  if (!isCounted(d.codes, d.latency) || !isCount(d.aborted)) return false;
  if (d.warm === undefined) return true;
  const w = d.warm as Record<string, unknown> | null;
  if (!isCounted(w?.codes, w?.latency)) return false;
  // the warm-up is a part of the delta: no class holds more of it than the delta does
  for (const [k, v] of Object.entries(w?.codes as ClassCounts)) if ((v as number) > ((d.codes as ClassCounts)[k as StatusClass] ?? 0)) return false;
  return true;
}
