// Every listener a real server uses: the `listeners` option, TCP v4/v6, UNIX sockets with a
// mode, TLS (certificates reloaded by an upgrade), HTTP/2 (GOAWAY on drain), raw TCP, a
// release adding or dropping a listener, systemd socket activation, and long-lived
// (HTTP Upgrade) connections told to leave or bounded by drainTimeout.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { listeningFd } from '../../lib/os/internals';
import { AppDir, MULTI_FIXTURE, running, Server } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

type Kind = 'http' | 'https' | 'h2' | 'net';
interface L { name: string; kind: Kind; port?: number; host?: string; path?: string; mode?: number }
interface Target { kind: Kind; host?: string; port?: number; socketPath?: string }
interface Answer { version: string; listener?: string; fingerprint?: string; http?: string; activation?: string }

// ---- clients ---------------------------------------------------------------------------

/** The fixture's answer through an HTTP(S) listener; anything but 200 with JSON fails. */
async function get(t: Target, agent: http.Agent | false): Promise<Answer> {
  const r = await request({ host: t.host, port: t.port, socketPath: t.socketPath, tls: t.kind === 'https' }, '/', { agent });
  if (r.status !== 200) throw new Error(`status ${r.status}`);
  if (r.json === undefined) throw new Error(`not JSON: ${r.body}`);
  return { ...(r.json as unknown as Answer), fingerprint: r.fingerprint };
}

function echo(t: Target): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const c = t.socketPath !== undefined ? net.connect(t.socketPath) : net.connect(t.port as number, t.host ?? '127.0.0.1');
    let buf = '';
    c.setTimeout(5000, () => c.destroy(new Error('echo timeout')));
    c.on('connect', () => c.write('ping\n'));
    c.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('\n')) return;
      const [version, listener, word] = buf.trim().split(' ');
      c.end();
      if (word !== 'ping') reject(new Error(`bad echo ${buf}`));
      else resolve({ version: version as string, listener });
    });
    c.on('error', reject);
    c.on('close', () => reject(new Error('closed before the echo')));
  });
}

/** An HTTP/2 client as browsers behave: one session, a new one after GOAWAY, refused streams retried. */
class H2Client {
  private session: http2.ClientHttp2Session | undefined;
  retried = 0;
  goaways = 0;
  constructor(private t: Target) {}
  private current(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const origin = `https://${this.t.host?.includes(':') ? `[${this.t.host}]` : this.t.host ?? '127.0.0.1'}:${this.t.port}`;
    const fresh = http2.connect(origin, { rejectUnauthorized: false });
    fresh.on('error', () => undefined);
    fresh.on('goaway', () => {
      this.goaways++;
      if (this.session === fresh) this.session = undefined;
    });
    this.session = fresh;
    return fresh;
  }
  private once(): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.current().request({ ':path': '/' });
      } catch (err) {
        return reject(err);
      }
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (body += c));
      stream.on('end', () => {
        try {
          resolve(JSON.parse(body) as Answer);
        } catch {
          reject(new Error(`not JSON: ${body}`));
        }
      });
      stream.on('error', reject);
    });
  }
  async ask(): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // the server promised it did not process these: what every h2 client retries
        const safe = /REFUSED_STREAM/.test(e.message) || e.code === 'ERR_HTTP2_GOAWAY_SESSION' || e.code === 'ERR_HTTP2_INVALID_SESSION';
        if (!safe || attempt >= 3) throw err;
        this.retried++;
        this.session = undefined;
      }
    }
  }
  close(): void {
    this.session?.close();
  }
}

interface Stats { ok: number; errors: string[]; versions: Map<string, number>; listeners: Set<string | undefined>; fingerprints: Map<string, Set<string>>; activation: Set<string | undefined> }

