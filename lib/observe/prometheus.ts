// The Prometheus text exposition format, version 0.0.4, of a registry's families.
//
// Why by hand: it is a small line format (HELP, TYPE, one sample per line) and baton has no
// runtime dependencies. The rules kept here: HELP escapes `\` and newlines, label values also
// `"`; a histogram is `_bucket{le}` lines (cumulative, ending with `le="+Inf"` = `_count`),
// `_sum` and `_count`, its durations in seconds; every line ends with a newline.
import { PROMETHEUS_BOUNDS_MS } from './histogram';
import { Counter, Gauge, HistogramFamily, type AnyFamily } from './registry';

/** The Content-Type of the output. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value: Go's float syntax (`+Inf`, `-Inf`, `NaN`, or a decimal / exponent number). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] as string)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** `le` as Prometheus clients write it: seconds, shortest decimal form ("0.005", "1", "+Inf"). */
const LE = PROMETHEUS_BOUNDS_MS.map((ms) => formatValue(Number((ms / 1000).toPrecision(6))));

/** Renders the families in the text format 0.0.4. */
export function render(families: readonly AnyFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f instanceof Counter || f instanceof Gauge) {
      for (const s of f.all()) out.push(`${f.name}${labelText(f.labelNames, s.values)} ${formatValue(s.value)}`);
    } else if (f instanceof HistogramFamily) {
      for (const s of f.all()) {
        const h = s.value;
        const cum = h.cumulative();
        cum.forEach((c, i) => out.push(`${f.name}_bucket${labelText(f.labelNames, s.values, ['le', LE[i] as string])} ${formatValue(c)}`));
        out.push(`${f.name}_bucket${labelText(f.labelNames, s.values, ['le', '+Inf'])} ${formatValue(h.count)}`);
        out.push(`${f.name}_sum${labelText(f.labelNames, s.values)} ${formatValue(h.sum / 1000)}`);
        out.push(`${f.name}_count${labelText(f.labelNames, s.values)} ${formatValue(h.count)}`);
      }
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
