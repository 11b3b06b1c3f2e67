// The SVG chart of the run with upgrades and reloads: throughput, p99 latency and failed
// requests over time, the moments of every upgrade (U) and reload (R), and which code
// version answered; one per segment of the upgrade phase (a load each), stacked in one file.
// Plain SVG 1.1, no script, no external resources.
import type { Series } from './stats';

export interface ChartEvent {
  kind: 'upgrade' | 'reload';
  index: number;
  /** ms from the start of the series; undefined when it did not happen. */
  signalAt: number;
  servingAt?: number;
  oldGoneAt?: number;
  ok: boolean;
}

export interface ChartInput {
  title: string;
  subtitle: string;
  series: Series;
  events: ChartEvent[];
  /** Reference lines: steady throughput of the better bare cluster, steady p99 of baton. */
  bareRps?: number;
  steadyP99?: number;
}

const W = 1100;
const LEFT = 70;
const RIGHT = 190;
const PLOT_W = W - LEFT - RIGHT;
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#e45756', '#72b7b2', '#eeca3b', '#ff9da6', '#9d755d', '#bab0ac'];
const UPGRADE = '#d62728';
const RELOAD = '#7b4fd0';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '';
  if (Math.abs(x) >= 1000) return `${Math.round(x / 100) / 10}k`;
  if (Math.abs(x) >= 10) return String(Math.round(x));
  return String(Math.round(x * 100) / 100);
}

