// The loads and the targets of the bench's matrix (docs/benchmarks.md, "What it runs").
// A load is a set of closed loops: some reuse keep-alive connections, some open a new
// connection for every request. Mixed is decided per LOOP (2 of them always open a new
// connection), the way a real server meets a few short-lived clients beside pooled ones.
// The `share` load is the bench's older per-REQUEST mix (--keepalive-share).

export const LOAD_NAMES = ['keep-alive', 'mixed', 'fresh', 'share'] as const;
export type LoadName = (typeof LOAD_NAMES)[number];
export const DEFAULT_LOADS: LoadName[] = ['keep-alive', 'mixed', 'fresh'];

/** `baton-uncounted`: baton with its per-response counting off (BATON_REQUEST_STATS=off): what the metrics cost. */
export const TARGET_NAMES = ['single', 'cluster', 'cluster-none', 'baton', 'baton-uncounted'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** The modes of the price-per-core matrix (bench/price.ts): one target loaded at a time, or two at once. */
export const MODES = ['interleaved', 'paired'] as const;
export type Mode = (typeof MODES)[number];

/** Fresh-connection loops of the mixed load; the other connections - 2 loops keep their connection. */
export const MIXED_FRESH_LOOPS = 2;

export interface LoadSpec {
  name: LoadName;
  /** Closed loops in all. */
  connections: number;
  /** Loops that open a new connection (`Connection: close`, no agent) for every request. */
  freshLoops: number;
  /** The other loops: share of their requests sent on the keep-alive agent (1: all). */
  keepAliveShare: number;
  /** For the report. */
  describe: string;
}

export function loadSpec(name: LoadName, connections: number, keepAliveShare: number): LoadSpec {
  switch (name) {
    case 'keep-alive':
      return { name, connections, freshLoops: 0, keepAliveShare: 1, describe: `${connections} keep-alive loops` };
    case 'mixed':
      if (connections <= MIXED_FRESH_LOOPS) throw new Error(`the mixed load needs --connections of at least ${MIXED_FRESH_LOOPS + 1} (${MIXED_FRESH_LOOPS} of them open a fresh connection per request), got ${connections}`);
      return {
        name, connections, freshLoops: MIXED_FRESH_LOOPS, keepAliveShare: 1,
        describe: `${connections - MIXED_FRESH_LOOPS} keep-alive loops + ${MIXED_FRESH_LOOPS} fresh-connection loops`,
      };
    case 'fresh':
      return { name, connections, freshLoops: connections, keepAliveShare: 0, describe: `${connections} fresh-connection loops` };
    case 'share':
      return { name, connections, freshLoops: 0, keepAliveShare, describe: `${connections} loops, ${keepAliveShare} of the requests on keep-alive connections` };
  }
}

/** Parses a comma-separated list of names from `allowed`, in the order given, each once. */
export function parseList<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T[] {
  const items = (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new Error(`${flag} needs a comma-separated list of ${allowed.join(', ')}`);
  const out: T[] = [];
  for (const it of items) {
    if (!(allowed as readonly string[]).includes(it)) throw new Error(`${flag}: unknown ${JSON.stringify(it)}; choose from ${allowed.join(', ')}`);
    if ((out as string[]).includes(it)) throw new Error(`${flag}: ${it} is named twice`);
    out.push(it as T);
  }
  return out;
}
