// KeptSockets (lib/sockets/keep.ts) on real sockets: the duplicates a master keeps after it hands
// over. This is also the check for lib/os/internals.ts (6): a raw handle sent over IPC arrives
// unread, can be listened on again, and closes. It fails loudly if Node changes that.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
// the built modules, as the helper's own (one copy of Listener's class for both)
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { Listener: RealListener } = require('../../../dist/sockets/listeners') as typeof import('../../../lib/sockets/listeners');
import { running } from '../../support/unit';
import { listenerOn } from '../../support/fakes/listener';
import { waitFor } from '../../support/wait';

// the built module: it spawns dist/sockets/dup-child.js beside it
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { KeptSockets } = require('../../../dist/sockets/keep') as typeof import('../../../lib/sockets/keep');

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
 * How connecting to `port` ends once its last holder closed it: a connection that reached the
 * queue just before the last fd closed is reset by the kernel (seen once with two CPU hogs beside
 * the suite), so resets are tried again; after that the port refuses. A duplicate left open
 * would leave connections queued unanswered ('no answer').
 */
async function outcome(port: number): Promise<string> {
  const attempt = (): Promise<string | undefined> => reply({ port, host: '127.0.0.1' }).then(() => undefined, (e: NodeJS.ErrnoException) => e.code ?? e.message);
  return waitFor('an outcome other than a reset', async () => {
    const e = await attempt();
    return e === 'ECONNRESET' ? undefined : e ?? 'an answer';
  }, 2_000, 0);
}

/** The helper exits once it delivered the duplicates (it holds its own until then). */
async function gone(pid: number): Promise<void> {
  await waitFor(`helper ${pid} to exit`, () => !running(pid), 5_000, 10);
}

describe('KeptSockets: duplicates of listening sockets, kept without accepting', function () {
  this.timeout(15_000);
  let dir: string;
  const servers: net.Server[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-keep-'));
  });
  afterEach(() => {
    for (const s of servers.splice(0)) if (s.listening) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function listen(s: net.Server, ...args: unknown[]): Promise<net.Server> {
    servers.push(s);
    await new Promise<void>((r) => (s.listen as (...a: unknown[]) => void)(...args, () => r()));
    return s;
  }

  it('TCP and UNIX: survive the close of the original server, queue connections unaccepted, serve again when listened on', async () => {
    const tcp = await listen(net.createServer((c) => c.end('old')), 0, '127.0.0.1');
    const port = (tcp.address() as net.AddressInfo).port;
    // bound at a private name and renamed, as baton does (lib/sockets/unixpath.ts), so close() does not unlink it
    const tmp = path.join(dir, '.s.tmp');
    const sock = path.join(dir, 's.sock');
    const unix = await listen(net.createServer((c) => c.end('old')), tmp);
    fs.renameSync(tmp, sock);

    const kept = new KeptSockets([listenerOn('tcp', tcp), listenerOn('unix', unix)]);
    const helper = kept.pid as number;
    tcp.close();
    unix.close();
    const handles = await kept.ready;
    expect([...handles.keys()]).to.deep.equal(['tcp', 'unix']);
    await gone(helper);

    // nobody accepts: the connections wait in the backlog until a server listens on the duplicate
    const early = [reply({ port, host: '127.0.0.1' }), reply({ path: sock })];
    for (const [name, h] of handles) {
      kept.use(h);
      await listen(net.createServer((c) => c.end(`back:${name}`)), h);
    }
    expect(await Promise.all(early)).to.deep.equal(['back:tcp', 'back:unix']);
    expect(await reply({ port, host: '127.0.0.1' })).to.equal('back:tcp');
    kept.close(); // leaves the handles in use alone
    expect(await reply({ path: sock })).to.equal('back:unix');
  });

  it('close() lets the duplicates go: with no other holder the port refuses connections', async () => {
    const tcp = await listen(net.createServer((c) => c.end('old')), 0, '127.0.0.1');
    const port = (tcp.address() as net.AddressInfo).port;
    const kept = new KeptSockets([listenerOn('tcp', tcp)]);
    tcp.close();
    await kept.ready;
    await gone(kept.pid as number);
    kept.close();
    expect(await outcome(port)).to.equal('ECONNREFUSED');
  });

  it('at a hand-over, a TCP socket the workers accept on (held raw) is kept as it is: no helper, open while kept, gone at close()', async () => {
    // as a master that binds for its workers does at its start (lib/sockets/open.ts detach())
    const l = await RealListener.bind({ name: 'web', host: '127.0.0.1', port: 0 }, 64, (_l, c) => c.destroy());
    const port = l.port() as number;
    const start = new KeptSockets([l]);
    const h = (await start.ready).get('web') as object;
    start.use(h);
    l.holdRaw(h);
    start.close();
    expect(l.workerHandle()).to.equal(h);

    const kept = KeptSockets.atHandOver([l]);
    expect(kept.pid, 'no helper for a raw handle').to.equal(undefined);
    expect((await kept.ready).get('web')).to.equal(h);
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
    expect(await outcome(port)).to.equal('ECONNREFUSED');
  });
});
