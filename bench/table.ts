// The human-readable report printed at the end of a bench run (stdout, or stderr with --json).
import { renderMatrix } from './matrix-table';
import { renderPrice } from './price-table';
import type { BenchResult } from './result';
import type { TargetStats } from './stats';
import { errs, kib, ms, pad } from './text';

function targets(r: BenchResult): string {
  const rows: string[][] = [['target', 'requests', 'rps', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors', 'non2xx', 'stall ms']];
  const add = (name: string, t: TargetStats): void => {
    rows.push([name, String(t.requests), t.rps.toFixed(0), ms(t.p50), ms(t.p99), ms(t.p999), ms(t.max), errs(t), String(t.non2xx), ms(t.maxGapMs)]);
  };
  for (const c of r.steady.cells) add(`${c.target}${c.target === 'single' ? '' : ` x${c.workers}`} ${c.load} (${c.stats.runs} runs)`, c.stats);
  for (const s of r.upgradePhase.segments) add(`upgrades under ${s.load}`, s.stats);
  if (r.upgradePhase.segments.length > 0) {
    add('  during upgrades', r.upgradePhase.windows.duringUpgrades);
    add('  during reloads', r.upgradePhase.windows.duringReloads);
  }
  return pad(rows) + '(rps: answered requests per second of sending, all rounds merged; latencies of answered requests; stall: longest time with no response'
    + ' completed;\n "during": requests sent between a signal and its old generation gone, all segments)\n';
}

function events(r: BenchResult): string {
  if (r.events.length === 0) return '';
  const er: string[][] = [['event', 'load', 'from -> to', 'signal at s', 'to serving ms', 'to first new response ms', 'to old gone ms', 'after / steady', 'ok']];
  for (const e of r.events) {
    er.push([
      `${e.kind} ${e.index}`, e.load, `${e.fromVersion} -> ${e.toVersion}`, (e.signalAt / 1000).toFixed(2), ms(e.toServingMs),
      e.firstNewResponseAt === null ? '-' : ms(e.firstNewResponseAt - e.signalAt), ms(e.toOldGoneMs),
      e.afterRatio === null ? '-' : e.afterRatio.toFixed(2), e.ok ? 'yes' : `NO: ${e.reason ?? ''}`,
    ]);
  }
  const shown = er.length > 41 ? [...er.slice(0, 21), ['...', '', '', '', '', '', '', '', ''], ...er.slice(-20)] : er;
  const u = r.eventSummary.upgrades;
  const l = r.eventSummary.reloads;
  return `${pad(shown)}(signal at: s since its segment's load started; after / steady: throughput from old gone to the next signal, / baton steady)\n`
    + `upgrades: ${u.ok}/${u.count} ok, signal -> serving median ${ms(u.toServingMedianMs)} ms (max ${ms(u.toServingMaxMs)}), -> old gone median ${ms(u.toOldGoneMedianMs)} ms (max ${ms(u.toOldGoneMaxMs)})\n`
    + `reloads:  ${l.ok}/${l.count} ok, signal -> serving median ${ms(l.toServingMedianMs)} ms (max ${ms(l.toServingMaxMs)}), -> old gone median ${ms(l.toOldGoneMedianMs)} ms (max ${ms(l.toOldGoneMaxMs)})\n`;
}

function soak(r: BenchResult): string {
  const k = r.soak;
  const out: string[] = [];
  if (k.samples.length > 0) {
    out.push(`soak, the serving master after each of the ${k.samples.length} upgrades and reloads (compared from ${k.fds.baseline}):`);
    out.push(`  fds  first ${k.fds.first ?? '-'}  last ${k.fds.last ?? '-'}  min ${k.fds.min ?? '-'}  max ${k.fds.max ?? '-'}  (without TCP connections; those held through a window: max ${k.connFds.max ?? '-'}, bound ${k.connFds.bound})`);
    out.push(`  RSS  first ${kib(k.rssKiB.first)}  last ${kib(k.rssKiB.last)}  max ${kib(k.rssKiB.max)}  (bound ${kib(k.rssKiB.bound)}); trend ${k.rssKiB.slopePerUpgrade === null ? `n/a (${k.rssKiB.slopeSamples} upgrades)` : `${k.rssKiB.slopePerUpgrade} KiB per upgrade over ${k.rssKiB.slopeSamples}`} (bound ${k.rssKiB.slopeBound})`);
  }
  out.push(`leftover processes: ${k.leftoverPids.length}${k.leftoverPids.length ? ` (${k.leftover.beforeStop.length ? `besides the serving generation before the stop: ${k.leftover.beforeStop.join(', ')}; ` : ''}after the stop: ${k.leftover.afterStop.join(', ') || 'none'})` : ''}\n`);
  return out.join('\n');
}

export function renderReport(r: BenchResult): string {
  const out: string[] = [];
  const c = r.config;
  out.push(`\nbaton bench, ${r.startedAt} (${r.wallS} s): W = ${c.workersSet.join(', ')} (upgrade phase ${c.workers}), ${c.connections} connections, delay ${c.delayMs} ms, ${c.durationS} s per steady run`);
  out.push(`command: ${r.command}`);
  out.push(`machine: ${r.machine.nproc} cores (${r.machine.cpu}), node ${r.machine.node}, ${r.machine.uname}`);
  out.push(`load average at start ${r.machine.loadavgStart.join(' ')}, at end ${r.machine.loadavgEnd.join(' ')}\n`);
  out.push(renderPrice(r.price, r.goals));
  if (r.client === 'node') out.push('no price per core: wrk was not used (not installed, or --client node); the matrix below is the bench\'s own Node client\'s, on the servers\' CPUs, its ratios reported, not judged\n');
  else out.push('the Node client (every request recorded and accounted for): baton alone, the upgrade phase\'s steady figures and its balance\n');
  out.push(renderMatrix(r));
  out.push(targets(r));
  const b = r.boot;
  out.push(`boot to serving (W=${b.workers}): bare cluster idle ${b.bareIdleMs.join(', ')} ms (median ${ms(b.bareIdleMedianMs)}), bare cluster under load ${ms(b.bareUnderLoadMs)} ms, baton cold ${ms(b.batonColdMs)} ms\n`);
  out.push(events(r));
  out.push(soak(r));

  out.push(`goals (* = asserted: a missed one makes the exit status 1; the others are reported only${r.config.assertGoals ? '' : '; throughput and balance goals are asserted with --assert-goals'}):`);
  for (const g of r.goals) {
    const state = g.value === null ? 'n/a    ' : g.unjudged ? 'NOT JUDGED' : g.met ? 'met    ' : 'MISSED ';
    out.push(`  ${g.asserted ? '*' : ' '} ${state} ${g.what}: ${g.value === null ? '-' : g.value} (target ${g.target})${g.unjudged ? ` (${g.unjudged})` : ''}`);
  }
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
