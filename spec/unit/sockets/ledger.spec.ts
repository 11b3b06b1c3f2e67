// Keeping listening sockets (lib/sockets/ledger.ts: duplicate() and KeptSockets) on real sockets: the
// keep helper's duplicates (once, at a master's start) and what an old master keeps at a hand-over,
// with no helper. This is also the check for lib/os/internals.ts (6, 7): a raw handle sent over
// IPC arrives unread, can be listened on again, and closes; a socket held through such a handle
// pauses and resumes, UNIX ones too. It fails loudly if Node changes that.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeHandle } from '../../../lib/os/internals';
import type { ListenerSpec } from '../../../lib/config/types';
import { matchInherited, type Listener } from '../../../lib/sockets/ledger';
import { fdOf } from '../../support/unit';
import { holds, waitFor } from '../../support/wait';

// the built module: it runs itself (dist/sockets/ledger.js) as the keep helper
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { duplicate, KeptSockets, Listener: RealListener } = require('../../../dist/sockets/ledger') as typeof import('../../../lib/sockets/ledger');

function reply(target: { port: number; host: string } | { path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(target as net.NetConnectOpts);
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
    c.setTimeout(5_000, () => c.destroy(new Error('no answer')));
  });
}

/**
 * How connecting ends once the last holder closed the socket: a connection that reached the
 * queue just before the last fd closed is reset by the kernel (seen once with two CPU hogs beside
 * the suite), so resets are tried again; after that it refuses. A socket left open would leave
 * connections queued unanswered ('no answer').
 */
async function outcome(target: { port: number; host: string } | { path: string }): Promise<string> {
  const attempt = (): Promise<string | undefined> => reply(target).then(() => undefined, (e: NodeJS.ErrnoException) => e.code ?? e.message);
  return waitFor('an outcome other than a reset', async () => {
    const e = await attempt();
    return e === 'ECONNRESET' ? undefined : e ?? 'an answer';
  }, 2_000, 0);
}

/** The keep helpers this process has running (its children running dist/sockets/ledger.js). */
function helpers(): number[] {
  let children: string;
  try {
    children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8');
  } catch {
    return [];
  }
  return children.trim().split(/\s+/).filter(Boolean).map(Number).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join('sockets', 'ledger.js'));
    } catch {
      return false;
    }
  });
}

