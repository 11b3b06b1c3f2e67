// Workers that accept for themselves, kept fair (lib/pool/balance.ts), with real processes:
// keep-alive connections that all sit on one worker are spread by shedding (the overloaded
// worker answers some requests with `Connection: close`; their clients reconnect to another
// worker), and not one request fails on the way. The same shedding moves half the pooled
// clients to a new generation or a new master on probation (lib/pool/probation.ts).
import { expect } from 'chai';
import * as http from 'node:http';
import { cli } from '../support/cli';
import { perTest, Server } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

/** `n` keep-alive loops (at most 20 s, 200,000 requests), each answer recorded with its time and pid. */
function keepAliveLoad(port: number, n: number): { served: Array<{ at: number; pid: number; closed: boolean }>; errors: string[]; stop(): Promise<void> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  const served: Array<{ at: number; pid: number; closed: boolean }> = [];
  const errors: string[] = [];
  let stopped = false;
  const start = Date.now();
  const loop = async (): Promise<void> => {
    while (!stopped && Date.now() - start < 20_000 && served.length < 200_000) {
      try {
        const r = await request({ port }, '/', { agent });
        served.push({ at: Date.now(), pid: Number(r.json?.pid), closed: r.closed === true });
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: n }, loop);
  return {
    served,
    errors,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

/** The answers between `from` and `until`, and the share of them `who` gave. */
function shareOf(served: Array<{ at: number; pid: number }>, from: number, until: number, who: (pid: number) => boolean): { n: number; mine: number; share: number } {
  const window = served.filter((s) => s.at >= from && s.at <= until);
  const mine = window.filter((s) => who(s.pid)).length;
  return { n: window.length, mine, share: window.length ? mine / window.length : 0 };
}

describe('fairness among workers that accept themselves (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  it('keep-alive connections all on one worker: a worker added by SIGTTIN gets its share within a second (shed, not reset); nothing fails', async () => {
    const pidFile = t.dir.file('baton.pid');
    t.server = new Server(t.dir, { WORKERS: '1', PID_FILE: pidFile });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = keepAliveLoad(port, 16);
    let second: number;
    let from: number;
    try {
      // every connection is on the one worker; a second one joins, with nothing to accept
      await waitFor('16 connections busy', () => load.served.length > 500, 10_000);
      process.kill(t.server.pid, 'SIGTTIN');
      second = (await t.server.waitEvent('worker-ready', 2, 10_000)).pid as number;
      from = Date.now() + 1_000;
      await waitFor('a second after it joined', () => Date.now() > from + 1_000, 5_000, 50);
      // the control's work shows in `baton status`: the first worker was told to shed
      const { status } = JSON.parse((await cli(['status', '--json', '--pid-file', pidFile])).stdout) as {
        status: { generations: Array<{ workers: Array<{ pid: number; fairness: { pauses: number; shed: number; handles: number } }> }> };
      };
      const workers = status.generations.flatMap((g) => g.workers);
      const first = workers.find((w) => w.pid !== second);
      expect(first?.fairness.shed, 'connections the first worker shed').to.be.greaterThan(0);
      // one duplicate per listener: a worker pauses and resumes on it, no spare is needed
      for (const w of workers) expect(w.fairness.handles, 'duplicates sent to each worker').to.equal(1);
    } finally {
      await load.stop();
    }
    expect(load.errors).to.deep.equal([]);
    const late = shareOf(load.served, from, Date.now(), (pid) => pid === second);
    expect(late.n, 'requests answered in the measured second').to.be.greaterThan(100);
    // its share is half; the bench holds the balance to 1.25 x; here at least a third
    expect(late.share, `the new worker served ${late.mine} of ${late.n}`).to.be.at.least(1 / 3);
  });

  it('a reload on probation: half the keep-alive clients move to the new generation, which serves them before the old one drains; nothing fails', async () => {
    t.server = new Server(t.dir, { WORKERS: '1', PROBATION: '2500' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = keepAliveLoad(port, 8);
    let fresh: number;
    let from: number;
    let until: number;
    try {
      await waitFor('8 connections busy', () => load.served.length > 300, 10_000);
      process.kill(t.server.pid, 'SIGHUP');
      fresh = (await t.server.waitEvent('worker-ready', 2, 10_000)).pid as number;
      // from 300 ms after it took over to the end of its probation: the old one still serves
      from = Date.now() + 300;
      await waitFor('the probation has run a second', () => Date.now() > from + 1_000, 5_000, 50);
      until = Date.now();
      expect(t.server.count('reload-succeeded'), 'still on probation').to.equal(0);
    } finally {
      await load.stop();
    }
    expect(load.errors).to.deep.equal([]);
    const w = shareOf(load.served, from, until, (pid) => pid === fresh);
    expect(w.n, 'requests answered during the probation').to.be.greaterThan(100);
    // half the connections moved: about half the requests; without moving any it serves none
    expect(w.share, `the new generation served ${w.mine} of ${w.n}`).to.be.within(0.2, 0.8);
  });

  it('an upgrade on probation: the old master sheds half its keep-alive connections to whichever master accepts; nothing fails', async () => {
    t.server = new Server(t.dir, { WORKERS: '1', PROBATION: '2500' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = keepAliveLoad(port, 8);
    let old: number;
    let from: number;
    try {
      await waitFor('8 connections busy', () => load.served.length > 300, 10_000);
      old = load.served[load.served.length - 1]?.pid as number;
      // one worker: the fairness control has nobody to shed to; only the probation closes connections
      from = Date.now();
      process.kill(t.server.pid, 'SIGUSR2');
      const started = await t.server.waitEvent('upgrade-started');
      await t.server.waitEvent('serving', 1, 10_000, (e) => e.master === started.pid);
      await waitFor('the probation log line', () => /upgrade-probation/.test(t.server!.stderr), 5_000);
      // both masters accept during an upgrade's probation: the kernel gives each reconnecting
      // client to one of them (a run on Node 24 gave all four back to the busy old worker), so
      // what is certain is the old master's half: answers that close their connection
      await waitFor('the old worker shed half its connections', () => load.served.filter((s) => s.at >= from && s.pid === old && s.closed).length >= 4, 3_000, 20);
      expect(t.server.count('upgrade-succeeded'), 'still on probation').to.equal(0);
      await t.server.waitEvent('upgrade-succeeded', 1, 10_000);
      await waitFor('the new master serves the pooled clients', () => load.served.slice(-100).every((s) => s.pid !== old), 10_000);
    } finally {
      await load.stop();
    }
    expect(load.errors).to.deep.equal([]);
  });
});
