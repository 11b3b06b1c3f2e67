// Issue 12 end to end: real masters, workers, sockets and signals. The canary at the end of a
// reload's probation; metrics as Prometheus text; /readyz and shutdownDelay.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { Load, perTest, Server } from '../support/harness';
import { parsePrometheus } from '../support/prom-parse';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

const BIN = path.resolve(__dirname, '../../bin/baton.js');

/** A port nobody listens on now (bound and closed at once). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `baton_requests_total` summed over its series, and per generation and class. */
function requestsTotal(text: string): { total: number; by: Map<string, number> } {
  const f = parsePrometheus(text).get('baton_requests_total');
  const by = new Map<string, number>();
  let total = 0;
  for (const s of f?.samples ?? []) {
    total += s.value;
    by.set(`${s.labels.generation}/${s.labels.code}`, s.value);
  }
  return { total, by };
}

describe('observe: metrics, health, canary probation (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  async function start(env: Record<string, string>): Promise<{ server: Server; port: number }> {
    const server = new Server(t.dir, { WORKERS: '2', PROBATION: '1500', MIN_REQUESTS: '20', ...env });
    t.server = server;
    await server.waitEvent('serving');
    return { server, port: await server.port() };
  }

  it('a release that answers 500 to 30 % of requests is rolled back on reload with the figures, the old generation serving throughout', async () => {
    const metricsPort = await freePort();
    const { server, port } = await start({ METRICS_PORT: String(metricsPort) });
    const load = new Load({ port }, { keepAlive: 3, fresh: 1, maxMs: 20_000, maxRequests: 20_000 });
    try {
      await load.progress(50);
      t.dir.release({ version: 'v1', errors: 3 });
      process.kill(server.pid, 'SIGHUP');
      const failed = await server.waitEvent('reload-failed', 1, 15_000);
      expect(failed.reason).to.match(/^reload rolled back: 5xx \d+\.\d% \(\d+ of \d+\) vs 0\.0% \(0 of \d+\): an excess of at least \d+\.\d% \(99% confidence\), above maxErrorRate 5\.0% in probation \(after a \d+ ms warm-up, \d+ response\(s\) of the new generation left out\)$/);
      const share = Number(/5xx (\d+\.\d)%/.exec(String(failed.reason))?.[1]);
      expect(share).to.be.within(20, 40);
      expect(server.count('reload-succeeded')).to.equal(0);
      // the old generation takes every new connection again
      await load.progress(100);
      const after = await request({ port });
      expect(after.status).to.equal(200);
      expect(after.json?.version).to.equal('v0');
      const m = requestsTotal((await request({ port: metricsPort }, '/metrics')).body);
      expect(m.by.get('2/5xx')).to.be.greaterThan(0);
      expect(parsePrometheus((await request({ port: metricsPort }, '/metrics')).body).get('baton_reloads_total')?.samples.find((s) => s.labels.result === 'rolled_back')?.value).to.equal(1);
    } finally {
      const stats = await load.stop();
      // nothing failed: the only non-2xx answers are the bad release's own 500s
      expect(stats.errors).to.deep.equal([]);
      expect(stats.non2xx).to.be.greaterThan(0);
    }
    await server.waitEvent('generation-drained', 1, 15_000, (e) => e.generation === 2);
  });

  it('a release slower by 5x is rolled back on reload; a healthy one under the same load is promoted', async () => {
    // on probation the new generation gets half the keep-alive connections: at 150 ms an answer, 6 of them
    // serve ~40 in the 1.3 s after their warm-up (a third of probation, left out)
    const pidFile = t.dir.file('app.pid');
    const { server, port } = await start({ MIN_REQUESTS: '10', PID_FILE: pidFile, PROBATION: '2000' });
    const load = new Load({ port }, { keepAlive: 12, fresh: 0, maxMs: 30_000, maxRequests: 20_000 });
    try {
      await load.progress(40);
      // the old generation answers at once (p99 below the 20 ms floor): 150 ms is > 3 x 20 ms
      t.dir.release({ version: 'v1', slowMs: 150 });
      process.kill(server.pid, 'SIGHUP');
      const failed = await server.waitEvent('reload-failed', 1, 15_000);
      expect(failed.reason).to.match(/^reload rolled back: p\d+ at least \d+ ms vs at most [\d.]+ ms \(\d+\.\dx, limit 3x, of at least 20 ms, 99% confidence\) in probation \(after a \d+ ms warm-up, \d+ response\(s\) of the new generation left out\)$/);
      t.dir.release({ version: 'v2' });
      process.kill(server.pid, 'SIGHUP');
      await server.waitEvent('reload-succeeded', 1, 15_000);
      expect((await request({ port })).json?.version).to.equal('v2');
      // baton history: both, triggered by the signal, the reason's figures included
      const out = execFileSync(process.execPath, [BIN, 'history', '--pid-file', pidFile], { encoding: 'utf8' });
      const lines = out.trim().split('\n');
      expect(lines).to.have.length(2);
      expect(lines[0]).to.match(/ reload  signal rolled_back .* -> gen 2 .*: reload rolled back: p\d+ at least /);
      expect(lines[1]).to.match(/ reload  signal succeeded .* -> gen 3 /);
      const json = execFileSync(process.execPath, [BIN, 'history', '--json', '--pid-file', pidFile], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l) as { result: string });
      expect(json.map((r) => r.result)).to.deep.equal(['rolled_back', 'succeeded']);
    } finally {
      const stats = await load.stop();
      expect(stats.errors).to.deep.equal([]);
    }
  });

  it('/readyz turns 503 before the drain starts and requests keep succeeding during shutdownDelay; metrics parse as Prometheus text', async () => {
    const healthPort = await freePort();
    const { server, port } = await start({ HEALTH_PORT: String(healthPort), METRICS_PORT: String(healthPort), SHUTDOWN_DELAY: '1500' });
    expect((await request({ port: healthPort }, '/readyz')).status).to.equal(200);
    expect((await request({ port: healthPort }, '/livez')).status).to.equal(200);
    for (let i = 0; i < 5; i++) expect((await request({ port })).status).to.equal(200);
    const text = (await request({ port: healthPort }, '/metrics')).body;
    const fams = parsePrometheus(text);
    for (const name of ['baton_requests_total', 'baton_request_duration_seconds', 'baton_connections', 'baton_workers', 'baton_worker_restarts_total', 'baton_upgrades_total', 'baton_reloads_total', 'baton_generation_info', 'baton_drain_forced_total']) {
      expect(fams.has(name), name).to.equal(true);
    }
    await waitFor('5 responses counted', async () => requestsTotal((await request({ port: healthPort }, '/metrics')).body).total >= 5, 5_000);

    const stoppedAt = Date.now();
    process.kill(server.pid, 'SIGTERM');
    await waitFor('/readyz 503', async () => (await request({ port: healthPort }, '/readyz')).status === 503, 1_000);
    expect((await request({ port: healthPort }, '/readyz')).body).to.equal('not ready: stopping (shutdownDelay)\n');
    // serving normally meanwhile, new connections included
    let served = 0;
    while (Date.now() - stoppedAt < 1_000) {
      expect((await request({ port })).status).to.equal(200);
      served++;
    }
    expect(served).to.be.greaterThan(0);
    expect(server.count('stopping')).to.equal(0);
    await server.waitEvent('stopping', 1, 5_000);
    expect(Date.now() - stoppedAt).to.be.at.least(1_400);
    await waitFor('the master exits', () => server.exitCode !== undefined, 15_000);
    expect(server.exitCode).to.equal(0);
  });

  it('baton_requests_total does not decrease across 3 upgrades, and /metrics and /readyz answer throughout', async () => {
    const port2 = await freePort();
    const { server, port } = await start({ METRICS_PORT: String(port2), HEALTH_PORT: String(port2), PROBATION: '300' });
    const load = new Load({ port }, { keepAlive: 2, fresh: 1, maxMs: 40_000, maxRequests: 50_000 });
    let last = 0;
    let scrapes = 0;
    const failures: string[] = [];
    let scraping = true;
    const scraper = (async () => {
      while (scraping && scrapes < 2_000) {
        scrapes++;
        try {
          const m = await request({ port: port2 }, '/metrics');
          const r = await request({ port: port2 }, '/readyz');
          if (m.status !== 200 || r.status !== 200) failures.push(`metrics ${m.status}, readyz ${r.status}: ${r.body.trim()}`);
          const total = requestsTotal(m.body).total;
          if (total < last) failures.push(`baton_requests_total fell from ${last} to ${total}`);
          last = Math.max(last, total);
        } catch (err) {
          failures.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    try {
      for (let i = 1; i <= 3; i++) {
        await load.progress(30);
        t.dir.release({ version: `v${i}` });
        process.kill(server.servingMaster(), 'SIGUSR2');
        await server.waitEvent('upgrade-succeeded', i, 20_000);
        await server.waitEvent('serving', i + 1, 20_000);
      }
      await load.progress(30);
      await new Promise((r) => setTimeout(r, 300)); // a few more scrapes of the last master
    } finally {
      scraping = false;
      await scraper;
      const stats = await load.stop();
      expect(stats.errors).to.deep.equal([]);
    }
    expect(failures).to.deep.equal([]);
    expect(scrapes).to.be.greaterThan(10);
    // what the first masters' generations served is still counted by the last one
    const by = requestsTotal((await request({ port: port2 }, '/metrics')).body).by;
    expect(by.get('1/2xx')).to.be.greaterThan(0);
  });
});
