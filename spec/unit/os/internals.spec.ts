// The Node internals baton depends on (lib/os/internals.ts). These tests exist to fail loudly
// when a Node release changes them.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { listeningFd, pauseAccepting, resumeAccepting } from '../../../lib/os/internals';
import { Lines, Pids, fdOf, removeDir, running, tempDir } from '../../support/unit';
import { holds, waitFor } from '../../support/wait';

const DIST_INTERNALS = path.resolve(__dirname, '../../../dist/os/internals.js');

describe('internals: listeningFd', () => {
  let server: net.Server | undefined;
  afterEach(async () => {
    if (server?.listening) await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  async function listen(): Promise<net.Server> {
    const s = net.createServer();
    server = s;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return s;
  }

  it('returns the fd of a listening TCP server, and that fd is a socket', async () => {
    const s = await listen();
    const fd = listeningFd(s);
    expect(fd).to.be.a('number');
    expect(Number.isInteger(fd) && fd > 2).to.equal(true);
    expect(fs.fstatSync(fd).isSocket()).to.equal(true);
  });

  it('returns the very socket that listens on the port (Linux: /proc/net/tcp inode)', async function () {
    if (process.platform !== 'linux') this.skip();
    const s = await listen();
    const fd = listeningFd(s);
    const link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    const inode = (link.match(/^socket:\[(\d+)\]$/) as RegExpMatchArray | null)?.[1];
    expect(inode, `fd ${fd} links to ${link}`).to.be.a('string');
    const port = (s.address() as net.AddressInfo).port.toString(16).toUpperCase().padStart(4, '0');
    const row = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
      .map((l) => l.trim().split(/\s+/))
      .find((cols) => cols[1] === `0100007F:${port}` && cols[3] === '0A'); // 127.0.0.1, LISTEN
    expect(row, `a LISTEN row for 127.0.0.1:${port}`).not.to.equal(undefined);
    expect((row as string[])[9]).to.equal(inode);
  });

  it('throws, naming the Node version, for a server that is not listening', async () => {
    const s = net.createServer();
    expect(() => listeningFd(s)).to.throw(`this Node version (${process.version}) is not supported`);
    await listen().then((l) => new Promise((resolve) => l.close(resolve)));
    expect(() => listeningFd(server as net.Server)).to.throw(/cannot read the file descriptor of a listening server/);
  });
});

// A primary that forks one cluster worker; the worker (optionally) calls
// surviveMasterDisconnect, reports its pid, and keeps an interval alive until SIGUSR2.
const SCRIPT = `
'use strict';
const cluster = require('node:cluster');
if (cluster.isPrimary) {
  const w = cluster.fork();
  w.on('message', (m) => { if (m && m.ready) process.stdout.write('worker ' + m.pid + '\\n'); });
  setInterval(() => {}, 1000);
} else {
  if (process.env.SURVIVE === '1') require(process.env.INTERNALS).surviveMasterDisconnect(cluster.worker);
  const keep = setInterval(() => {}, 1000);
  process.on('disconnect', () => process.stdout.write('disconnected ' + process.pid + '\\n'));
  process.on('SIGUSR2', () => { process.stdout.write('finishing ' + process.pid + '\\n'); clearInterval(keep); });
  process.on('exit', (code) => process.stdout.write('exit ' + process.pid + ' ' + code + '\\n'));
  process.send({ ready: true, pid: process.pid });
}
`;

describe('internals: surviveMasterDisconnect (real cluster worker)', function () {
  this.timeout(10_000);
  const pids = new Pids();
  let dir: string | undefined;

  before(() => {
    if (!fs.existsSync(DIST_INTERNALS)) throw new Error(`${DIST_INTERNALS} is missing: run npm run build first`);
  });
  afterEach(() => {
    pids.killAll();
    removeDir(dir);
    dir = undefined;
  });

  /** Starts the primary, waits for its worker, then SIGKILLs the primary. */
  async function orphanWorker(survive: boolean): Promise<{ worker: number; out: Lines; primaryDied: number }> {
    dir = tempDir();
    const script = path.join(dir, 'cluster.js');
    fs.writeFileSync(script, SCRIPT);
    const primary: ChildProcess = spawn(process.execPath, [script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, SURVIVE: survive ? '1' : '0', INTERNALS: DIST_INTERNALS },
    });
    const primaryPid = pids.add(primary.pid);
    const out = new Lines(primary);
    const worker = Number((await out.wait(/^worker (\d+)$/))[1]);
    pids.add(worker);
    expect(running(worker)).to.equal(true);
    const dead = new Promise<NodeJS.Signals | null>((resolve) => primary.once('exit', (_c, sig) => resolve(sig)));
    process.kill(primaryPid, 'SIGKILL');
    expect(await dead).to.equal('SIGKILL');
    return { worker, out, primaryDied: Date.now() };
  }

  it('without it, a worker whose primary was SIGKILLed exits at once with code 0 (Node behaviour)', async () => {
    const { worker, out, primaryDied } = await orphanWorker(false);
    await out.wait(new RegExp(`^exit ${worker} 0$`), 2_000);
    await waitFor('the worker to be gone', () => !running(worker), 2_000, 10);
    expect(Date.now() - primaryDied).to.be.below(1_500);
    expect(out.find(/^finishing /)).to.equal(undefined);
  });

  it('with it, the worker outlives its SIGKILLed primary and exits by itself when done', async () => {
    const { worker, out } = await orphanWorker(true);
    await out.wait(new RegExp(`^disconnected ${worker}$`), 2_000);
    await holds('the orphaned worker running', () => running(worker), 300);
    expect(out.find(/^exit /), 'the worker exited').to.equal(undefined);
    process.kill(worker, 'SIGUSR2'); // "your requests are done": it clears its last timer
    await out.wait(new RegExp(`^finishing ${worker}$`), 2_000);
    await out.wait(new RegExp(`^exit ${worker} 0$`), 2_000);
    await waitFor('the worker to be gone', () => !running(worker), 2_000, 10);
  });
});

describe('internals: the handle and per-connection options of a server', () => {
  it('rawHandle returns the listening handle, whose fd is the server socket', async () => {
    const { rawHandle } = await import('../../../lib/os/internals');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const h = rawHandle(srv) as { fd: number };
      expect(h.fd).to.equal(listeningFd(srv));
    } finally {
      srv.close();
    }
  });

  it('connectionOptions reads what net.Server would apply: http turns noDelay and allowHalfOpen on, keepAlive when asked', async () => {
    const { connectionOptions } = await import('../../../lib/os/internals');
    const http = await import('node:http');
    expect(connectionOptions(http.createServer())).to.deep.equal({ noDelay: true, keepAlive: false, keepAliveInitialDelay: 0, allowHalfOpen: true });
    expect(connectionOptions(http.createServer({ noDelay: false }))).to.include({ noDelay: false });
    expect(connectionOptions(net.createServer({ keepAlive: true, keepAliveInitialDelay: 3000 }))).to.deep.equal({ noDelay: false, keepAlive: true, keepAliveInitialDelay: 3000, allowHalfOpen: false });
    expect(connectionOptions(net.createServer({ allowHalfOpen: true }))).to.include({ allowHalfOpen: true });
  });
});

