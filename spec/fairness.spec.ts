// Workers that accept for themselves, kept fair (lib/pool/balance.ts), with real processes:
// keep-alive connections that all sit on one worker are spread by shedding (the overloaded
// worker answers some requests with `Connection: close`; their clients reconnect to another
// worker), and not one request fails on the way.
import { expect } from 'chai';
import * as http from 'node:http';
import { cli } from './support/cli';
import { perTest, request, Server, waitFor } from './support/harness';

describe('fairness among workers that accept themselves (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  it('keep-alive connections all on one worker: a worker added by SIGTTIN gets its share within a second (shed, not reset); nothing fails', async () => {
    const pidFile = t.dir.file('baton.pid');
    t.server = new Server(t.dir, { WORKERS: '1', PID_FILE: pidFile });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const served: Array<{ at: number; pid: number }> = [];
    const errors: string[] = [];
    let stop = false;
    const start = Date.now();
    const loop = async (): Promise<void> => {
      while (!stop && Date.now() - start < 20_000 && served.length < 200_000) {
        try {
          const r = await request({ port }, '/', agent);
          served.push({ at: Date.now(), pid: Number(r.json?.pid) });
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    };
    const loops = Array.from({ length: 16 }, loop);
    let second: number;
    let from: number;
    try {
      // every connection is on the one worker; a second one joins, with nothing to accept
      await waitFor('16 connections busy', () => served.length > 500, 10_000);
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
      for (const w of workers) expect(w.fairness.handles, 'duplicates sent to each worker').to.be.at.least(2);
    } finally {
      stop = true;
      await Promise.all(loops);
      agent.destroy();
    }
    expect(errors).to.deep.equal([]);
    const late = served.filter((s) => s.at >= from);
    expect(late.length, 'requests answered in the measured second').to.be.greaterThan(100);
    const share = late.filter((s) => s.pid === second).length / late.length;
    // its share is half; the bench holds the balance to 1.25 x; here at least a third
    expect(share, `the new worker served ${late.filter((s) => s.pid === second).length} of ${late.length}`).to.be.at.least(1 / 3);
  });

  it('a reload on probation: half the keep-alive clients move to the new generation, which serves them before the old one drains; nothing fails', async () => {
    t.server = new Server(t.dir, { WORKERS: '1', PROBATION: '2500' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const served: Array<{ at: number; pid: number }> = [];
    const errors: string[] = [];
    let stop = false;
    const start = Date.now();
    const loop = async (): Promise<void> => {
      while (!stop && Date.now() - start < 20_000 && served.length < 200_000) {
        try {
          const r = await request({ port }, '/', agent);
          served.push({ at: Date.now(), pid: Number(r.json?.pid) });
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    let fresh: number;
    let from: number;
    let until: number;
    try {
      await waitFor('8 connections busy', () => served.length > 300, 10_000);
      process.kill(t.server.pid, 'SIGHUP');
      fresh = (await t.server.waitEvent('worker-ready', 2, 10_000)).pid as number;
      // from 300 ms after it took over to the end of its probation: the old one still serves
      from = Date.now() + 300;
      await waitFor('the probation has run a second', () => Date.now() > from + 1_000, 5_000, 50);
      until = Date.now();
      expect(t.server.count('reload-succeeded'), 'still on probation').to.equal(0);
    } finally {
      stop = true;
      await Promise.all(loops);
      agent.destroy();
    }
    expect(errors).to.deep.equal([]);
    const window = served.filter((s) => s.at >= from && s.at <= until);
    expect(window.length, 'requests answered during the probation').to.be.greaterThan(100);
    const share = window.filter((s) => s.pid === fresh).length / window.length;
    // half the connections moved: about half the requests; without moving any it serves none
    expect(share, `the new generation served ${window.filter((s) => s.pid === fresh).length} of ${window.length}`).to.be.within(0.2, 0.8);
  });
});
