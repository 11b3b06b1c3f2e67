// The human-readable report printed at the end of a bench run.
import type { BenchResult } from './run';
import type { TargetStats } from './stats';

function pad(cells: string[][]): string {
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd()).join('\n') + '\n';
}

function ms(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

function kib(x: number | null): string {
  return x === null ? '-' : `${(x / 1024).toFixed(1)} MiB`;
}

function errs(t: TargetStats): string {
  const parts = Object.entries(t.errors).map(([k, v]) => `${k}:${v}`);
  if (t.inflight > 0) parts.push(`in-flight:${t.inflight}`);
  return parts.length ? parts.join(' ') : '0';
}

export function renderReport(r: BenchResult): string {
  const out: string[] = [];
  const c = r.config;
  out.push(`\nbaton bench, ${r.startedAt} (${r.wallS} s): ${c.workers} workers, ${c.connections} connections, keep-alive share ${c.keepAliveShare}, delay ${c.delayMs} ms, ${c.durationS} s per steady run`);
  out.push(`machine: ${r.machine.nproc} cores (${r.machine.cpu}), node ${r.machine.node}, ${r.machine.uname}`);
  out.push(`load average at start ${r.machine.loadavgStart.join(' ')}, at end ${r.machine.loadavgEnd.join(' ')}\n`);
  const rows: string[][] = [['target', 'requests', 'rps', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors', 'non2xx', 'stall ms']];
  const add = (name: string, t: TargetStats): void => {
    rows.push([name, String(t.requests), t.rps.toFixed(0), ms(t.p50), ms(t.p99), ms(t.p999), ms(t.max), errs(t), String(t.non2xx), ms(t.maxGapMs)]);
  };
  add('single', r.targets.single);
  add(`bare (${r.targets.bare.runs} runs)`, r.targets.bare);
  add(`batonSteady (${r.targets.batonSteady.runs} runs)`, r.targets.batonSteady);
  add('batonUpgrades', r.targets.batonUpgrades);
  add('  during upgrades', r.windows.duringUpgrades);
  add('  during reloads', r.windows.duringReloads);
  out.push(pad(rows));
  out.push('(rps: answered requests per second of sending; latencies of answered requests; stall: longest time with no response completed;\n "during": requests sent between a signal and its old generation gone)\n');

  const b = r.ratios;
  out.push(`ratios baton/bare, steady, ${b.pairs.length} alternating pairs (bare, baton, bare, baton, ...):`);
  out.push(`  throughput  median ${b.batonOverBare.toFixed(3)}  (pairs ${b.pairs.map((p) => p.ratio.toFixed(3)).join(' ')}; min ${b.min.toFixed(3)}, max ${b.max.toFixed(3)}, spread ${b.spread.toFixed(3)})`);
  out.push(`  p99         median ${b.p99BatonOverBare.toFixed(3)}  (pairs ${b.pairs.map((p) => p.p99Ratio.toFixed(3)).join(' ')})`);
  out.push(`  baton/single throughput ${(r.targets.batonSteady.rps / r.targets.single.rps).toFixed(3)}, bare/single ${(r.targets.bare.rps / r.targets.single.rps).toFixed(3)}\n`);

  out.push(`boot to serving: bare cluster idle ${r.boot.bareIdleMs.join(', ')} ms (median ${ms(r.boot.bareIdleMedianMs)}), bare cluster under load ${ms(r.boot.bareUnderLoadMs)} ms, baton cold ${ms(r.boot.batonColdMs)} ms\n`);

  if (r.events.length > 0) {
    const er: string[][] = [['event', 'from -> to', 'signal at s', 'to serving ms', 'to first new response ms', 'to old gone ms', 'ok']];
    for (const e of r.events) {
      er.push([
        `${e.kind} ${e.index}`,
        `${e.fromVersion} -> ${e.toVersion}`,
        (e.signalAt / 1000).toFixed(2),
        ms(e.toServingMs),
        e.firstNewResponseAt === null ? '-' : ms(e.firstNewResponseAt - e.signalAt),
        ms(e.toOldGoneMs),
        e.ok ? 'yes' : `NO: ${e.reason ?? ''}`,
      ]);
    }
    const shown = er.length > 41 ? [...er.slice(0, 21), ['...', '', '', '', '', '', ''], ...er.slice(-20)] : er;
    out.push(pad(shown));
    const u = r.eventSummary.upgrades;
    const l = r.eventSummary.reloads;
    out.push(`upgrades: ${u.ok}/${u.count} ok, signal -> serving median ${ms(u.toServingMedianMs)} ms (max ${ms(u.toServingMaxMs)}), -> old gone median ${ms(u.toOldGoneMedianMs)} ms (max ${ms(u.toOldGoneMaxMs)})`);
    out.push(`reloads:  ${l.ok}/${l.count} ok, signal -> serving median ${ms(l.toServingMedianMs)} ms (max ${ms(l.toServingMaxMs)}), -> old gone median ${ms(l.toOldGoneMedianMs)} ms (max ${ms(l.toOldGoneMaxMs)})\n`);
  }

  const k = r.soak;
  if (k.samples.length > 0) {
    out.push(`soak, the serving master after each of the ${k.samples.length} upgrades and reloads (compared from ${k.fds.baseline}):`);
    out.push(`  fds  first ${k.fds.first ?? '-'}  last ${k.fds.last ?? '-'}  min ${k.fds.min ?? '-'}  max ${k.fds.max ?? '-'}  (without TCP connections; those held through a window: max ${k.connFds.max ?? '-'}, bound ${k.connFds.bound})`);
    out.push(`  RSS  first ${kib(k.rssKiB.first)}  last ${kib(k.rssKiB.last)}  max ${kib(k.rssKiB.max)}  (bound ${kib(k.rssKiB.bound)}); trend ${k.rssKiB.slopePerUpgrade === null ? `n/a (${k.rssKiB.slopeSamples} upgrades)` : `${k.rssKiB.slopePerUpgrade} KiB per upgrade over ${k.rssKiB.slopeSamples}`} (bound ${k.rssKiB.slopeBound})`);
  }
  out.push(`leftover processes: ${k.leftoverPids.length}${k.leftoverPids.length ? ` (${k.leftover.beforeStop.length ? `besides the serving generation before the stop: ${k.leftover.beforeStop.join(', ')}; ` : ''}after the stop: ${k.leftover.afterStop.join(', ') || 'none'})` : ''}\n`);

  out.push('goals (* = asserted: a missed one makes the exit status 1; the others are reported only):');
  for (const g of r.goals) out.push(`  ${g.asserted ? '*' : ' '} ${g.value === null ? 'n/a    ' : g.met ? 'met    ' : 'MISSED '} ${g.what}: ${g.value === null ? '-' : g.value} (target ${g.target})`);
  out.push('');
  const a = r.accounting;
  out.push(`every request: ${a.requests} sent = ${a.answered2xx} answered 2xx + ${a.non2xx} non-2xx + ${a.errors} failed + ${a.inflight} still in flight at the end (warm-ups included)`);
  out.push(`failed requests: ${r.failedRequests}`);
  for (const f of r.failures.slice(0, 10)) {
    const ev = f.lastEvent ? `, ${f.sinceSignalMs} ms after the ${f.lastEvent} signal${f.sinceServingMs !== undefined ? ` (${f.sinceServingMs} ms after it served)` : ''}` : '';
    out.push(`  ${f.what}: ${f.run}, sent at ${(f.sentAt / 1000).toFixed(3)} s on a ${f.keepAlive ? `keep-alive connection (${f.socketIdleMs === null ? 'new' : `reused after ${f.socketIdleMs} ms idle`})` : 'connection of its own'}, failed after ${f.afterMs ?? '-'} ms${ev}`);
  }
  if (r.failures.length > 10) out.push(`  ... (${r.failedRequests - 10} more; the JSON lists the first ${r.failures.length})`);
  if (r.serverStderr.length > 0) out.push(`server stderr (${r.serverStderr.length} line(s)), first: ${r.serverStderr.slice(0, 5).join(' | ')}`);
  if (r.leftoverPids.length > 0) out.push(`WARNING: processes left running: ${r.leftoverPids.join(', ')}`);
  out.push(`results: ${r.files.json}`);
  out.push(`chart:   ${r.files.svg}`);
  const missed = r.goals.filter((g) => g.asserted && !g.met).map((g) => g.what);
  out.push(`exit status ${r.exitCode}${missed.length ? ` (missed: ${missed.join('; ')})` : ''}\n`);
  return out.join('\n');
}
