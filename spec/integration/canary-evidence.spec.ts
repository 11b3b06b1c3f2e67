// The canary on evidence, end to end (issue 21): an app whose workers connect a pool on their first
// requests, as most apps do, is upgraded and reloaded with the default probation (3000 ms; each new
// worker's first 1000 ms of serving, its warm-up, left out of the window) and never rolled back for it; a release 5x slower,
// or answering 500 to 30 % of its requests, still is, on a reload and on an upgrade.
import { expect } from 'chai';
import { Load, perTest, Server, type Release } from '../support/harness';

/** The app: every worker connects its pool (150 ms) on its first request; a query takes 20 ms. */
const POOLED: Release = { version: 'v0', poolMs: 150, queryMs: 20 };

describe('canary: warm-up and evidence (integration)', function () {
  this.timeout(90_000);
  const t = perTest();

  async function start(): Promise<{ server: Server; port: number }> {
    t.dir.release(POOLED);
    // the library's own probation defaults: 3000 ms, warm-up 1000 ms, minRequests 20
    const server = new Server(t.dir, { WORKERS: '2', PROBATION: '3000' });
    t.server = server;
    await server.waitEvent('serving');
    return { server, port: await server.port() };
  }

  /** The canary's verdict lines (info) so far. */
  function verdicts(server: Server): string[] {
    return server.stderr.split('\n').filter((l) => / info canary: (generation|new master) \d+: /.test(l));
  }

  it('unchanged code with a pool that connects on the first requests: 4 reloads and 2 upgrades under load, each judged on its figures and promoted', async () => {
    const { server, port } = await start();
    const load = new Load({ port }, { keepAlive: 8, fresh: 2, maxMs: 60_000, maxRequests: 100_000 });
    try {
      await load.progress(100);
      for (let i = 1; i <= 6; i++) {
        const upgrade = i % 3 === 0;
        t.dir.release({ ...POOLED, version: `v${i}` });
        process.kill(server.servingMaster(), upgrade ? 'SIGUSR2' : 'SIGHUP');
        if (upgrade) await server.waitEvent('upgrade-succeeded', i / 3, 20_000);
        else await server.waitEvent('reload-succeeded', i - Math.floor(i / 3), 20_000);
        await load.progress(100);
      }
      expect(server.count('reload-failed') + server.count('upgrade-failed'), server.stderr).to.equal(0);
      const lines = verdicts(server);
      expect(lines, server.stderr).to.have.length(6);
      // judged on the figures (not "too few to judge"), after the warm-up, which left responses out
      for (const l of lines) expect(l).to.match(/: pass: 5xx 0\.0% \(\d+ of \d+\) vs 0\.0% \(\d+ of \d+\), p99 .* in probation \(after a 1000 ms warm-up, [1-9]\d* response\(s\) of the new generation left out\)/);
    } finally {
      const stats = await load.stop();
      expect(stats.errors).to.deep.equal([]);
      expect(stats.non2xx).to.equal(0);
    }
  });

  it('a release 5x slower (100 ms queries instead of 20), and one answering 500 to 30 %: rolled back on a reload and on an upgrade', async () => {
    const { server, port } = await start();
    const load = new Load({ port }, { keepAlive: 8, fresh: 2, maxMs: 60_000, maxRequests: 100_000 });
    try {
      await load.progress(100);
      const bad: Array<[Release, RegExp]> = [
        [{ ...POOLED, version: 'slow', queryMs: 100 }, /rolled back: p\d+ at least \d+ ms vs at most \d+(\.\d)? ms \(\d+\.\dx, limit 3x(, of at least 20 ms)?, 99% confidence\) in probation \(after a 1000 ms warm-up/],
        [{ ...POOLED, version: 'errors', errors: 3 }, /rolled back: 5xx \d+\.\d% \(\d+ of \d+\) vs 0\.0% \(0 of \d+\): an excess of at least \d+\.\d% \(99% confidence\), above maxErrorRate 5\.0% in probation \(after a 1000 ms warm-up/],
      ];
      let reloads = 0;
      let upgrades = 0;
      for (const [release, says] of bad) {
        t.dir.release(release);
        process.kill(server.pid, 'SIGHUP');
        const r = await server.waitEvent('reload-failed', ++reloads, 20_000);
        expect(String(r.reason)).to.match(new RegExp(`^reload ${says.source}`));
        await load.progress(50);
        process.kill(server.pid, 'SIGUSR2');
        const u = await server.waitEvent('upgrade-failed', ++upgrades, 20_000);
        expect(String(u.reason)).to.match(new RegExp(`^upgrade ${says.source}`));
        await load.progress(50);
      }
      expect(server.count('reload-succeeded') + server.count('upgrade-succeeded')).to.equal(0);
      // the old code served on: a request now is answered by it
      await load.progress(50);
    } finally {
      const stats = await load.stop();
      expect(stats.errors).to.deep.equal([]);
      expect(stats.versions.get('v0')).to.be.greaterThan(0);
    }
  });
});