/** A "nice" upper bound for an axis. */
function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export function renderChart(c: ChartInput): string {
  const s = c.series;
  const spanS = Math.max(s.durationS, 0.001);
  const x = (sec: number): number => LEFT + (Math.max(0, Math.min(spanS, sec)) / spanS) * PLOT_W;
  const bw = (s.bucketMs / 1000 / spanS) * PLOT_W;
  const out: string[] = [];
  const panels = [
    { key: 'rps', label: 'throughput (responses/s)', h: 170 },
    { key: 'p99', label: 'p99 latency (ms)', h: 170 },
    { key: 'errors', label: 'failed requests', h: 80 },
    { key: 'share', label: 'share of responses by code version', h: 120 },
  ] as const;
  const top = 96;
  const gapY = 34;
  const height = top + panels.reduce((a, p) => a + p.h + gapY, 0) + 40;
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT}" y="24" font-size="16" font-weight="bold">${esc(c.title)}</text>`);
  out.push(`<text x="${LEFT}" y="42" fill="#444">${esc(c.subtitle)}</text>`);
  out.push(`<g font-size="11"><line x1="${LEFT}" y1="66" x2="${LEFT + 18}" y2="66" stroke="${UPGRADE}" stroke-width="2"/><text x="${LEFT + 22}" y="70">U: upgrade signal (SIGUSR2)</text>`
    + `<line x1="${LEFT + 200}" y1="66" x2="${LEFT + 218}" y2="66" stroke="${RELOAD}" stroke-width="2"/><text x="${LEFT + 222}" y="70">R: reload signal (SIGHUP)</text>`
    + `<rect x="${LEFT + 390}" y="61" width="18" height="10" fill="#999" fill-opacity="0.25"/><text x="${LEFT + 412}" y="70">signal to new generation serving</text>`
    + `<line x1="${LEFT + 600}" y1="66" x2="${LEFT + 618}" y2="66" stroke="#555" stroke-dasharray="3,3"/><text x="${LEFT + 622}" y="70">old generation gone</text></g>`);

  let y0 = top;
  const versionColor = new Map<string, string>();
  s.versions.forEach((v, i) => versionColor.set(v, PALETTE[i % PALETTE.length] as string));

  for (const p of panels) {
    const h = p.h;
    const yb = y0 + h;
    out.push(`<text x="${LEFT}" y="${y0 - 6}" font-weight="bold">${esc(p.label)}</text>`);
    out.push(`<rect x="${LEFT}" y="${y0}" width="${PLOT_W}" height="${h}" fill="#fafafa" stroke="#ccc"/>`);
    // event shading and markers, under the data
    for (const e of c.events) {
      const color = e.kind === 'upgrade' ? UPGRADE : RELOAD;
      const xs = x(e.signalAt / 1000);
      if (e.servingAt !== undefined) {
        out.push(`<rect x="${xs.toFixed(1)}" y="${y0}" width="${Math.max(1, x(e.servingAt / 1000) - xs).toFixed(1)}" height="${h}" fill="#999" fill-opacity="0.22"/>`);
      }
      if (e.oldGoneAt !== undefined) {
        const xg = x(e.oldGoneAt / 1000).toFixed(1);
        out.push(`<line x1="${xg}" y1="${y0}" x2="${xg}" y2="${yb}" stroke="#555" stroke-dasharray="3,3" stroke-width="0.8"/>`);
      }
      out.push(`<line x1="${xs.toFixed(1)}" y1="${y0}" x2="${xs.toFixed(1)}" y2="${yb}" stroke="${color}" stroke-width="${e.ok ? 1.2 : 2.5}"/>`);
    }
    if (p.key === 'share') {
      for (let b = 0; b < s.buckets.length; b++) {
        const bk = s.buckets[b];
        if (bk === undefined) continue;
        const total = Object.values(bk.versions).reduce((a, n) => a + n, 0);
        if (total === 0) continue;
        let acc = 0;
        for (const v of s.versions) {
          const n = bk.versions[v] ?? 0;
          if (n === 0) continue;
          const hh = (n / total) * h;
          out.push(`<rect x="${x(bk.t).toFixed(1)}" y="${(yb - acc - hh).toFixed(1)}" width="${Math.min(bw + 0.5, LEFT + PLOT_W - x(bk.t)).toFixed(1)}" height="${hh.toFixed(1)}" fill="${versionColor.get(v)}"/>`);
          acc += hh;
        }
      }
      out.push(`<text x="${LEFT - 6}" y="${y0 + 4}" text-anchor="end">100%</text><text x="${LEFT - 6}" y="${yb}" text-anchor="end">0%</text>`);
      // legend: the versions
      const shown = s.versions.slice(0, 12);
      shown.forEach((v, i) => {
        const ly = y0 + 4 + i * 14;
        out.push(`<rect x="${W - RIGHT + 12}" y="${ly}" width="10" height="10" fill="${versionColor.get(v)}"/><text x="${W - RIGHT + 26}" y="${ly + 9}">${esc(v)}</text>`);
      });
      if (s.versions.length > shown.length) out.push(`<text x="${W - RIGHT + 12}" y="${y0 + 4 + 12 * 14 + 9}">+${s.versions.length - shown.length} more versions</text>`);
    } else {
      const vals = s.buckets.map((b) => (p.key === 'rps' ? b.rps : p.key === 'p99' ? b.p99 : b.errors));
      let ref: number | undefined;
      let ref2: number | undefined;
      if (p.key === 'rps') ref = c.bareRps;
      if (p.key === 'p99' && c.steadyP99 !== undefined) {
        ref = c.steadyP99;
        ref2 = 2 * c.steadyP99;
      }
      let maxV = niceMax(Math.max(...vals.filter(Number.isFinite), ref2 ?? ref ?? 0, p.key === 'errors' ? 4 : 0));
      if (p.key === 'errors') maxV = Math.ceil(maxV / 4) * 4;
      const y = (v: number): number => yb - (Math.max(0, v) / maxV) * h;
      for (let k = 0; k <= 4; k++) {
        const v = (maxV * k) / 4;
        const yy = y(v).toFixed(1);
        out.push(`<line x1="${LEFT}" y1="${yy}" x2="${LEFT + PLOT_W}" y2="${yy}" stroke="#e4e4e4"/><text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
      }
      if (p.key === 'errors') {
        for (let b = 0; b < s.buckets.length; b++) {
          const bk = s.buckets[b];
          if (bk === undefined || bk.errors === 0) continue;
          out.push(`<rect x="${x(bk.t).toFixed(1)}" y="${y(bk.errors).toFixed(1)}" width="${Math.max(2, Math.min(bw, LEFT + PLOT_W - x(bk.t))).toFixed(1)}" height="${(yb - y(bk.errors)).toFixed(1)}" fill="#d62728"/>`);
        }
        const total = s.buckets.reduce((a, b) => a + b.errors, 0);
        out.push(`<text x="${W - RIGHT + 12}" y="${y0 + 14}">${total} failed</text>`);
      } else {
        const pts: string[] = [];
        s.buckets.forEach((bk, b) => {
          const v = vals[b] as number;
          if (!Number.isFinite(v)) return;
          pts.push(`${(x(bk.t) + bw / 2).toFixed(1)},${y(v).toFixed(1)}`);
        });
        const color = p.key === 'rps' ? '#1f77b4' : '#2ca02c';
        out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.4" points="${pts.join(' ')}"/>`);
        if (ref !== undefined && Number.isFinite(ref)) {
          const label = p.key === 'rps' ? `better bare cluster steady ${fmt(ref)}/s` : `baton steady p99 ${fmt(ref)} ms`;
          out.push(`<line x1="${LEFT}" y1="${y(ref).toFixed(1)}" x2="${LEFT + PLOT_W}" y2="${y(ref).toFixed(1)}" stroke="#888" stroke-dasharray="6,3"/><text x="${W - RIGHT + 12}" y="${(y(ref) + 4).toFixed(1)}" fill="#555">${esc(label)}</text>`);
        }
        if (ref2 !== undefined && Number.isFinite(ref2)) {
          const ly = ref !== undefined && Math.abs(y(ref2) - y(ref)) < 13 ? y(ref) - 13 : y(ref2);
          out.push(`<line x1="${LEFT}" y1="${y(ref2).toFixed(1)}" x2="${LEFT + PLOT_W}" y2="${y(ref2).toFixed(1)}" stroke="#d62728" stroke-dasharray="2,3"/><text x="${W - RIGHT + 12}" y="${(ly + 4).toFixed(1)}" fill="#d62728">2 x steady p99</text>`);
        }
      }
    }
    // event labels over the first panel, when there is room
    if (p.key === 'rps') {
      let lastX = -100;
      for (const e of c.events) {
        const xs = x(e.signalAt / 1000);
        if (xs - lastX < 16) continue;
        lastX = xs;
        out.push(`<text x="${xs.toFixed(1)}" y="${y0 + 11}" text-anchor="middle" font-size="10" font-weight="bold" fill="${e.kind === 'upgrade' ? UPGRADE : RELOAD}">${e.kind === 'upgrade' ? 'U' : 'R'}${e.index}${e.ok ? '' : '!'}</text>`);
      }
    }
    y0 = yb + gapY;
  }
  // time axis
  const yAxis = y0 - gapY + 14;
  const stepCandidates = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  const step = stepCandidates.find((st) => spanS / st <= 12) ?? 600;
  for (let t = 0; t <= spanS + 1e-9; t += step) {
    out.push(`<text x="${x(t).toFixed(1)}" y="${yAxis}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<text x="${LEFT + PLOT_W / 2}" y="${yAxis + 16}" text-anchor="middle">seconds since the load started (buckets of ${s.bucketMs} ms, by response time)</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Several charts one above the other in one SVG document (nested <svg> elements, SVG 1.1). */
export function stackCharts(charts: string[]): string {
  if (charts.length === 1) return charts[0] as string;
  const size = (svg: string): [number, number] => {
    const m = /^<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg);
    return m ? [Number(m[1]), Number(m[2])] : [W, 0];
  };
  let y = 0;
  const inner: string[] = [];
  for (const c of charts) {
    const [, h] = size(c);
    inner.push(c.trimEnd().replace(/^<svg /, `<svg x="0" y="${y}" `));
    y += h;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Math.max(y, 1)}" viewBox="0 0 ${W} ${Math.max(y, 1)}">\n${inner.join('\n')}\n</svg>\n`;
}
