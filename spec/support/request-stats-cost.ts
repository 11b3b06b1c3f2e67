// What counting responses (lib/observe/request-stats.ts) costs, measured in one process:
// a hello-world http server and a keep-alive client over loopback, a bounded number of
// requests per round, rounds alternating without and with counting (drift hits both alike).
// Not a spec: run it by hand, niced, on an otherwise idle machine:
//   nice -n 10 node -r ts-node/register/transpile-only spec/support/request-stats-cost.ts [rounds] [requests]
// The real figure is `npm run bench` (a separate load generator); this one only catches a
// gross cost early.
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RequestStats } from '../../lib/observe/request-stats';

const ROUNDS = Number(process.argv[2] ?? 10);
const REQUESTS = Number(process.argv[3] ?? 20_000);
const CONCURRENCY = 16;

async function round(counting: boolean): Promise<{ rps: number; cpuUs: number }> {
  const server = http.createServer((_req, res) => res.end('hello'));
  const stats = new RequestStats();
  if (counting) stats.watch(server);
  const tick = counting ? setInterval(() => stats.takeDelta(), 25) : undefined;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let sent = 0;
  const one = (): Promise<void> => new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
  const lane = async (): Promise<void> => {
    while (sent < REQUESTS) {
      sent++;
      await one();
    }
  };
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  if (tick) clearInterval(tick);
  stats.takeDelta();
  agent.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return { rps: REQUESTS / secs, cpuUs: (cpu.user + cpu.system) / REQUESTS };
}

/** ns per request the counting path itself adds: 'request' and 'close' on stand-in objects. */
function synthetic(n: number): number {
  const loop = (counting: boolean): number => {
    const server = http.createServer(() => undefined);
    if (counting) new RequestStats().watch(server);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const res = Object.assign(new EventEmitter(), { statusCode: 200, writableEnded: true });
      server.emit('request', {}, res);
      res.emit('close');
    }
    return Number(process.hrtime.bigint() - t0) / n;
  };
  loop(false);
  loop(true);
  const off: number[] = [];
  const on: number[] = [];
  for (let i = 0; i < 5; i++) {
    off.push(loop(false));
    on.push(loop(true));
  }
  return Math.min(...on) - Math.min(...off);
}

async function main(): Promise<void> {
  const nsPerRequest = synthetic(500_000);
  await round(false); // warm-up
  await round(true);
  const off: Array<{ rps: number; cpuUs: number }> = [];
  const on: Array<{ rps: number; cpuUs: number }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    // alternate the order so that neither always runs second
    if (i % 2 === 0) {
      off.push(await round(false));
      on.push(await round(true));
    } else {
      on.push(await round(true));
      off.push(await round(false));
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const rpsOff = median(off.map((x) => x.rps));
  const rpsOn = median(on.map((x) => x.rps));
  const cpuOff = median(off.map((x) => x.cpuUs));
  const cpuOn = median(on.map((x) => x.cpuUs));
  // CPU time per request (client and server together, one process) is what counting adds to;
  // throughput on a shared machine swings with other people's load.
  console.log(JSON.stringify({
    node: process.version, rounds: ROUNDS, requestsPerRound: REQUESTS, concurrency: CONCURRENCY,
    cpuUsPerRequestOff: Number(cpuOff.toFixed(2)), cpuUsPerRequestOn: Number(cpuOn.toFixed(2)),
    cpuCostPercent: Number((100 * (cpuOn / cpuOff - 1)).toFixed(2)),
    countingNsPerRequest: Math.round(nsPerRequest), countingShareOfCpuPercent: Number((100 * nsPerRequest / 1000 / cpuOff).toFixed(2)),
    medianReqPerSecOff: Math.round(rpsOff), medianReqPerSecOn: Math.round(rpsOn), throughputCostPercent: Number((100 * (1 - rpsOn / rpsOff)).toFixed(2)),
  }));
}

void main();