/** Loops of `ask` until stop(); every call is answered or counted as an error. */
class Loops {
  readonly stats: Stats = { ok: 0, errors: [], versions: new Map(), listeners: new Set(), fingerprints: new Map(), activation: new Set() };
  private stopped = false;
  private loops: Promise<void>[] = [];
  private started = Date.now();
  constructor(asks: Array<() => Promise<Answer>>, maxMs = 30_000) {
    for (const ask of asks) {
      this.loops.push((async () => {
        while (!this.stopped && Date.now() - this.started < maxMs) {
          try {
            const a = await ask();
            this.stats.ok++;
            this.stats.versions.set(a.version, (this.stats.versions.get(a.version) ?? 0) + 1);
            this.stats.listeners.add(a.listener);
            this.stats.activation.add(a.activation);
            if (a.fingerprint) {
              const set = this.stats.fingerprints.get(a.version) ?? new Set<string>();
              set.add(a.fingerprint);
              this.stats.fingerprints.set(a.version, set);
            }
          } catch (err) {
            this.stats.errors.push(`${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`);
          }
        }
      })());
    }
  }
  served(version: string): number {
    return this.stats.versions.get(version) ?? 0;
  }
  async progress(n: number, timeoutMs = 10_000): Promise<void> {
    const target = this.stats.ok + this.stats.errors.length + n;
    await waitFor(`${n} more answers`, () => this.stats.ok + this.stats.errors.length >= target, timeoutMs);
  }
  async stop(): Promise<Stats> {
    this.stopped = true;
    await Promise.all(this.loops);
    return this.stats;
  }
}

const h2Clients: H2Client[] = [];
function h2Retried(): number {
  return h2Clients.reduce((n, c) => n + c.retried, 0);
}

/** The clients for one target: keep-alive and fresh connections (or sessions). */
function clientsFor(t: Target, onClose: Array<() => void>): Array<() => Promise<Answer>> {
  if (t.kind === 'net') return [() => echo(t), () => echo(t), () => echo(t)];
  if (t.kind === 'h2') {
    const a = new H2Client(t);
    const b = new H2Client(t);
    h2Clients.splice(0, h2Clients.length, a, b);
    onClose.push(() => a.close(), () => b.close());
    return [() => a.ask(), () => a.ask(), () => b.ask(), async () => {
      const fresh = new H2Client(t);
      try {
        return await fresh.ask();
      } finally {
        fresh.close();
      }
    }];
  }
  const mod = t.kind === 'https' ? https : http;
  const agent = new mod.Agent({ keepAlive: true, maxSockets: 3 });
  onClose.push(() => agent.destroy());
  return [() => get(t, agent), () => get(t, agent), () => get(t, agent), () => get(t, false)];
}

// ---- processes ---------------------------------------------------------------------------

function writeRelease(dir: AppDir, version: string, listeners?: L[]): void {
  fs.writeFileSync(dir.file('release.json'), JSON.stringify({ version, ...(listeners ? { listeners } : {}) }));
}

async function targetOf(server: Server, l: L, nth = 1): Promise<Target> {
  if (l.path !== undefined) {
    await server.waitEvent('listening', nth, 10_000, (e) => e.name === l.name);
    return { kind: l.kind, socketPath: l.path };
  }
  const e = await server.waitEvent('listening', nth, 10_000, (x) => x.name === l.name);
  return { kind: l.kind, host: l.host, port: e.port as number };
}

