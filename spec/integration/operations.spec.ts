// Operations: the `baton` CLI over the control socket, self-healing and scaling.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { AppDir, Load, nobodyCanLoadBaton, running, Server } from '../support/harness';
import { cli } from '../support/cli';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

/** Sends raw bytes to the control socket; resolves with what came back before it closed. */
function raw(sock: string, payload: string | Buffer, timeoutMs = 8_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let out = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (out += d));
    c.on('close', () => resolve(out));
    c.on('error', reject);
    c.on('connect', () => {
      if (payload.length > 0) c.write(payload);
    });
    setTimeout(() => {
      c.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${out}`));
    }, timeoutMs).unref();
  });
}

describe('operations (integration)', function () {
  this.timeout(60_000);
  let dir: AppDir;
  let server: Server | undefined;
  let pidFile: string;
  let sock: string;

  beforeEach(() => {
    dir = new AppDir();
    dir.release({ version: 'v0' });
    pidFile = dir.file('app.pid');
    sock = `${pidFile}.sock`;
  });
  afterEach(() => {
    server?.kill();
    server = undefined;
    dir.remove();
  });

  describe('baton CLI', () => {
    it('`baton upgrade` exits 0 with the new pid alone on stdout (progress on stderr) for a good release; 1 with the error for a broken one', async () => {
      server = new Server(dir, { PID_FILE: pidFile });
      const port = await server.port();
      await server.waitEvent('serving');
      const load = new Load({ port }, { keepAlive: 2, fresh: 1, maxMs: 40_000 });
      try {
        dir.release({ version: 'v1' });
        const good = await cli(['upgrade', '--pid-file', pidFile, '--wait-drain']);
        expect(good.code, good.stderr).to.equal(0);
        // NEW=$(baton upgrade ...) gets the pid alone
        expect(good.stdout).to.match(/^\d+\n$/);
        const newPid = Number(good.stdout);
        expect(good.stderr).to.match(/new master \d+ started/);
        expect(good.stderr).to.match(/workers ready 2\/2/);
        expect(good.stderr).to.match(/the old generation stopped accepting/);
        expect(good.stderr).to.match(/the old generation is gone/);
        expect(good.stderr).to.contain(`upgrade done: new master ${newPid}`);
        expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(newPid));
        // the old generation is gone when the CLI returns; its master exits right after
        await waitFor('the old master exit', () => !running(server!.pid), 3_000);
        expect((await request({ port })).json?.version).to.equal('v1');

        dir.release({ version: 'v2', mode: 'throw' });
        const bad = await cli(['upgrade', '--pid-file', pidFile]);
        expect(bad.code).to.equal(1);
        expect(bad.stdout).to.equal('');
        expect(bad.stderr).to.match(/upgrade failed: the new master \d+ exited with code 1 before it was serving/);
        expect(bad.stderr).to.match(/release v2 is broken: thrown at start-up/);
        expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(newPid));
        expect((await request({ port })).json?.version).to.equal('v1');
      } finally {
        await load.stop();
      }
      expect(load.stats.errors, load.stats.errors.slice(0, 3).join('\n')).to.deep.equal([]);
    });

    it('`baton reload`, `baton scale` and `baton stop` wait for their outcome', async () => {
      server = new Server(dir, { PID_FILE: pidFile });
      await server.waitEvent('serving');
      dir.release({ version: 'r1' });
      const reload = await cli(['reload', '--pid-file', pidFile]);
      expect(reload.code, reload.stderr).to.equal(0);
      expect(reload.stdout).to.equal('2\n');
      expect(reload.stderr).to.match(/reload done: generation 2 serves/);
      const scale = await cli(['scale', '3', '--pid-file', pidFile]);
      expect(scale.code, scale.stderr).to.equal(0);
      expect(scale.stdout).to.equal('3\n');
      expect(scale.stderr).to.match(/3 worker\(s\) ready/);
      const stop = await cli(['stop', '--pid-file', pidFile]);
      expect(stop.code, stop.stderr).to.equal(0);
      expect(stop.stdout).to.equal('');
      expect(stop.stderr).to.match(/stopped/);
      await waitFor('master exit', () => server?.exitCode !== undefined, 10_000);
      expect(server.exitCode).to.equal(0);
      expect(fs.existsSync(sock)).to.equal(false);
      const gone = await cli(['status', '--pid-file', pidFile]);
      expect(gone.code).to.equal(3);
      expect(gone.stderr).to.match(/cannot reach the master/);
    });

    it('`baton status` prints a table, and JSON with --json', async () => {
      server = new Server(dir, { PID_FILE: pidFile });
      const port = await server.port();
      await server.waitEvent('serving');
      for (let i = 0; i < 5; i++) await request({ port });
      const table = await cli(['status', '--pid-file', pidFile]);
      expect(table.code, table.stderr).to.equal(0);
      expect(table.stdout).to.match(new RegExp(`^master ${server.pid}  generation 1  serving`));
      expect(table.stdout).to.match(/GEN\s+STATE\s+RESTARTS\s+WORKER\s+WORKER-STATE\s+CONNS\s+REQUESTS\s+RSS\s+UPTIME/);
      const json = await cli(['status', '--json', '--pid-file', pidFile]);
      const line = JSON.parse(json.stdout.trim()) as { ok: boolean; status: { master: Record<string, unknown>; generations: Array<{ id: number; state: string; workers: Array<Record<string, unknown>> }> } };
      expect(line.ok).to.equal(true);
      expect(line.status.master.pid).to.equal(server.pid);
      expect(line.status.master.generation).to.equal(1);
      expect(line.status.master.startedAt).to.be.a('string');
      expect(line.status.generations).to.have.length(1);
      expect(line.status.generations[0]?.state).to.equal('serving');
      const workers = line.status.generations[0]?.workers ?? [];
      expect(workers).to.have.length(2);
      for (const w of workers) expect(w).to.include.keys('pid', 'state', 'connections', 'requests', 'rss');
    });

    it('usage errors exit 2 and say what is wrong', async () => {
      const r = await cli(['upgrad', '--pid-file', pidFile]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/unknown command "upgrad"/);
      const s = await cli(['scale', 'zero', '--pid-file', pidFile]);
      expect(s.code).to.equal(2);
      const n = await cli(['status']);
      expect(n.code).to.equal(2);
      expect(n.stderr).to.match(/--pid-file FILE or --socket PATH/);
    });
  });

  describe('control socket', () => {
    it('answers garbage, oversized, unknown and silent clients with errors and keeps serving', async () => {
      server = new Server(dir, { PID_FILE: pidFile });
      const port = await server.port();
      await server.waitEvent('serving');
      expect(JSON.parse(await raw(sock, 'not json\n'))).to.include({ done: true, ok: false });
      expect(await raw(sock, '{"cmd":"launch"}\n')).to.match(/unknown command \\"launch\\"/);
      expect(await raw(sock, '[1,2]\n')).to.match(/expected a JSON object/);
      expect(await raw(sock, '{"cmd":"scale","workers":-1}\n')).to.match(/an integer from 1 to 1024/);
      expect(await raw(sock, Buffer.alloc(200 * 1024, 'x'))).to.match(/request too long/);
      // many clients at once, some of them silent
      const silent = Array.from({ length: 20 }, () => raw(sock, ''));
      const statuses = await Promise.all(Array.from({ length: 10 }, () => raw(sock, '{"cmd":"status"}\n')));
      for (const s of statuses) expect(JSON.parse(s).ok).to.equal(true);
      expect((await request({ port })).status).to.equal(200);
      for (const s of await Promise.all(silent)) expect(s).to.match(/no request within \d+ ms/);
      expect(running(server.pid)).to.equal(true);
      expect((await request({ port })).status).to.equal(200);
    });

    it('is mode 0600', async () => {
      server = new Server(dir, { PID_FILE: pidFile });
      await server.waitEvent('serving');
      expect(fs.statSync(sock).mode & 0o777).to.equal(0o600);
    });

    it('another user cannot use it', async function () {
      if (!nobodyCanLoadBaton()) this.skip(); // needs root, and a checkout other users can read
      server = new Server(dir, { PID_FILE: pidFile });
      await server.waitEvent('serving');
      fs.chmodSync(dir.dir, 0o755);
      const other = await cli(['status', '--socket', sock], { uid: 65534, gid: 65534 });
      expect(other.code).to.equal(3);
      expect(other.stderr).to.match(/permission denied/);
    });
  });

  describe('self-healing and scaling', () => {
    it('a crash loop is bounded by back-off; in a new generation it rolls the reload back', async () => {
      server = new Server(dir);
      await server.waitEvent('serving');
      // a reload whose workers crash right after becoming ready
      dir.release({ version: 'crashy', mode: 'crash-after-ready' });
      process.kill(server.pid, 'SIGHUP');
      const outcome = await Promise.race([
        server.waitEvent('reload-failed', 1, 15_000).then(() => 'failed'),
        server.waitEvent('reload-succeeded', 1, 15_000).then(() => 'succeeded'),
      ]);
      if (outcome === 'succeeded') {
        // became ready before crashing: the serving generation now crash-loops, with back-off
        const t0 = Date.now();
        await waitFor('2.5 s of crash loop', () => Date.now() - t0 > 2_500, 5_000, 100);
        const exits = server.count('worker-exit');
        // 2 workers with back-off 100, 200, 400, 800, 1600 ms: a handful of restarts, not hundreds
        expect(exits).to.be.lessThan(16);
        expect(server.stderr).to.match(/exited unexpectedly/);
      } else {
        expect(server.count('reload-failed')).to.equal(1);
      }
    });

    it('a hung worker (busy loop) is detected by heartbeat and replaced', async () => {
      server = new Server(dir, { WORKER_TIMEOUT: '600' });
      const port = await server.port();
      await server.waitEvent('serving');
      expect((await request({ port }, '/?spin=1')).body).to.equal('spinning\n');
      const replaced = await server.waitEvent('worker-replaced', 1, 10_000);
      expect(replaced.reason).to.match(/no heartbeat for \d+ ms \(workerTimeout 600 ms\)/);
      await server.waitEvent('worker-ready', 3, 10_000);
      await waitFor('hung worker killed', () => !running(replaced.pid as number), 5_000);
      const replies = await Promise.all(Array.from({ length: 6 }, () => request({ port })));
      expect(replies.every((x) => x.status === 200)).to.equal(true);
    });

    it('maxMemory recycles a worker: replacement first, then drain, no failed request', async () => {
      server = new Server(dir, { MAX_MEMORY: '120M', WORKERS: '1', WORKER_TIMEOUT: '2000' });
      const port = await server.port();
      await server.waitEvent('serving');
      const load = new Load({ port }, { keepAlive: 2, fresh: 1, maxMs: 30_000 });
      try {
        await request({ port }, '/?alloc=150');
        const rep = await server.waitEvent('worker-replaced', 1, 10_000);
        expect(rep.reason).to.match(/RSS \d+ MiB is over maxMemory \(120 MiB\)/);
        await server.waitEvent('worker-ready', 2, 10_000);
        await waitFor('recycled worker gone', () => !running(rep.pid as number), 10_000);
        await load.progress(20);
      } finally {
        await load.stop();
      }
      expect(load.stats.errors, load.stats.errors.slice(0, 3).join('\n')).to.deep.equal([]);
    });

    it('maxRequests recycles a worker after that many requests', async () => {
      server = new Server(dir, { MAX_REQUESTS: '20', WORKERS: '1' });
      const port = await server.port();
      await server.waitEvent('serving');
      for (let i = 0; i < 25; i++) expect((await request({ port })).status).to.equal(200);
      const rep = await server.waitEvent('worker-replaced', 1, 10_000);
      expect(rep.reason).to.match(/served \d+ requests \(maxRequests 20\)/);
      await server.waitEvent('worker-ready', 2, 10_000);
    });

    it('SIGTTIN/SIGTTOU add and remove workers (never fewer than 1) and the count carries over an upgrade', async () => {
      server = new Server(dir, { WORKERS: '2' });
      const port = await server.port();
      await server.waitEvent('serving');
      process.kill(server.pid, 'SIGTTIN');
      await server.waitEvent('worker-ready', 3, 10_000);
      process.kill(server.pid, 'SIGTTOU');
      await server.waitEvent('scaled', 2, 5_000);
      process.kill(server.pid, 'SIGTTOU');
      await server.waitEvent('scaled', 3, 5_000);
      await waitFor('two workers drained', () => server && server.count('worker-exit') >= 2, 10_000);
      process.kill(server.pid, 'SIGTTOU'); // would be 0: refused
      await waitFor('refusal logged', () => /scale refused: 0 workers: at least 1 worker is needed/.test(server?.stderr ?? ''), 5_000);
      expect(server.count('scaled')).to.equal(3);
      expect(server.count('worker-exit')).to.equal(2);
      for (const e of server.events.filter((x) => x.ev === 'worker-exit')) expect(e.expected).to.equal(true);
      process.kill(server.pid, 'SIGUSR2');
      const up = await server.waitEvent('upgrade-succeeded', 1, 15_000);
      const newWorkers = server.events.filter((e) => e.ev === 'worker-ready' && e.master === up.pid);
      expect(newWorkers).to.have.length(1);
      expect((await request({ port })).status).to.equal(200);
    });

    it('SIGUSR1 reaches the workers as a signal event', async () => {
      server = new Server(dir);
      await server.waitEvent('serving');
      process.kill(server.pid, 'SIGUSR1');
      await server.waitEvent('worker-signal', 2, 5_000);
      expect(server.events.filter((e) => e.ev === 'worker-signal').map((e) => e.signal)).to.deep.equal(['SIGUSR1', 'SIGUSR1']);
      expect(running(server.pid)).to.equal(true);
    });
  });
});
