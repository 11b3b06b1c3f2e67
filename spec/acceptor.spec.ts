// A worker accepting on duplicates of its master's TCP socket (lib/worker/acceptor.ts), on real
// sockets: it accepts once resumed, accepts nothing while paused (connections wait in the
// socket's queue, unharmed, and are taken on resume, from a spare duplicate), and close()
// lets every duplicate go (the port then refuses).
import { expect } from 'chai';
import * as net from 'node:net';
import { Acceptor } from '../lib/worker/acceptor';
import type { Listener } from '../lib/sockets/listeners';
import { fdOf, holds, poll } from './support/unit';

// the built module: it spawns dist/sockets/dup-child.js beside it
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { KeptSockets } = require('../dist/sockets/keep') as typeof import('../lib/sockets/keep');

/** `n` raw duplicates of a fresh TCP socket on loopback, and its port; the original server is closed. */
async function duplicates(n: number): Promise<{ port: number; handles: object[] }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const handles: object[] = [];
  for (let i = 0; i < n; i++) {
    const kept = new KeptSockets([{ name: 'tcp', handoffFd: () => fdOf(server) } as unknown as Listener]);
    const h = (await kept.ready).get('tcp') as object;
    kept.use(h);
    kept.close();
    handles.push(h);
  }
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
async function untilRefused(port: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await refuses(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} still accepts after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
    c.on('error', reject);
  });
}

describe('Acceptor: a worker accepting on duplicates of the master\'s socket', function () {
  this.timeout(15_000);
  const clients: net.Socket[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });

  it('accepts once resumed, nothing while paused (the queue keeps the connection), then again from a spare', async () => {
    const { port, handles } = await duplicates(2);
    const got: Array<[string, net.Socket]> = [];
    const errors: Error[] = [];
    const a = new Acceptor({ connection: (l, s) => got.push([l, s]), error: (_l, e) => errors.push(e) });
    for (const h of handles) a.take('web', h, 64);
    expect(a.accepting).to.equal(false); // handles alone do not accept
    a.resume();
    expect(a.accepting).to.equal(true);
    expect(a.needs()).to.deep.equal([]); // one spare left
    clients.push(await connect(port));
    await poll('the first connection', () => got.length === 1);
    expect(got[0]?.[0]).to.equal('web');
    expect(a.accepted).to.equal(1);

    a.pause();
    expect(a.accepting).to.equal(false);
    const waiting = await connect(port); // the kernel completes it: it waits in the queue
    clients.push(waiting);
    await holds('nothing accepted while paused', () => got.length === 1, 300);
    a.resume(); // on the spare
    await poll('the queued connection, after resume', () => got.length === 2);
    expect(a.needs()).to.deep.equal(['web']); // no spare left: the master sends another
    waiting.write('ping');
    const server = got[1]?.[1] as net.Socket;
    const data = await new Promise<string>((r) => server.once('data', (d: Buffer) => r(d.toString())));
    expect(data).to.equal('ping');
    for (const [, s] of got) s.destroy();

    a.close();
    expect(a.accepting).to.equal(false);
    // every duplicate is closed: nobody holds the socket any more
    await untilRefused(port);
    expect(errors).to.deep.equal([]);
  });

  it('a handle that arrives while it should accept and has no listening duplicate is used at once; after close() handles are closed on arrival', async () => {
    const { port, handles } = await duplicates(2);
    const got: net.Socket[] = [];
    const a = new Acceptor({ connection: (_l, s) => got.push(s), error: () => undefined });
    a.resume(); // wanted, but nothing to listen on yet
    expect(a.accepting).to.equal(false);
    a.take('web', handles[0] as object, 64);
    expect(a.accepting).to.equal(true);
    clients.push(await connect(port));
    await poll('a connection', () => got.length === 1);
    for (const s of got) s.destroy();
    a.close();
    a.take('web', handles[1] as object, 64); // closed on arrival: the port refuses
    expect(a.accepting).to.equal(false);
    await untilRefused(port);
  });
});
