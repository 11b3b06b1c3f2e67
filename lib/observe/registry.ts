// The families of baton's metrics (lib/observe/metrics.ts): counters, gauges and histograms
// with fixed label names, one series per set of label values.
//
// Why our own: baton has no runtime dependencies, and what it needs is small: a few families
// rendered as Prometheus text (prometheus.ts), and counters that go on across upgrades (the old
// master's snapshot, metrics.ts). Gauges describe the present: the master sets them from its own
// state before each render (lib/observe/observer.ts).
import { Histogram, type HistogramData } from './histogram';

export type Labels = Readonly<Record<string, string | number>>;

/** One series: its label values (in the family's label order) and its value. */
export interface Series<V> {
  values: readonly string[];
  value: V;
}

abstract class Family<V> {
  private readonly series = new Map<string, Series<V>>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[] = []) {}

  protected abstract zero(): V;

  protected at(labels: Labels = {}): Series<V> {
    const values = this.labelNames.map((n) => String(labels[n]));
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (s === undefined) this.series.set(key, (s = { values, value: this.zero() }));
    return s;
  }

  protected find(labels: Labels = {}): Series<V> | undefined {
    return this.series.get(this.labelNames.map((n) => String(labels[n])).join('\u0000'));
  }

  /** Every series, in the order they were first set. */
  all(): Array<Series<V>> {
    return [...this.series.values()];
  }

  clear(): void {
    this.series.clear();
  }
}

/** A count that only goes up. */
export class Counter extends Family<number> {
  readonly type: 'counter' | 'gauge' = 'counter';

  protected zero(): number {
    return 0;
  }

  inc(labels?: Labels, n = 1): void {
    this.at(labels).value += n;
  }

  get(labels?: Labels): number {
    return this.find(labels)?.value ?? 0;
  }
}

/** A value that goes up and down (connections, workers), or an info series (value 1). */
export class Gauge extends Counter {
  override readonly type = 'gauge';

  set(labels: Labels, v: number): void {
    this.at(labels).value = v;
  }
}

/** Durations per label set, in ms (rendered in seconds, Prometheus' base unit). */
export class HistogramFamily extends Family<Histogram> {
  readonly type = 'histogram';

  protected zero(): Histogram {
    return new Histogram();
  }

  /** Adds a histogram (or a worker's delta of one) to the series with these labels. */
  merge(labels: Labels, h: Histogram | HistogramData): void {
    this.at(labels).value.merge(h);
  }

  get(labels: Labels): Histogram | undefined {
    return this.find(labels)?.value;
  }
}

export type AnyFamily = Counter | Gauge | HistogramFamily;
