// Logs that fit (integration): worker records in the master's 'log' event, the app's own
// logger in every process, JSON lines with pino's field names (uncaught errors inside their
// record), and process titles whose 15-byte comm says role, generation and stage.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { CLI } from '../support/cli';
import { perTest, running, Server, type Event } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

interface Rec { role: string; pid: number; generation: number; event: string; level: string; message: string }

const recordOf = (e: Event): Rec => e.record as Rec;

function workerPids(server: Server, generation: number): number[] {
  return server.events.filter((e) => e.ev === 'worker-ready' && e.generation === generation).map((e) => e.pid as number);
}

describe('logs (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  describe("the master's 'log' event", () => {
    /** Waits for a worker record from each of `pids`. */
    async function workerRecords(server: Server, event: string, pids: number[]): Promise<Rec[]> {
      const got = (): Rec[] => server.events.filter((e) => e.ev === 'log').map(recordOf)
        .filter((r) => r.role === 'worker' && r.event === event && pids.includes(r.pid));
      await waitFor(`worker records ${event} from ${pids.join(', ')}\n${server.stderr.slice(-2000)}`, () => new Set(got().map((r) => r.pid)).size === pids.length);
      return got();
    }

    it('receives the workers\' records too, printed or not, each with the worker\'s pid and generation', async () => {
      t.server = new Server(t.dir, { LOG_EVENTS: '1', LOG_LEVEL: 'warn' });
      await t.server.waitEvent('serving');
      const gen1 = workerPids(t.server, 1);
      expect(gen1).to.have.length(2);
      // a debug record: not printed at 'warn', in the event all the same
      const ready = await workerRecords(t.server, 'worker-ready', gen1);
      for (const r of ready) expect(r).to.include({ level: 'debug', generation: 1, message: 'ready' });
      expect(t.server.stderr).not.to.match(/worker-ready/);
      // the master's own records are there as before
      expect(t.server.events.filter((e) => e.ev === 'log').map(recordOf).some((r) => r.role === 'master' && r.event === 'serving' && r.pid === t.server!.pid)).to.equal(true);

      process.kill(t.server.pid, 'SIGHUP');
      await t.server.waitEvent('reload-succeeded');
      const draining = await workerRecords(t.server, 'worker-draining', gen1);
      for (const r of draining) expect(r).to.include({ level: 'info', generation: 1, message: 'draining: reloaded' });
      await workerRecords(t.server, 'worker-ready', workerPids(t.server, 2));
    });

    it('a listener added later gets the records of workers forked before it', async () => {
      t.server = new Server(t.dir, { LOG_EVENTS: 'late', LOG_LEVEL: 'warn' });
      await t.server.waitEvent('serving');
      const gen1 = workerPids(t.server, 1);
      process.kill(t.server.pid, 'SIGHUP');
      await t.server.waitEvent('reload-succeeded');
      await workerRecords(t.server, 'worker-draining', gen1);
    });
  });

  it('the logger option: every process calls its own logger with (fields, message), and baton prints nothing itself', async () => {
    t.server = new Server(t.dir, { LOGGER: '1', LOG_LEVEL: 'debug' });
    await t.server.waitEvent('serving');
    const master = t.server.pid;
    const calls = (by: number, event: string): Event[] => t.server!.events.filter((e) => e.ev === 'logger' && e.by === by && (e.fields as Rec).event === event);
    await waitFor('the master logged serving', () => calls(master, 'serving').length === 1);
    const serving = calls(master, 'serving')[0] as Event;
    expect(serving.level).to.equal('info');
    expect(serving.fields).to.deep.equal({ role: 'master', generation: 1, event: 'serving' });
    expect(serving.msg).to.equal('generation 1 serving with 2 worker(s)');
    // each worker, in its own process
    for (const pid of workerPids(t.server, 1)) {
      await waitFor(`worker ${pid} logged worker-ready`, () => calls(pid, 'worker-ready').length === 1);
      expect(calls(pid, 'worker-ready')[0]).to.deep.include({ level: 'debug', fields: { role: 'worker', generation: 1, event: 'worker-ready' }, msg: 'ready' });
    }
    // the event's own fields travel with it
    await waitFor('worker-forked', () => calls(master, 'worker-forked').length >= 2);
    expect((calls(master, 'worker-forked')[0]?.fields as Record<string, unknown>).workerPid).to.be.a('number');

    // a new master (an upgrade) gets the logger from its own listen() call too
    process.kill(master, 'SIGUSR2');
    const up = await t.server.waitEvent('upgrade-succeeded', 1, 15_000);
    const next = up.pid as number;
    await waitFor('the new master logged serving', () => calls(next, 'serving').length === 1);
    expect(calls(next, 'serving')[0]?.fields).to.deep.equal({ role: 'master', generation: 2, event: 'serving' });
    expect(calls(master, 'upgrade-succeeded')[0]?.fields).to.deep.equal({ role: 'master', generation: 1, event: 'upgrade-succeeded', newPid: next });
    expect(t.server.stderr).not.to.match(/baton (master|worker)\[/);
    process.kill(next, 'SIGTERM');
    await waitFor('the new master exit', () => !running(next), 10_000);
  });

  it("logFormat 'json': every stderr line is one pino-shaped record, uncaught errors (before and after baton loads) included", async () => {
    // probation longer than the crash-after-ready fixture's 1.5 s (it gets no connection here)
    t.server = new Server(t.dir, { BATON_LOG_FORMAT: 'json', LOG_LEVEL: 'info', PROBATION: '3000' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    // a factory that throws (the worker's start-up handler), a module that throws before listen()
    // (the preload), the same in a new master, and a crash once serving (baton's own handler)
    t.dir.release({ version: 'f1', mode: 'worker-throws' });
    process.kill(t.server.pid, 'SIGHUP');
    await t.server.waitEvent('reload-failed', 1);
    t.dir.release({ version: 't1', mode: 'throw' });
    process.kill(t.server.pid, 'SIGHUP');
    await t.server.waitEvent('reload-failed', 2);
    t.dir.release({ version: 'u1', mode: 'throw' });
    process.kill(t.server.pid, 'SIGUSR2');
    await t.server.waitEvent('upgrade-failed', 1, 15_000);
    t.dir.release({ version: 'c1', mode: 'crash-after-ready' });
    process.kill(t.server.pid, 'SIGHUP');
    await t.server.waitEvent('reload-failed', 3, 15_000);
    expect((await request({ port })).json?.version).to.equal('v0');
    process.kill(t.server.pid, 'SIGTERM');
    await waitFor('exit', () => t.server?.exitCode !== undefined, 10_000);

    const lines = t.server.stderr.split('\n').filter((l) => l !== '');
    const records = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
    const now = Date.now();
    for (const r of records) {
      expect([20, 30, 40, 50, 60], JSON.stringify(r)).to.include(r.level);
      expect(r.time).to.be.a('number').within(now - 60_000, now);
      expect(r.pid).to.be.a('number');
      expect(r.hostname).to.be.a('string');
      expect(['master', 'worker']).to.include(r.role);
      expect(r.generation).to.be.a('number');
      expect(r.event).to.be.a('string');
      expect(r.msg).to.be.a('string');
      expect(Object.keys(r).slice(0, 4)).to.deep.equal(['level', 'time', 'pid', 'hostname']);
      expect(r).not.to.have.any.keys('message');
    }
    const find = (what: string, match: (r: Record<string, unknown>) => boolean): Record<string, unknown> => {
      const r = records.find(match);
      expect(r, `${what} in\n${lines.join('\n').slice(-4000)}`).not.to.equal(undefined);
      return r as Record<string, unknown>;
    };
    const stack = (r: Record<string, unknown>): string => (r.err as { stack: string }).stack;
    const failStart = find('the factory error', (r) => r.event === 'start-failed');
    expect(failStart).to.include({ level: 50, role: 'worker', generation: 2, msg: 'the app failed to start' });
    expect(stack(failStart)).to.match(/^Error: release f1: worker cannot start\n {4}at /);
    const early = find('the module error in a worker', (r) => r.level === 60 && r.role === 'worker' && r.generation === 3);
    expect(early).to.include({ event: 'uncaught-exception', msg: 'uncaught exception: release t1 is broken: thrown at start-up' });
    expect(stack(early)).to.match(/app\.js:\d+/);
    const master = find('the module error in a new master', (r) => r.level === 60 && r.role === 'master');
    expect(stack(master)).to.match(/^Error: release u1 is broken/);
    const crash = find('the crash once serving', (r) => r.level === 60 && r.role === 'worker' && /release c1 crashes/.test(String(r.msg)));
    expect(stack(crash)).to.match(/^Error: release c1 crashes\n/);
    // the master's reason carries the stack inside its record too (found by its release's name: a
    // bare /c1/ also matched an earlier reason whose stack named the test's random directory)
    expect(String(find('reload-failed', (r) => r.event === 'reload-failed' && /release c1\b/.test(String(r.msg))).msg)).to.match(/release c1 crashes\n {4}at /);
  });

  it("process titles: a 15-byte comm that says role, generation and stage; the long form in the command line", async () => {
    const comm = (pid: number): string => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '');
    const cmdline = (pid: number): string => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
    t.server = new Server(t.dir, {}, { args: [CLI, 'run', 'app.js'] });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const master = t.server.servingMaster();
    expect(comm(t.server.pid)).to.equal('baton:sup');
    expect(comm(master)).to.equal('baton:m1 serve');
    const gen1 = workerPids(t.server, 1);
    for (const pid of gen1) {
      expect(comm(pid)).to.equal('baton:w1 serve');
      expect(cmdline(pid)).to.match(/^baton worker gen=1 serving/);
    }
    // a worker that drains: it holds a slow request through a reload
    const slow = request({ port }, '/?delay=3000');
    const busy = (await t.server.waitEvent('slow-request')).worker as number;
    process.kill(master, 'SIGHUP');
    await t.server.waitEvent('reload-succeeded', 1, 15_000);
    await waitFor('the busy worker drains', () => comm(busy) === 'baton:w1 drain' || undefined, 5_000);
    expect(cmdline(busy)).to.match(/^baton worker gen=1 draining/);
    for (const pid of workerPids(t.server, 2)) expect(comm(pid)).to.equal('baton:w2 serve');
    expect(comm(master)).to.equal('baton:m2 serve');
    expect((await slow).status).to.equal(200);
  });
});

