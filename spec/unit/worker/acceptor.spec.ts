// A worker accepting on a duplicate of its master's TCP socket (lib/worker/acceptor.ts), on real
// sockets: it accepts once its generation does, stops by itself the moment it holds its share
// (the next connection waits in the socket's queue, unharmed) and starts again by itself when
// one closes, on the same duplicate; close() lets the duplicate go (the port then refuses).
import { expect } from 'chai';
import * as net from 'node:net';
import * as sinon from 'sinon';
import { Acceptor, CHURN_WINDOW } from '../../../lib/worker/acceptor';
import { fdOf } from '../../support/unit';
import { holds, waitFor } from '../../support/wait';

// the built module: it runs itself (dist/sockets/ledger.js) as the keep helper
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { duplicate } = require('../../../dist/sockets/ledger') as typeof import('../../../lib/sockets/ledger');

/** `n` raw duplicates of a fresh TCP socket on loopback, and its port; the original server is closed. */
async function duplicates(n: number): Promise<{ port: number; handles: object[] }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const handles = await duplicate(Array<number>(n).fill(fdOf(server)));
  server.close();
  return { port, handles };
}

function refuses(port: number): Promise<boolean> {
  return new Promise((r) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => {
      c.destroy();
      r(false);
    });
    c.on('error', (e: NodeJS.ErrnoException) => r(e.code === 'ECONNREFUSED'));
  });
}

/** Until the port refuses (the helpers that made the duplicates may take a moment to exit). */
function waitRefused(port: number): Promise<boolean> {
  return waitFor(`port ${port} to refuse connections`, () => refuses(port), 5_000, 20);
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
    c.on('error', reject);
  });
}

describe('Acceptor: a worker accepting on a duplicate of the master\'s socket, under its share', function () {
  this.timeout(15_000);
  const clients: net.Socket[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });

  /** An acceptor whose held connections are the ones it accepted and that are still open. */
  function acceptor(): { a: Acceptor; got: Array<[string, net.Socket]>; held: Set<net.Socket>; errors: Error[]; changes: boolean[] } {
    const got: Array<[string, net.Socket]> = [];
    const held = new Set<net.Socket>();
    const errors: Error[] = [];
    const changes: boolean[] = [];
    const a: Acceptor = new Acceptor({
      connection: (l, s) => {
        got.push([l, s]);
        held.add(s);
        s.once('close', () => {
          held.delete(s);
          a.update();
        });
      },
      error: (_l, e) => errors.push(e),
      held: () => held.size,
      changed: (on) => changes.push(on),
    });
    return { a, got, held, errors, changes };
  }

  it('accepts once its generation does; at its share it stops at once, and starts again by itself when a connection closes, on the same duplicate', async () => {
    const { port, handles } = await duplicates(1);
    const { a, got, errors, changes } = acceptor();
    a.share(2);
    a.take('web', handles[0] as object, 64);
    expect(a.accepting).to.equal(false); // a handle alone does not accept
    a.want(true);
    expect(a.accepting).to.equal(true);
    clients.push(await connect(port), await connect(port));
    await waitFor('two connections', () => got.length === 2, 5_000, 10);
    expect(got[0]?.[0]).to.equal('web');
    expect(a.accepting, 'holding its share of 2').to.equal(false);
    expect(a.pauses).to.equal(1);
    const waiting = await connect(port); // the kernel completes it: it waits in the queue
    clients.push(waiting);
    await holds('nothing accepted at its share', () => got.length === 2, 300);
    // one it held closes: it accepts again, with no new duplicate, and takes the queued one
    got[0]?.[1].destroy();
    await waitFor('the queued connection', () => got.length === 3, 5_000, 10);
    waiting.write('ping');
    const server = got[2]?.[1] as net.Socket;
    const data = await new Promise<string>((r) => server.once('data', (d: Buffer) => r(d.toString())));
    expect(data).to.equal('ping');
    expect(a.accepting, 'at its share again').to.equal(false);
    // a larger share: it accepts again at once
    a.share(10);
    expect(a.accepting).to.equal(true);
    expect(changes).to.deep.equal([true, false, true, false, true]);

    // its generation stops accepting: nothing is taken, the queue keeps it; then it goes on
    a.want(false);
    expect(a.accepting).to.equal(false);
    clients.push(await connect(port));
    await holds('nothing accepted while its generation does not', () => got.length === 3, 300);
    a.want(true);
    await waitFor('the connection queued meanwhile', () => got.length === 4, 5_000, 10);
    for (const [, s] of got) s.destroy();

    a.close();
    expect(a.accepting).to.equal(false);
    await waitRefused(port); // the one duplicate is closed: nobody holds the socket any more
    expect(errors).to.deep.equal([]);
  });

  it('a second handle for the same listener is closed on arrival (one duplicate per listener)', async () => {
    const { port, handles } = await duplicates(2);
    const { a, got } = acceptor();
    a.want(true); // wanted, but nothing to listen on yet
    expect(a.accepting).to.equal(false);
    a.take('web', handles[0] as object, 64);
    expect(a.accepting).to.equal(true);
    a.take('web', handles[1] as object, 64); // closed: one duplicate per listener
    clients.push(await connect(port));
    await waitFor('a connection', () => got.length === 1, 5_000, 10);
    for (const [, s] of got) s.destroy();
    a.close();
    expect(a.accepting).to.equal(false);
    await waitRefused(port);
  });

  it('a worker closing connections (its churn: closes in the last 25 to 50 ms) may hold that many more than its share, at most twice its share; with no closes its share is exact (fake clock)', () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      let held = 0;
      const changes: boolean[] = [];
      const a = new Acceptor({ connection: () => undefined, error: () => undefined, held: () => held, changed: (on) => changes.push(on) });
      a.share(2);
      a.want(true);
      held = 2;
      a.update(); // a burst: no closes, paused at its share exactly
      expect(changes).to.deep.equal([true, false]);
      held = 1;
      a.left(); // one closed: it accepts again
      held = 2;
      a.update(); // and, closing connections, it may hold one more than its share
      expect(changes).to.deep.equal([true, false, true]);
      held = 3;
      a.update();
      expect(changes).to.deep.equal([true, false, true, false]);
      clock.tick(2 * CHURN_WINDOW); // no close since: its share is exact again
      held = 2;
      a.update();
      expect(changes, 'at its share, no churn: still paused').to.deep.equal([true, false, true, false]);
      held = 1;
      a.update();
      expect(changes).to.deep.equal([true, false, true, false, true]);
      // many closes: it may hold at most its share more (twice its share), however many closed
      for (let i = 0; i < 10; i++) a.left();
      held = 3;
      a.update();
      expect(changes, 'under twice its share: accepting').to.deep.equal([true, false, true, false, true]);
      held = 4;
      a.update();
      expect(changes, 'at twice its share: paused, 10 closes notwithstanding').to.deep.equal([true, false, true, false, true, false]);
      a.close();
    } finally {
      clock.restore();
    }
  });
});