function refusal(t: Target): Promise<string> {
  return new Promise((resolve) => {
    const c = t.socketPath !== undefined ? net.connect(t.socketPath) : net.connect(t.port as number, t.host ?? '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve('connected');
    });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

/** Inodes of the sockets a process holds. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The inode of the listening UNIX socket bound (under baton's temporary name) for `sock`. */
function unixInode(sock: string): string | undefined {
  const tmpPrefix = `.${path.basename(sock)}.`;
  for (const line of fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const p = cols[7];
    const listening = cols[3] === '00010000'; // __SO_ACCEPTCON: accepted connections show the same path
    if (listening && p !== undefined && path.dirname(p) === path.dirname(sock) && path.basename(p).startsWith(tmpPrefix)) return cols[6];
  }
  return undefined;
}

function hasIPv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

function selfSigned(dir: string, name: string): { key: string; cert: string; fingerprint: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', `/CN=${name}.localhost`, '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key, cert, fingerprint: new X509Certificate(fs.readFileSync(cert)).fingerprint256 };
}

/**
 * A keep-alive connection that goes idle after one request: a draining worker must close
 * it (after keepAliveGrace), cleanly, rather than leave it to drainTimeout.
 */
async function idleKeepAlive(t: Target): Promise<{ closed: Promise<string | undefined> }> {
  const mod = t.kind === 'https' ? https : http;
  const agent = new mod.Agent({ keepAlive: true, maxSockets: 1 });
  let sock: net.Socket | undefined;
  agent.on('free', (s: net.Socket) => (sock = s));
  await get(t, agent);
  const s = await waitFor('the idle socket', () => sock, 2_000);
  const closed = new Promise<string | undefined>((resolve) => {
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    s.on('close', () => resolve(undefined));
  });
  return { closed };
}

/** A WebSocket-style connection: an HTTP Upgrade handshake, then an echo. */
function upgraded(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<string | undefined> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = '';
    let open = false;
    const closed = new Promise<string | undefined>((r) => {
      socket.on('error', (err: NodeJS.ErrnoException) => r(err.code ?? 'error'));
      socket.on('close', () => r(undefined));
    });
    socket.on('connect', () => socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n'));
    socket.on('data', (d) => {
      buf += d.toString();
      if (!open && buf.includes('\r\n\r\n')) {
        if (!buf.startsWith('HTTP/1.1 101')) return reject(new Error(`no upgrade: ${buf}`));
        open = true;
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        resolve({ socket, received: () => buf, closed });
      }
    });
    socket.once('error', reject);
  });
}

// ---- the tests -------------------------------------------------------------------------

