// Formatting helpers of the report's tables (bench/table.ts, bench/matrix-table.ts).
import type { Goal } from './goals';
import type { TargetStats } from './stats';

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
export function pad(cells: string[][]): string {
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd()).join('\n') + '\n';
}

export function ms(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

export function fixed(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

export function kib(x: number | null): string {
  return x === null ? '-' : `${(x / 1024).toFixed(1)} MiB`;
}

export function errs(t: TargetStats): string {
  const parts = Object.entries(t.errors).map(([k, v]) => `${k}:${v}`);
  if (t.inflight > 0) parts.push(`in-flight:${t.inflight}`);
  return parts.length ? parts.join(' ') : '0';
}

/** A figure with ✓ or ✗ when a goal judges it (nothing to add when none, or n/a). */
export function marked(text: string, g: Goal | undefined): string {
  if (g === undefined || g.value === null) return text;
  return `${text} ${g.met ? '✓' : '✗'}`;
}
