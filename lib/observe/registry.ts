// The master's metrics: counters, gauges and histograms with labels, and their hand-over.
//
// Why our own: baton has no runtime dependencies, and what it needs is small: a few families
// with fixed label names, rendered as Prometheus text (prometheus.ts), and counters that go
// on across upgrades: the old master's snapshot() is JSON that the new master restore()s, so
// `rate()` sees no reset. Gauges describe the present and are not handed over; the master
// sets them from its own state before each render (lib/observe/observer.ts).
import { Histogram, isHistogramData, type HistogramData } from './histogram';

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Labels = Readonly<Record<string, string | number>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface FamilyOptions {
  name: string;
  help: string;
  labels?: readonly string[];
}

/** One series: its label values (in the family's label order) and its value. */
export interface Series<V> {
  values: readonly string[];
  value: V;
}

abstract class Family<V> {
  abstract readonly type: MetricType;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, Series<V>>();

  constructor(o: FamilyOptions) {
    if (!NAME.test(o.name)) throw new Error(`baton: metric name ${JSON.stringify(o.name)} is not a Prometheus name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
    const labels = o.labels ?? [];
    for (const l of labels) {
      if (!LABEL.test(l) || l.startsWith('__') || l === 'le') throw new Error(`baton: label name ${JSON.stringify(l)} of ${o.name} is not allowed`);
    }
    if (new Set(labels).size !== labels.length) throw new Error(`baton: ${o.name} names a label twice`);
    this.name = o.name;
    this.help = o.help;
    this.labelNames = Object.freeze([...labels]);
  }

  /** The label values of `labels` in this family's order; throws when one is missing or unknown. */
  protected valuesOf(labels: Labels | undefined): string[] {
    const given = labels ?? {};
    const keys = Object.keys(given);
    if (keys.length !== this.labelNames.length || keys.some((k) => !this.labelNames.includes(k))) {
      throw new Error(`baton: ${this.name} takes the labels {${this.labelNames.join(',')}}, got {${keys.join(',')}}`);
    }
    return this.labelNames.map((n) => String(given[n]));
  }

  protected entry(labels: Labels | undefined, make: () => V): Series<V> {
    const values = this.valuesOf(labels);
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (s === undefined) {
      s = { values, value: make() };
      this.series.set(key, s);
    }
    return s;
  }

  protected find(labels: Labels | undefined): Series<V> | undefined {
    return this.series.get(this.valuesOf(labels).join('\u0000'));
  }

  /** Every series, in the order they were first set. */
  all(): Array<Series<V>> {
    return [...this.series.values()];
  }

  clear(): void {
    this.series.clear();
  }

  labelsOf(s: Series<V>): Record<string, string> {
    const out: Record<string, string> = {};
    this.labelNames.forEach((n, i) => (out[n] = s.values[i] as string));
    return out;
  }
}

/** A count that only goes up. */
export class Counter extends Family<number> {
  readonly type = 'counter' as const;

  inc(labels?: Labels, n = 1): void {
    if (!(n >= 0) || !Number.isFinite(n)) throw new Error(`baton: ${this.name} can only go up, by a finite amount (got ${n})`);
    this.entry(labels, () => 0).value += n;
  }

  get(labels?: Labels): number {
    return this.find(labels)?.value ?? 0;
  }
}

/** A value that goes up and down (connections, workers), or an info series (value 1). */
export class Gauge extends Family<number> {
  readonly type = 'gauge' as const;

  set(labels: Labels | undefined, v: number): void {
    this.entry(labels, () => 0).value = v;
  }
}

/** Durations per label set; `observe` in ms, rendered in seconds (Prometheus' base unit). */
export class HistogramFamily extends Family<Histogram> {
  readonly type = 'histogram' as const;

  observe(labels: Labels | undefined, ms: number): void {
    this.entry(labels, () => new Histogram()).value.record(ms);
  }

  /** Adds a histogram (or a worker's delta of one) to the series with these labels. */
  merge(labels: Labels | undefined, h: Histogram | HistogramData): void {
    this.entry(labels, () => new Histogram()).value.merge(h);
  }

  get(labels?: Labels): Histogram | undefined {
    return this.find(labels)?.value;
  }
}

export type AnyFamily = Counter | Gauge | HistogramFamily;

/** What an old master hands the new one: every counter and histogram series, as JSON. */
export interface RegistrySnapshot {
  version: 1;
  counters: Array<{ name: string; labels: Record<string, string>; value: number }>;
  histograms: Array<{ name: string; labels: Record<string, string>; value: HistogramData }>;
}

export class Registry {
  private readonly families = new Map<string, AnyFamily>();

  counter(o: FamilyOptions): Counter {
    return this.add(new Counter(o));
  }

  gauge(o: FamilyOptions): Gauge {
    return this.add(new Gauge(o));
  }

  histogram(o: FamilyOptions): HistogramFamily {
    return this.add(new HistogramFamily(o));
  }

  private add<F extends AnyFamily>(f: F): F {
    if (this.families.has(f.name)) throw new Error(`baton: metric ${f.name} is already registered`);
    this.families.set(f.name, f);
    return f;
  }

  /** Every family, in the order they were registered (prometheus.ts renders them). */
  all(): AnyFamily[] {
    return [...this.families.values()];
  }

  /** Counters and histograms as JSON (gauges describe the present: the new master sets its own). */
  snapshot(): RegistrySnapshot {
    const snap: RegistrySnapshot = { version: 1, counters: [], histograms: [] };
    for (const f of this.families.values()) {
      if (f instanceof Counter) for (const s of f.all()) snap.counters.push({ name: f.name, labels: f.labelsOf(s), value: s.value });
      else if (f instanceof HistogramFamily) for (const s of f.all()) snap.histograms.push({ name: f.name, labels: f.labelsOf(s), value: s.value.toData() });
    }
    return snap;
  }

  /**
   * Adds a snapshot's counts to this registry's (a new master starts from the old one's totals).
   * What does not fit is skipped, never thrown: a family this release does not have, other
   * label names (an older or newer baton), a malformed value. Returns how many series were skipped.
   */
  restore(snap: unknown): number {
    if (typeof snap !== 'object' || snap === null || (snap as { version?: unknown }).version !== 1) return 0;
    const s = snap as Partial<RegistrySnapshot>;
    let skipped = 0;
    for (const c of Array.isArray(s.counters) ? s.counters : []) {
      const f = this.families.get(c?.name);
      if (!(f instanceof Counter) || typeof c.value !== 'number' || !(c.value >= 0) || !Number.isFinite(c.value) || !fits(f, c.labels)) skipped++;
      else f.inc(c.labels, c.value);
    }
    for (const h of Array.isArray(s.histograms) ? s.histograms : []) {
      const f = this.families.get(h?.name);
      if (!(f instanceof HistogramFamily) || !isHistogramData(h.value) || !fits(f, h.labels)) skipped++;
      else f.merge(h.labels, h.value);
    }
    return skipped;
  }
}

function fits(f: AnyFamily, labels: unknown): labels is Record<string, string> {
  if (typeof labels !== 'object' || labels === null) return false;
  const keys = Object.keys(labels);
  return keys.length === f.labelNames.length && keys.every((k) => f.labelNames.includes(k) && typeof (labels as Record<string, unknown>)[k] === 'string');
}
