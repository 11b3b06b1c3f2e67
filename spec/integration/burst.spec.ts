// A burst of long-lived connections (issue 18): 50 connections opened at once and held (raw
// TCP, one keep-alive HTTP request each, to learn which worker took it), onto 2 and 4
// workers, and the reconnect burst onto the generation a reload (SIGHUP) or an upgrade
// (SIGUSR2) brought. Where each lands is decided as it is accepted: a connection that
// stays is never moved by the rate of requests. Goal: the busiest worker holds at most
// 1.25 x the mean, and none holds none. Each run prints its figures ("burst ...").
import { expect } from 'chai';
import * as net from 'node:net';
import { perTest, Server } from '../support/harness';
import { waitFor } from '../support/wait';

const BURST = 50;

/** `n` connections opened in one go; each sends one request and is held open. Resolves with the pid that answered each. */
async function burst(port: number, n: number, held: net.Socket[]): Promise<number[]> {
  const pids: Array<number | undefined> = new Array(n).fill(undefined);
  const errors: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = net.connect(port, '127.0.0.1');
    held.push(c);
    let text = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write('GET / HTTP/1.1\r\nHost: burst\r\n\r\n'));
    c.on('data', (d: string) => {
      text += d;
      const m = /"pid":(\d+)/.exec(text);
      if (m && pids[i] === undefined) pids[i] = Number(m[1]);
    });
    c.on('error', (e) => errors.push(e.message));
  }
  await waitFor(() => `${pids.filter((p) => p !== undefined).length} of ${n} answered; errors: ${errors.join(', ')}`, () => pids.every((p) => p !== undefined), 15_000);
  expect(errors).to.deep.equal([]);
  return pids as number[];
}

/** Connections per worker (every worker of `workers` listed, with 0 if it got none). */
function spread(pids: number[], workers: number[]): number[] {
  return workers.map((w) => pids.filter((p) => p === w).length);
}

/** Prints the spread; what misses the goal goes into `misses` (every phase runs, then the test judges). */
function judge(what: string, pids: number[], workers: number[], misses: string[]): void {
  const per = spread(pids, workers);
  const mean = BURST / workers.length;
  // eslint-disable-next-line no-console
  console.log(`      burst ${what}: ${per.join('/')} (busiest ${(Math.max(...per) / mean).toFixed(2)} x the mean)`);
  if (per.reduce((a, b) => a + b, 0) !== BURST) misses.push(`${what}: only ${per.join('/')} of ${BURST} on the generation's workers`);
  else if (Math.max(...per) > 1.25 * mean || Math.min(...per) === 0) misses.push(`${what}: ${per.join('/')}`);
}

describe('a burst of long-lived connections is spread as it arrives (integration)', function () {
  this.timeout(60_000);
  const t = perTest();
  const held: net.Socket[] = [];
  afterEach(() => {
    for (const c of held.splice(0)) c.destroy();
  });

  /** The pids of the workers that announced ready after event number `after` (from 0). */
  function readyWorkers(server: Server, after: number): number[] {
    return server.events.slice(after).filter((e) => e.ev === 'worker-ready').map((e) => e.pid as number);
  }

  for (const workers of [2, 4]) {
    it(`${BURST} connections at once onto ${workers} workers, then the reconnect burst after a reload and after an upgrade: busiest <= 1.25 x the mean, none empty`, async () => {
      t.server = new Server(t.dir, { WORKERS: String(workers) });
      const server = t.server;
      const port = await server.port();
      await server.waitEvent('serving');
      await server.waitEvent('worker-ready', workers);
      const misses: string[] = [];
      judge(`W=${workers}`, await burst(port, BURST, held), readyWorkers(server, 0), misses);

      // a reload: the clients reconnect at once, onto the new generation
      let mark = server.events.length;
      process.kill(server.pid, 'SIGHUP');
      await server.waitEvent('reload-succeeded', 1, 20_000);
      for (const c of held.splice(0)) c.destroy();
      judge(`W=${workers} after a reload`, await burst(port, BURST, held), readyWorkers(server, mark), misses);

      // an upgrade: a new master, its own workers
      mark = server.events.length;
      process.kill(server.pid, 'SIGUSR2');
      await server.waitEvent('upgrade-succeeded', 1, 30_000);
      for (const c of held.splice(0)) c.destroy();
      judge(`W=${workers} after an upgrade`, await burst(port, BURST, held), readyWorkers(server, mark), misses);
      expect(misses, 'bursts whose busiest worker held more than 1.25 x the mean, or with a worker holding none').to.deep.equal([]);
    });
  }
});