describe('internals: a socket a dead child never acknowledged', () => {
  it('stays open in _pendingMessage after the child dies (Node 20), and releasePendingHandle closes it', async function () {
    this.timeout(15_000);
    const { releasePendingHandle } = await import('../../../lib/os/internals');
    const { fork } = await import('node:child_process');
    // a child whose event loop never runs again: it cannot acknowledge a handle
    const child = fork('-e', ['process.send("up"); setTimeout(() => { for (;;); }, 50);'], { execArgv: [], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    try {
      await new Promise((r) => child.once('message', r));
      await new Promise((r) => setTimeout(r, 200)); // it spins now
      const srv = net.createServer({ pauseOnConnect: true });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
      const closed = new Promise<void>((r) => client.on('close', () => r()).on('error', () => undefined));
      const accepted = await new Promise<net.Socket>((r) => srv.once('connection', r));
      await new Promise<void>((r) => child.send('conn', accepted, { keepOpen: false }, () => r()));
      const pending = (child as unknown as { _pendingMessage: unknown })._pendingMessage;
      expect(pending, 'Node keeps a sent handle until the child acknowledges it').to.not.equal(null);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await new Promise((r) => setImmediate(r));
      expect((child as unknown as { _pendingMessage: unknown })._pendingMessage, 'still there after the child died').to.not.equal(null);
      expect(releasePendingHandle(child)).to.equal(true);
      await closed; // the client sees its connection closed instead of hanging
      expect(releasePendingHandle(child)).to.equal(false);
      srv.close();
    } finally {
      child.kill('SIGKILL');
    }
  });
});

// A primary that hands its cluster worker the raw handle of a listening TCP socket and then
// closes its own server; the worker listens on the handle and answers with its pid.
const ACCEPT_SCRIPT = `
'use strict';
const cluster = require('node:cluster');
const net = require('node:net');
if (cluster.isPrimary) {
  cluster.on('listening', () => process.stdout.write('routed through the primary\\n'));
  const server = net.createServer(() => process.stdout.write('the primary accepted\\n'));
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    const w = cluster.fork();
    w.on('message', (m) => { if (m && m.listening) process.stdout.write('port ' + port + ' worker ' + w.process.pid + '\\n'); });
    w.on('online', () => w.send({ handle: true }, require(process.env.INTERNALS).rawHandle(server), {}, () => server.close()));
  });
} else {
  process.on('message', (m, handle) => {
    const s = net.createServer((c) => c.end(String(process.pid)));
    s.listen(handle, 64, () => process.send({ listening: true }));
  });
}
`;

describe('internals: a cluster worker listens on a TCP handle itself (the data path, lib/worker/acceptor.ts)', function () {
  this.timeout(10_000);
  const pids = new Pids();
  let dir: string | undefined;
  afterEach(() => {
    pids.killAll();
    removeDir(dir);
    dir = undefined;
  });

  it('server.listen(handle) in a worker accepts in the worker, not through the primary, and outlives the primary\'s own server', async () => {
    dir = tempDir();
    const script = path.join(dir, 'accept.js');
    fs.writeFileSync(script, ACCEPT_SCRIPT);
    const primary: ChildProcess = spawn(process.execPath, [script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, INTERNALS: DIST_INTERNALS },
    });
    pids.add(primary.pid);
    const out = new Lines(primary);
    const m = await out.wait(/^port (\d+) worker (\d+)$/);
    const port = Number(m[1]);
    const worker = pids.add(Number(m[2]));
    // the primary closed its server once the handle was sent: only the worker accepts
    for (let i = 0; i < 3; i++) {
      const answer = await new Promise<string>((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1');
        let got = '';
        c.on('data', (d: Buffer) => (got += d.toString()));
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
      expect(answer).to.equal(String(worker));
    }
    expect(out.find(/^routed through the primary$/), 'Node routed a worker\'s listen(handle) through the primary').to.equal(undefined);
    expect(out.find(/^the primary accepted$/)).to.equal(undefined);
  });
});

describe('internals: pausing a listening handle received over IPC, without closing it (lib/worker/acceptor.ts, lib/sockets/ledger.ts)', function () {
  this.timeout(10_000);
  const open: net.Socket[] = [];
  let dir: string | undefined;
  afterEach(() => {
    for (const c of open.splice(0)) c.destroy();
    removeDir(dir);
    dir = undefined;
  });

  for (const kind of ['TCP', 'UNIX'] as const) {
    it(`${kind}: pauseAccepting stops polling (a connection waits in the queue), resumeAccepting takes it, many times; a self-bound server says false`, async () => {
      // the built module: it runs itself (dist/sockets/ledger.js) as the keep helper, which sends the handle back over IPC
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { duplicate } = require('../../../dist/sockets/ledger') as typeof import('../../../lib/sockets/ledger');
      const d = tempDir('baton-pause-');
      dir = d;
      const tmp = path.join(d, '.p.tmp');
      const sock = path.join(d, 'p.sock');
      const bound = net.createServer();
      await new Promise<void>((r) => (kind === 'TCP' ? bound.listen(0, '127.0.0.1', () => r()) : bound.listen(tmp, () => r())));
      // a UNIX socket renamed into place, as baton binds it (lib/sockets/unixpath.ts): close() does not unlink it
      if (kind === 'UNIX') fs.renameSync(tmp, sock);
      const target: net.NetConnectOpts = kind === 'TCP' ? { port: (bound.address() as net.AddressInfo).port, host: '127.0.0.1' } : { path: sock };
      const [handle] = (await duplicate([fdOf(bound)])) as [object];
      expect(pauseAccepting(bound), 'a server that bound its own socket cannot be paused this way').to.equal(false);
      bound.close();
      let got = 0;
      const server = net.createServer((c) => {
        got++;
        open.push(c);
      });
      // a TCP handle is listened on as it is, a UNIX one through its fd (a handle of the server's own)
      server.listen(handle as net.ListenOptions, 64);
      try {
        for (let round = 1; round <= 3; round++) {
          expect(pauseAccepting(server), `pause, round ${round}`).to.equal(true);
          const c = net.connect(target);
          open.push(c);
          await new Promise((r) => c.once('connect', r));
          await holds('nothing accepted while paused', () => got === round - 1, 200);
          expect(resumeAccepting(server), `resume, round ${round}`).to.equal(true);
          await waitFor('the queued connection, after resume', () => got === round, 5_000, 10);
        }
        expect(resumeAccepting(server), 'resuming what accepts already').to.equal(true);
      } finally {
        server.close();
      }
    });
  }
});
