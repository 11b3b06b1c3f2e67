// The Prometheus text exposition format, version 0.0.4, of baton's metrics.
//
// Why by hand: it is a small line format (HELP, TYPE, one sample per line) and baton has no
// runtime dependencies. The rules kept here: label values escape `\`, `"` and newlines (a
// release path may hold them; the HELP texts are baton's own and hold none); a histogram is
// `_bucket{le}` lines (cumulative, ending with `le="+Inf"` = `_count`), `_sum` and `_count`, its
// durations in seconds; every line ends with a newline. Values are finite: String() writes them
// as Go does.
import { PROMETHEUS_BOUNDS_MS } from './histogram';
import type { AnyFamily } from './registry';

/** The Content-Type of the output. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[], le?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] as string)}"`);
  if (le !== undefined) parts.push(`le="${le}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** `le` as Prometheus clients write it: seconds, shortest decimal form ("0.005", "1", "+Inf"). */
const LE = PROMETHEUS_BOUNDS_MS.map((ms) => String(Number((ms / 1000).toPrecision(6))));

/** Renders the families in the text format 0.0.4. */
export function render(families: readonly AnyFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== 'histogram') {
      for (const s of f.all()) out.push(`${f.name}${labelText(f.labelNames, s.values)} ${s.value}`);
      continue;
    }
    for (const { values, value: h } of f.all()) {
      h.cumulative().forEach((c, i) => out.push(`${f.name}_bucket${labelText(f.labelNames, values, LE[i])} ${c}`));
      out.push(`${f.name}_bucket${labelText(f.labelNames, values, '+Inf')} ${h.count}`);
      out.push(`${f.name}_sum${labelText(f.labelNames, values)} ${h.sum / 1000}`);
      out.push(`${f.name}_count${labelText(f.labelNames, values)} ${h.count}`);
    }
  }
  return `${out.join('\n')}\n`;
}