describe('keeping listening sockets', function () {
  this.timeout(15_000);
  let dir: string;
  const servers: net.Server[] = [];
  const listeners: Listener[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-keep-'));
  });
  afterEach(() => {
    for (const s of servers.splice(0)) if (s.listening) s.close();
    for (const l of listeners.splice(0)) {
      l.release();
      l.stopAccepting();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function listen(s: net.Server, ...args: unknown[]): Promise<net.Server> {
    servers.push(s);
    await new Promise<void>((r) => (s.listen as (...a: unknown[]) => void)(...args, () => r()));
    return s;
  }

  it('duplicate(), TCP and UNIX: the duplicates survive the close of the original server, queue connections unaccepted, serve again when listened on; the helper is gone', async () => {
    const tcp = await listen(net.createServer((c) => c.end('old')), 0, '127.0.0.1');
    const port = (tcp.address() as net.AddressInfo).port;
    // bound at a private name and renamed, as baton does (lib/sockets/unixpath.ts), so close() does not unlink it
    const tmp = path.join(dir, '.s.tmp');
    const sock = path.join(dir, 's.sock');
    const unix = await listen(net.createServer((c) => c.end('old')), tmp);
    fs.renameSync(tmp, sock);

    const handles = await duplicate([fdOf(tcp), fdOf(unix)]);
    tcp.close();
    unix.close();
    expect(handles).to.have.length(2);
    await waitFor('the helper to exit', () => helpers().length === 0, 5_000, 10);

    // nobody accepts: the connections wait in the backlog until a server listens on the duplicate
    const early = [reply({ port, host: '127.0.0.1' }), reply({ path: sock })];
    for (const [i, h] of handles.entries()) await listen(net.createServer((c) => c.end(`back:${i}`)), h);
    expect(await Promise.all(early)).to.deep.equal(['back:0', 'back:1']);
  });

  it('a duplicate closed is let go: with no other holder the port refuses connections', async () => {
    const tcp = await listen(net.createServer((c) => c.end('old')), 0, '127.0.0.1');
    const port = (tcp.address() as net.AddressInfo).port;
    const [h] = (await duplicate([fdOf(tcp)])) as [object];
    tcp.close();
    closeHandle(h);
    expect(await outcome({ port, host: '127.0.0.1' })).to.equal('ECONNREFUSED');
  });

  it('at a hand-over, a TCP socket the workers accept on is kept as it is: no helper, open while kept, gone at close()', async () => {
    // as a master that binds for its workers does at its start (lib/sockets/ledger.ts)
    const l = await RealListener.bind({ name: 'web', host: '127.0.0.1', port: 0 }, 64, (_l, c) => c.destroy());
    listeners.push(l);
    const port = l.port() as number;
    const [h] = (await duplicate([l.handoffFd()])) as [object];
    await l.hold(h, true);
    expect(l.workerHandle()).to.equal(h);

    const kept = new KeptSockets([l]);
    expect(helpers(), 'no helper at a hand-over').to.deep.equal([]);
    expect(kept.failed).to.equal(undefined);
    l.stopAccepting(); // the hand-over: this one closes nothing now
    expect(l.workerHandle(), 'not for workers any more').to.equal(undefined);
    // still open: a connection waits in the queue (nobody accepts), it is not refused
    const waiting = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      waiting.once('connect', () => resolve());
      waiting.once('error', reject);
    });
    waiting.destroy();
    kept.close();
    expect(await outcome({ port, host: '127.0.0.1' })).to.equal('ECONNREFUSED');
  });

  for (const kind of ['UNIX', 'TCP'] as const) {
    it(`at a hand-over, a ${kind} socket the master accepts on pauses (no helper): connections wait, taking back answers them, close() lets it go${kind === 'UNIX' ? ' and leaves the path' : ''}`, async () => {
      const sock = path.join(dir, 'm.sock');
      let served = 0;
      const spec = kind === 'UNIX' ? { name: 'm', path: sock } : { name: 'm', host: '127.0.0.1', port: 0 };
      const l = await RealListener.bind(spec, 64, (_l, c) => {
        served++;
        c.end(`served:${served}`);
      });
      listeners.push(l);
      const target = kind === 'UNIX' ? { path: sock } : { port: l.port() as number, host: '127.0.0.1' };
      const [h] = (await duplicate([l.handoffFd()])) as [object];
      await l.hold(h, false); // accept: 'master' (a UNIX socket always)
      expect(l.workerHandle(), 'the master accepts on it').to.equal(undefined);
      expect(await reply(target)).to.equal('served:1');

      let kept = new KeptSockets([l]);
      expect(helpers(), 'no helper at a hand-over').to.deep.equal([]);
      expect(kept.failed).to.equal(undefined);
      l.stopAccepting(); // the hand-over: a kept socket stays
      const waiting = reply(target);
      await holds('nothing accepted while kept', () => served === 1, 300);
      // taking service back (lib/upgrade/take-back.ts waits for this)
      await kept.takeBack();
      expect(await waiting).to.equal('served:2');
      expect(await reply(target)).to.equal('served:3');

      // handed over again, and let go: nothing holds the socket
      kept = new KeptSockets([l]);
      expect(kept.failed).to.equal(undefined);
      kept.close();
      expect(await outcome(target)).to.equal('ECONNREFUSED');
      if (kind === 'UNIX') expect(fs.lstatSync(sock).isSocket(), 'the socket file is left for the next master').to.equal(true);
    });
  }

  it('a socket this master serves on the server it bound (the helper failed) cannot be kept: it says why, close() still lets the others go', async () => {
    const l = await RealListener.bind({ name: 'web', host: '127.0.0.1', port: 0 }, 64, (_l, c) => c.end('bound'));
    listeners.push(l);
    const kept = new KeptSockets([l]);
    expect(kept.failed).to.match(/cannot keep 127\.0\.0\.1:\d+/);
    kept.close();
    expect(await reply({ port: l.port() as number, host: '127.0.0.1' }), 'still serving until stopAccepting()').to.equal('bound');
  });
});

// Which inherited listening socket (from the previous master) each listener of a new release adopts.
describe('listeners: matching inherited sockets', () => {
  const spec = (name: string, port: number, host = '127.0.0.1'): ListenerSpec => ({ name, port, host });

  it('adopts by name and address, finds a renamed listener by its address, and leaves the dropped ones', () => {
    const given = [
      { spec: spec('web', 8080), fd: 4 },
      { spec: spec('old', 8081), fd: 5 },
      { spec: spec('api', 8082), fd: 6 },
      { spec: { name: 'sock', path: '/tmp/a.sock', mode: 0o600 }, fd: 7 },
    ];
    const { adopt, unused } = matchInherited([spec('web', 8080), spec('api-v2', 8082), spec('new', 9000), { name: 'sock', path: '/tmp/a.sock', mode: 0o660 }], given);
    expect(adopt.get('web')?.fd).to.equal(4);
    expect(adopt.get('api-v2')?.fd).to.equal(6);
    expect(adopt.get('sock')?.fd, 'a new mode keeps the socket').to.equal(7);
    expect(adopt.has('new')).to.equal(false);
    expect(unused.map((u) => u.fd)).to.deep.equal([5]);
  });

  it('never guesses between two port-0 listeners', () => {
    const { adopt, unused } = matchInherited([spec('x', 0)], [{ spec: spec('a', 0), fd: 4 }]);
    expect(adopt.size).to.equal(0);
    expect(unused).to.have.length(1);
  });
});
