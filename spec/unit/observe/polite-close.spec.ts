import { expect } from 'chai';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { PoliteClose } from '../../../lib/observe/polite-close';

/** A raw client: connects, and once the server saw the connection, lets the test act before it writes. */
async function connected(server: http.Server, port: number): Promise<net.Socket> {
  const seen = once(server, 'connection');
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // asserted through what it read
  await once(socket, 'connect');
  await seen;
  return socket;
}

/** What the server sent until it closed the connection, or how the connection failed. */
function replyOf(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
    socket.on('close', () => resolve(got));
  });
}

const GET = 'GET /x HTTP/1.1\r\nHost: t\r\n\r\n';

describe('observe: a polite close of the endpoints\' servers (lib/observe/polite-close.ts)', () => {
  let server: http.Server;
  let port: number;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('slow\n'), 100);
      else res.end('ok\n');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    server.closeAllConnections();
    if (server.listening) server.close();
  });

  it('the premise, from Node 26: http.Server.close() cuts a connection accepted whose request is not read yet', async function () {
    // Node 22 and 24 answer it; 26 counts it idle and destroys it (spec/integration/observe.spec.ts's ECONNRESET
    // across upgrades). If this fails on 26, Node changed again: PoliteClose may be simpler.
    if (Number(process.versions.node.split('.')[0]) < 26) this.skip();
    const socket = await connected(server, port);
    sockets.push(socket);
    const reply = replyOf(socket);
    server.close();
    socket.write(GET);
    expect(await reply).to.not.match(/^HTTP\/1.1 200/);
  });

  it('answers a connection accepted just before the close, with Connection: close, then stops', async () => {
    const closer = new PoliteClose(server);
    const socket = await connected(server, port);
    sockets.push(socket);
    const reply = replyOf(socket);
    const closed = closer.close(5_000);
    expect(server.listening).to.equal(false);
    socket.write(GET);
    const got = await reply;
    expect(got).to.match(/^HTTP\/1.1 200/);
    expect(got.toLowerCase()).to.include('connection: close');
    await closed;
    // nobody listens any more
    const refused = net.connect(port, '127.0.0.1');
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).to.equal('ECONNREFUSED');
  });

  it('finishes a response under way with Connection: close; closes an idle keep-alive connection at once', async () => {
    const closer = new PoliteClose(server);
    const busy = await connected(server, port);
    const idle = await connected(server, port);
    sockets.push(busy, idle);
    const idleFirst = new Promise<string>((resolve) => idle.once('data', (d: Buffer) => resolve(d.toString())));
    idle.write(GET);
    expect(await idleFirst).to.match(/^HTTP\/1.1 200/);
    const idleClosed = once(idle, 'close');
    const reply = replyOf(busy);
    busy.write(GET.replace('/x', '/slow'));
    await new Promise<void>((resolve) => server.once('request', () => setImmediate(resolve)));
    const t0 = Date.now();
    const closed = closer.close(5_000);
    await idleClosed;
    expect(Date.now() - t0, 'the idle one at once').to.be.below(90);
    const got = await reply;
    expect(got).to.match(/^HTTP\/1.1 200/);
    expect(got).to.include('slow');
    await closed;
  });

  it('cuts a connection that sends nothing once the grace is over, and resolves', async () => {
    const closer = new PoliteClose(server);
    const silent = await connected(server, port);
    sockets.push(silent);
    const gone = once(silent, 'close');
    const t0 = Date.now();
    await closer.close(150);
    await gone;
    expect(Date.now() - t0).to.be.at.least(140);
  });
});