describe('listeners (integration)', function () {
  this.timeout(60_000);
  let dir: AppDir;
  let server: Server | undefined;
  const extra: Server[] = [];
  const cleanups: Array<() => void> = [];
  let ipv6 = false;
  let certs: { a: ReturnType<typeof selfSigned>; b: ReturnType<typeof selfSigned> } | undefined;
  let certDir: string;

  before(async () => {
    ipv6 = await hasIPv6Loopback();
    certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-tls-'));
    try {
      certs = { a: selfSigned(certDir, 'a'), b: selfSigned(certDir, 'b') };
    } catch {
      certs = undefined; // no openssl: the TLS and HTTP/2 cases say so and skip
    }
  });
  after(() => fs.rmSync(certDir, { recursive: true, force: true }));

  beforeEach(() => {
    dir = new AppDir(MULTI_FIXTURE);
  });
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
    server?.kill();
    server = undefined;
    for (const s of extra.splice(0)) s.kill();
    dir.remove();
  });

  function tlsEnv(): Record<string, string> {
    const c = certs as NonNullable<typeof certs>;
    fs.copyFileSync(c.a.key, dir.file('tls.key'));
    fs.copyFileSync(c.a.cert, dir.file('tls.crt'));
    return { TLS_KEY: dir.file('tls.key'), TLS_CERT: dir.file('tls.crt') };
  }

  /** Starts the fixture, loads every listener, upgrades once, and checks nothing failed. */
  async function upgradeUnderLoad(ls: L[], env: Record<string, string> = {}, during?: () => void): Promise<Stats> {
    writeRelease(dir, 'v1', ls);
    server = new Server(dir, { WORKERS: '2', ...env });
    await server.waitEvent('serving');
    const targets = await Promise.all(ls.map((l) => targetOf(server as Server, l)));
    const loops = new Loops(targets.flatMap((t) => clientsFor(t, cleanups)));
    cleanups.push(() => void loops.stop());
    const first = server.pid;
    try {
      await loops.progress(30);
      writeRelease(dir, 'v2', ls);
      during?.();
      process.kill(first, 'SIGUSR2');
      await server.waitEvent('upgrade-succeeded', 1, 15_000);
      await waitFor('v2 answers on every listener', () => loops.served('v2') >= 10 * ls.length, 10_000);
      await waitFor('old master gone', () => !running(first), 10_000);
      await loops.progress(10);
    } finally {
      await loops.stop();
    }
    const s = loops.stats;
    expect(s.errors, s.errors.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(s.ok).to.be.greaterThan(40);
    // the old generation drained by itself: nothing was left for drainTimeout to close
    await server.waitEvent('generation-drained', 1, 5_000);
    expect(server.count('drain-forced'), server.stderr.slice(-2000)).to.equal(0);
    if (process.env.BATON_SPEC_VERBOSE) process.stderr.write(`      ${ls.map((l) => l.kind).join('+')}: ${s.ok} answers ${JSON.stringify([...s.versions])} h2 retried ${h2Retried()}\n`);
    expect([...s.listeners].sort()).to.deep.equal(ls.map((l) => l.name).sort());
    return s;
  }

  it('TCP IPv4 (a named listener on 127.0.0.1): an upgrade under load fails no request; an idle keep-alive connection is closed cleanly', async () => {
    let idle: Promise<{ closed: Promise<string | undefined> }> | undefined;
    const l: L = { name: 'web', kind: 'http', host: '127.0.0.1', port: 0 };
    await upgradeUnderLoad([l], {}, () => {
      idle = targetOf(server as Server, l).then(idleKeepAlive);
    });
    expect(await (await idle)?.closed).to.equal(undefined);
  });

  it('TCP IPv6 (::1): an upgrade under load fails no request', async function () {
    if (!ipv6) this.skip(); // this machine has no IPv6 loopback (::1 cannot be bound)
    await upgradeUnderLoad([{ name: 'web6', kind: 'http', host: '::1', port: 0 }]);
  });

  it('UNIX socket with mode 0o660: the mode holds from the first start and through an upgrade under load', async () => {
    const sock = dir.file('web.sock');
    await upgradeUnderLoad([{ name: 'local', kind: 'http', path: sock, mode: 0o660 }], {}, () => {
      expect(fs.statSync(sock).mode & 0o777).to.equal(0o660);
    });
    expect(fs.statSync(sock).isSocket()).to.equal(true);
    expect(fs.statSync(sock).mode & 0o777).to.equal(0o660);
  });

  it('TLS (https factory): an upgrade under load fails no request and loads the new certificate; an idle TLS connection is closed cleanly', async function () {
    if (!certs) this.skip(); // no openssl on this machine to make the two test certificates
    const c = certs as NonNullable<typeof certs>;
    const env = tlsEnv();
    let idle: Promise<{ closed: Promise<string | undefined> }> | undefined;
    const l: L = { name: 'secure', kind: 'https', host: '127.0.0.1', port: 0 };
    const s = await upgradeUnderLoad([l], env, () => {
      idle = targetOf(server as Server, l).then(idleKeepAlive); // an idle TLS keep-alive connection of v1
      // the new release's certificate: read by the new workers' factory, as a renewed cert would be
      fs.copyFileSync(c.b.key, env.TLS_KEY as string);
      fs.copyFileSync(c.b.cert, env.TLS_CERT as string);
    });
    expect([...(s.fingerprints.get('v1') ?? [])]).to.deep.equal([c.a.fingerprint]);
    expect([...(s.fingerprints.get('v2') ?? [])]).to.deep.equal([c.b.fingerprint]);
    expect(await (await idle)?.closed, 'the idle TLS connection closed cleanly').to.equal(undefined);
  });

  it('HTTP/2 (http2.createSecureServer): draining sends GOAWAY; an upgrade under load fails no request', async function () {
    if (!certs) this.skip(); // no openssl on this machine to make the test certificate
    let idle: http2.ClientHttp2Session | undefined;
    let goaway = false;
    const l: L = { name: 'h2', kind: 'h2', host: '127.0.0.1', port: 0 };
    await upgradeUnderLoad([l], tlsEnv(), () => {
      // an idle session of the old generation: it must be told to go away, not reset
      const t = server?.events.find((e) => e.ev === 'listening' && e.name === 'h2');
      idle = http2.connect(`https://127.0.0.1:${t?.port}`, { rejectUnauthorized: false });
      idle.on('error', () => undefined);
      idle.on('goaway', () => (goaway = true));
      cleanups.push(() => idle?.destroy());
    });
    await waitFor('GOAWAY on the idle session', () => goaway, 5_000);
    await waitFor('the idle session closed', () => idle?.closed === true || idle?.destroyed === true, 5_000);
  });

  it('raw TCP (net.Server echo): an upgrade under load fails no connection', async () => {
    await upgradeUnderLoad([{ name: 'echo', kind: 'net', host: '127.0.0.1', port: 0 }]);
  });

  it('two named listeners at once (HTTP on TCP and raw TCP on a UNIX socket): the app sees which one; an upgrade fails nothing', async () => {
    await upgradeUnderLoad([
      { name: 'web', kind: 'http', host: '127.0.0.1', port: 0 },
      { name: 'admin', kind: 'net', path: dir.file('admin.sock') },
    ]);
  });

  it('a release adding a listener binds it; a release dropping one closes it once the old master has drained', async () => {
    const web: L = { name: 'web', kind: 'http', host: '127.0.0.1', port: 0 };
    const old: L = { name: 'old', kind: 'http', path: dir.file('old.sock') };
    const added: L = { name: 'added', kind: 'http', host: '127.0.0.1', port: 0 };
    writeRelease(dir, 'v1', [web, old]);
    server = new Server(dir);
    await server.waitEvent('serving');
    const webT = await targetOf(server, web);
    const oldT = await targetOf(server, old);
    expect((await get(oldT, false)).listener).to.equal('old');
    const oldInode = unixInode(old.path as string);
    expect(oldInode, 'the old listener in /proc/net/unix').to.be.a('string');
    const first = server.pid;
    expect(socketInodes(first).has(oldInode as string), 'the first master holds the old socket').to.equal(true);
    writeRelease(dir, 'v2', [web, added]);
    process.kill(first, 'SIGUSR2');
    const second = (await server.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
    // added: bound by the new master, announced, served by v2
    const addedT = await targetOf(server, added);
    expect(await get(addedT, false)).to.include({ version: 'v2', listener: 'added' });
    expect(await get(webT, false)).to.include({ version: 'v2', listener: 'web' });
    // dropped: the new master closed its copy at once; the old one closes when it is done
    expect(server.stderr).to.match(/listener-dropped: listener "old" .* closed the inherited fd \d+/);
    expect(socketInodes(second).has(oldInode as string), 'new master holds no copy of the dropped socket').to.equal(false);
    await waitFor('old master gone', () => !running(first), 10_000);
    // (the kernel frees it once the last holder is gone, a moment after the exit)
    await waitFor('dropped socket gone from the kernel', () => unixInode(old.path as string) === undefined, 2_000);
    expect(fs.existsSync(old.path as string), 'dropped socket file removed').to.equal(false);
    expect(await refusal(oldT)).to.equal('ENOENT');
  });

  it('a release adding a listener that cannot be bound fails the upgrade; the old master keeps serving', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    cleanups.push(() => busy.close());
    const web: L = { name: 'web', kind: 'http', host: '127.0.0.1', port: 0 };
    writeRelease(dir, 'v1', [web]);
    server = new Server(dir);
    await server.waitEvent('serving');
    const t = await targetOf(server, web);
    writeRelease(dir, 'v2', [web, { name: 'taken', kind: 'http', host: '127.0.0.1', port: (busy.address() as net.AddressInfo).port }]);
    process.kill(server.pid, 'SIGUSR2');
    const failed = await server.waitEvent('upgrade-failed', 1, 15_000);
    expect(failed.reason).to.match(/EADDRINUSE/);
    expect(await get(t, false)).to.include({ version: 'v1', listener: 'web' });
    expect(running(server.pid)).to.equal(true);
  });

  it('systemd socket activation: the first master adopts fd 3 by name, workers never see LISTEN_*, and it travels through an upgrade', async () => {
    const sd = net.createServer();
    await new Promise<void>((r) => sd.listen(0, '127.0.0.1', r));
    const port = (sd.address() as net.AddressInfo).port;
    const web: L = { name: 'web', kind: 'http', host: '127.0.0.1', port: 0 }; // systemd's socket wins over port 0
    const admin: L = { name: 'admin', kind: 'http', host: '127.0.0.1', port: 0 };
    writeRelease(dir, 'v1', [admin, web]);
    // spawn() cannot know the pid before exec: the shell exports its own pid, then becomes node
    server = new Server(dir, { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' }, {
      command: '/bin/sh',
      args: ['-c', `LISTEN_PID=$$ exec ${JSON.stringify(process.execPath)} ${JSON.stringify(dir.app)}`],
      fds: [listeningFd(sd)],
    });
    sd.close(); // the test's copy: from now on only baton accepts
    await server.waitEvent('serving');
    const announced = await server.waitEvent('listening', 1, 5_000, (e) => e.name === 'web');
    expect(announced.port).to.equal(port);
    expect(server.stderr).to.match(/listener "web" .* takes systemd's socket at fd 3/);
    expect(server.stderr).to.match(/listening: listening on 127\.0\.0\.1:\d+/);
    const t: Target = { kind: 'http', port };
    const a = await get(t, false);
    expect(a).to.include({ version: 'v1', listener: 'web' });
    expect(a.activation, 'LISTEN_FDS in a worker').to.equal(undefined);
    const adminT = await targetOf(server, admin);
    expect(adminT.port).to.not.equal(port);
    // an upgrade under load on the activated socket
    const loops = new Loops(clientsFor(t, cleanups));
    const first = server.pid;
    try {
      await loops.progress(20);
      writeRelease(dir, 'v2', [admin, web]);
      process.kill(first, 'SIGUSR2');
      await server.waitEvent('upgrade-succeeded', 1, 15_000);
      await waitFor('v2 served', () => loops.served('v2') >= 10, 10_000);
      await waitFor('old master gone', () => !running(first), 10_000);
    } finally {
      await loops.stop();
    }
    expect(loops.stats.errors, loops.stats.errors.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(await get(adminT, false)).to.include({ version: 'v2', listener: 'admin' });
  });

  it('a WebSocket-style upgraded connection is told to leave: the app closes it politely on drain, nothing is forced', async () => {
    const web: L = { name: 'web', kind: 'http', host: '127.0.0.1', port: 0 };
    writeRelease(dir, 'v1', [web]);
    server = new Server(dir, { WS_POLITE: '1', DRAIN_TIMEOUT: '5000', WORKERS: '1' });
    await server.waitEvent('serving');
    const t = await targetOf(server, web);
    const ws = await upgraded(t.port as number);
    await server.waitEvent('ws-open');
    ws.socket.write('hello');
    await waitFor('echo', () => ws.received() === 'hello', 5_000);
    const first = server.pid;
    const started = Date.now();
    writeRelease(dir, 'v2', [web]);
    process.kill(first, 'SIGUSR2');
    await server.waitEvent('upgrade-succeeded', 1, 15_000);
    expect(await ws.closed).to.equal(undefined); // a clean close, no reset
    expect(ws.received()).to.equal('hellobye\n');
    await server.waitEvent('generation-drained', 1, 5_000);
    expect(Date.now() - started).to.be.lessThan(4_000);
    expect(server.count('drain-forced')).to.equal(0);
    const again = await upgraded(t.port as number);
    again.socket.destroy();
  });

  it('an upgraded connection the app ignores is closed at drainTimeout, and the forced count is reported', async () => {
    const web: L = { name: 'web', kind: 'http', host: '127.0.0.1', port: 0 };
    writeRelease(dir, 'v1', [web]);
    server = new Server(dir, { DRAIN_TIMEOUT: '800', WORKERS: '1', KEEPALIVE_TIMEOUT: '400' });
    await server.waitEvent('serving');
    const t = await targetOf(server, web);
    const ws = await upgraded(t.port as number);
    await server.waitEvent('ws-open');
    // a plain keep-alive request too: it is idle, so the drain closes it without force
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    expect((await get(t, agent)).version).to.equal('v1');
    writeRelease(dir, 'v2', [web]);
    process.kill(server.pid, 'SIGUSR2');
    await server.waitEvent('upgrade-succeeded', 1, 15_000);
    const forced = await server.waitEvent('drain-forced', 1, 5_000);
    expect(forced).to.include({ connections: 1, upgraded: 1, generation: 1 });
    await ws.closed;
    expect(ws.socket.destroyed).to.equal(true);
    expect(server.stderr).to.match(/drain-forced: drainTimeout \(800 ms\) reached: closed 1 connection\(s\) by force \(1 of them upgraded/);
    await server.waitEvent('generation-drained', 1, 5_000);
  });
});
