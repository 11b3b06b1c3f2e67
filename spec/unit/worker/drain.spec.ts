// ConnectionTracker with fake timers (the grace and the drain deadline) and real sockets:
// a loopback net server accepts each connection and hands the server-side socket to a
// non-listening http.Server, as the worker does with sockets the master sends it.
import { expect } from 'chai';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as sinon from 'sinon';
import { ConnectionTracker, type DrainResult } from '../../../lib/worker/drain';
import { listenerOf } from '../../../lib/worker/tags';
import { waitFor, within } from '../../support/wait';

const GRACE = 1_000;
const DRAIN_TIMEOUT = 10_000;

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parseResponse(buf: string): { res: Response; length: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = buf.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = Number(headers['content-length'] ?? '0');
  if (buf.length < end + 4 + len) return undefined;
  return {
    res: { status: Number((statusLine as string).split(' ')[1]), headers, body: buf.slice(end + 4, end + 4 + len) },
    length: end + 4 + len,
  };
}

/** The client end of a connection: raw HTTP/1.1, so every byte on the wire is ours. */
class Client {
  private buf = '';
  closed = false;
  readonly gone: Promise<void>;
  constructor(readonly sock: net.Socket, readonly peer: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { this.buf += d; });
    sock.on('error', () => undefined); // a forced close may reset
    this.gone = new Promise((resolve) => sock.once('close', () => { this.closed = true; resolve(); }));
  }
  send(text: string): void {
    this.sock.write(text);
  }
  get(url = '/'): void {
    this.send(`GET ${url} HTTP/1.1\r\nHost: test\r\n\r\n`);
  }
  async response(): Promise<Response> {
    const r = await waitFor(() => `a response (have ${JSON.stringify(this.buf)})`, () => parseResponse(this.buf), 3_000, 10);
    this.buf = this.buf.slice(r.length);
    return r.res;
  }
}

describe('drain: ConnectionTracker', () => {
  let clock: sinon.SinonFakeTimers;
  let responsesClosed: number;
  let current: net.Server;
  let tracker: ConnectionTracker;
  let listener: net.Server;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  let held: http.ServerResponse[];
  let seenConnectionHeader: Array<string | number | string[] | undefined>;
  let accepted: net.Socket[];
  let clients: Client[];

  /** The tracker under test is built on `srv` (an http.Server by default). */
  async function setup(srv: net.Server = http.createServer(), grace = GRACE, feed = true, keepAliveTimeout = 0): Promise<void> {
    // keepAliveTimeout 0 (Node keeps idle sockets): the drain's idle limit is the grace alone
    if (srv instanceof http.Server || srv instanceof https.Server) (srv as http.Server).keepAliveTimeout = keepAliveTimeout;
    if (srv instanceof http.Server) {
      srv.on('request', (req, res) => {
        seenConnectionHeader.push(res.getHeader('connection'));
        // Registered after the tracker's own listener: when this fires, the tracker saw it.
        res.once('close', () => responsesClosed++);
        handler(req, res);
      });
    }
    current = srv;
    tracker = new ConnectionTracker(grace);
    tracker.watch(srv); // as a worker does once its server is built
    listener = net.createServer((socket) => {
      accepted.push(socket);
      if (feed) tracker.feed(socket, srv, 'test');
      else tracker.add(socket, srv);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  }

  async function connect(): Promise<Client> {
    const { port } = listener.address() as net.AddressInfo;
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const peer = await waitFor('the server side of the connection', () => accepted.find((s) => s.remotePort === sock.localPort), 5_000, 10);
    const c = new Client(sock, peer);
    clients.push(c);
    return c;
  }

  /** Serves one request on a fresh connection, so that the connection is idle, not new. */
  async function usedConnection(): Promise<Client> {
    const c = await connect();
    const before = responsesClosed;
    c.get();
    const r = await c.response();
    expect(r.headers.connection).to.equal('keep-alive');
    // The tracker marks it idle when the response closes.
    await waitFor('the response to close', () => responsesClosed > before, 5_000, 10);
    return c;
  }

  /** A request whose response the test finishes itself. */
  async function busyConnection(): Promise<{ c: Client; res: http.ServerResponse }> {
    const c = await connect();
    const before = held.length;
    c.get('/hold');
    await waitFor('the request to reach the app', () => held.length > before, 5_000, 10);
    return { c, res: held[held.length - 1] as http.ServerResponse };
  }

  function track(p: Promise<DrainResult>): { result: DrainResult | undefined; p: Promise<DrainResult> } {
    const t: { result: DrainResult | undefined; p: Promise<DrainResult> } = { result: undefined, p };
    p.then((r) => { t.result = r; });
    return t;
  }

  beforeEach(() => {
    // Only what the tracker uses; Node's own socket timers stay real.
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    held = [];
    responsesClosed = 0;
    seenConnectionHeader = [];
    accepted = [];
    clients = [];
    handler = (req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end('ok');
    };
  });

  afterEach(async () => {
    clock.restore();
    for (const c of clients) c.sock.destroy();
    for (const s of accepted) s.destroy();
    await new Promise((resolve) => listener.close(resolve));
  });

  it('responses started during the drain carry Connection: close (the app already sees it), and the socket then closes', async () => {
    await setup();
    const c = await connect();
    c.get();
    const before = await c.response();
    expect(before.headers.connection).to.equal('keep-alive');
    expect(seenConnectionHeader).to.deep.equal([undefined]);

    const d = track(tracker.drain(DRAIN_TIMEOUT));
    c.get();
    const during = await c.response();
    expect(during.status).to.equal(200);
    expect(during.body).to.equal('ok');
    expect(during.headers.connection).to.equal('close');
    expect(seenConnectionHeader).to.deep.equal([undefined, 'close']);
    await within(c.gone, 2_000, 'the connection to close after its Connection: close response');
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 0, upgraded: 0 });
  });

  it('closes an idle keep-alive socket only once it has been idle for keepAliveGrace', async () => {
    await setup();
    const c = await usedConnection(); // idle since t=0
    clock.tick(400);
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(599); // t=999: idle for 999 ms
    expect(c.peer.writableEnded, 'ended before the grace').to.equal(false);
    clock.tick(101); // t=1100: a sweep at t>=1000 ends it
    expect(c.peer.writableEnded, 'ended after the grace').to.equal(true);
    await within(c.gone, 2_000, 'the client to see the close');
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 0, upgraded: 0 });
    expect(tracker.size).to.equal(0);
  });

  it("waits for the server's keepAliveTimeout when it is longer than keepAliveGrace (no race with pooled clients)", async () => {
    await setup(http.createServer(), GRACE, true, 60_000);
    const c = await usedConnection(); // idle since t=0
    const d = track(tracker.drain(DRAIN_TIMEOUT * 10));
    clock.tick(GRACE + 500);
    expect(c.peer.writableEnded, 'closed at the grace though the server keeps idle sockets 60 s').to.equal(false);
    clock.tick(60_000);
    expect(c.peer.writableEnded, 'closed once idle for keepAliveTimeout').to.equal(true);
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 0, upgraded: 0 });
  });

  it('counts idleness from the end of the last response, not from the drain', async () => {
    await setup();
    clock.tick(5_000);
    const c = await usedConnection(); // idle since t=5000
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(GRACE - 1);
    expect(c.peer.writableEnded).to.equal(false);
    clock.tick(100);
    expect(c.peer.writableEnded).to.equal(true);
    await within(d.p, 2_000, 'the drain to finish');
  });

  it('closes a socket that never sent a byte once the grace has passed since it arrived', async () => {
    await setup();
    const c = await connect(); // arrived at t=0, silent
    clock.tick(300);
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(699); // t=999
    expect(c.peer.writableEnded, 'ended before the grace').to.equal(false);
    clock.tick(101); // t=1100, before 300 + GRACE: counted from arrival, not from the drain
    expect(c.peer.writableEnded, 'ended after the grace').to.equal(true);
    expect(c.peer.bytesRead).to.equal(0);
    await within(c.gone, 2_000, 'the client to see the close');
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 0, upgraded: 0 });
  });

  it('with keepAliveGrace 0, closes idle sockets as soon as the drain starts', async () => {
    await setup(http.createServer(), 0);
    const c = await usedConnection();
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    expect(c.peer.writableEnded).to.equal(true);
    await within(d.p, 2_000, 'the drain to finish');
  });

  it('does not close a socket with a request arriving on the wire; serves it with Connection: close', async () => {
    await setup();
    const c = await usedConnection();
    const readBefore = c.peer.bytesRead;
    c.send('GET /late HTTP/1.1\r\nHost: test\r\n'); // headers not finished
    await waitFor('the partial request to be read', () => c.peer.bytesRead > readBefore, 5_000, 10);
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(3 * GRACE);
    expect(c.peer.writableEnded, 'a socket with a request on the wire was ended').to.equal(false);
    c.send('\r\n');
    const r = await c.response();
    expect(r.status).to.equal(200);
    expect(r.headers.connection).to.equal('close');
    await within(c.gone, 2_000, 'the connection to close');
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 0, upgraded: 0 });
  });

  it('does not close a busy socket during the grace; it ends after its response', async () => {
    await setup();
    const { c, res } = await busyConnection();
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(5 * GRACE);
    expect(c.peer.writableEnded, 'a busy socket was ended').to.equal(false);
    expect(c.closed).to.equal(false);
    expect(d.result).to.equal(undefined);
    res.end('late');
    const r = await c.response();
    expect(r.body).to.equal('late');
    clock.tick(2 * GRACE);
    await within(c.gone, 2_000, 'the connection to close after its response');
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 0, upgraded: 0 });
  });

  it('a response started after the drain began carries Connection: close even if its request came before', async () => {
    await setup();
    const { c, res } = await busyConnection();
    track(tracker.drain(DRAIN_TIMEOUT));
    res.end('late');
    const r = await c.response();
    expect(r.headers.connection).to.equal('close');
    await within(c.gone, 2_000, 'the connection to close right after its response, with no grace');
  });

  it('at drainTimeout destroys what remains and counts it as forced', async () => {
    await setup();
    const a = await busyConnection();
    const b = await busyConnection();
    const d = track(tracker.drain(3_000));
    clock.tick(2_999);
    await Promise.resolve();
    expect(d.result).to.equal(undefined);
    expect(a.c.peer.destroyed).to.equal(false);
    clock.tick(1);
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 2, upgraded: 0 });
    expect(a.c.peer.destroyed).to.equal(true);
    expect(b.c.peer.destroyed).to.equal(true);
    expect(tracker.size).to.equal(0);
    await within(Promise.all([a.c.gone, b.c.gone]), 2_000, 'both clients to see the close');
  });

  it('counts only the connections still open at drainTimeout', async () => {
    await setup();
    const busy = await busyConnection();
    const idle = await usedConnection();
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(GRACE + 100);
    await within(idle.gone, 2_000, 'the idle connection to close');
    await waitFor('the tracker to forget the idle connection', () => tracker.size === 1, 5_000, 10);
    clock.tick(DRAIN_TIMEOUT);
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 1, upgraded: 0 });
    expect(busy.c.peer.destroyed).to.equal(true);
  });

  it('resolves at once with nothing forced when no connection is open', async () => {
    await setup();
    const c = await connect();
    c.sock.end();
    await waitFor('the tracker to forget a closed connection', () => tracker.size === 0, 5_000, 10);
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    await Promise.resolve();
    expect(d.result).to.deep.equal({ forced: 0, upgraded: 0 });
  });

  it('a second drain() resolves with the first one', async () => {
    await setup();
    await busyConnection();
    const first = track(tracker.drain(2_000));
    const second = track(tracker.drain(60_000));
    clock.tick(2_000);
    expect(await within(first.p, 2_000, 'the first drain')).to.deep.equal({ forced: 1, upgraded: 0 });
    expect(await within(second.p, 2_000, 'the second drain')).to.deep.equal({ forced: 1, upgraded: 0 });
  });

  it('leaves idle sockets of a server it cannot look into (raw net) until drainTimeout', async () => {
    await setup(net.createServer());
    const c = await connect();
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(5 * GRACE);
    expect(c.peer.writableEnded).to.equal(false);
    expect(d.result).to.equal(undefined);
    clock.tick(DRAIN_TIMEOUT);
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 1, upgraded: 0 });
  });

  it('destroys an https connection that never sent a byte (no handshake) after the grace', async () => {
    await setup(https.createServer(), GRACE, false);
    const c = await connect(); // tracked only: the TLS server never sees it
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(GRACE - 1);
    expect(c.peer.destroyed).to.equal(false);
    clock.tick(100);
    expect(c.peer.destroyed).to.equal(true);
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 0, upgraded: 0 });
  });

  it('leaves a connection the app took over (Upgrade) to the app, and counts it as upgraded at drainTimeout', async () => {
    await setup();
    const taken: net.Socket[] = [];
    // Added after the tracker was built: it follows the app's 'upgrade' listeners.
    const srv = current as http.Server;
    srv.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
      taken.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    });
    const ws = await connect();
    ws.send('GET /ws HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    await waitFor('the app to take the connection over', () => taken.length === 1, 5_000, 10);
    const idle = await connect();
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(5 * GRACE);
    expect(idle.peer.writableEnded, 'an idle connection is ended').to.equal(true);
    expect(ws.peer.writableEnded, 'a taken-over connection is not').to.equal(false);
    await within(idle.gone, 2_000, 'the idle connection to close');
    await waitFor('the tracker to forget the idle connection', () => tracker.size === 1, 5_000, 10);
    clock.tick(DRAIN_TIMEOUT);
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 1, upgraded: 1 });
    expect(ws.peer.destroyed).to.equal(true);
  });

  it('feed() tracks the socket, hands it to the server and tags it with its listener', async () => {
    clock.restore();
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    const srv = http.createServer((req, res) => res.end(String(listenerOf(req))));
    srv.keepAliveTimeout = 0;
    tracker = new ConnectionTracker(GRACE);
    listener = net.createServer((socket) => {
      accepted.push(socket);
      tracker.feed(socket, srv, 'web');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const c = await connect();
    expect(tracker.size).to.equal(1);
    c.get();
    const r = await c.response();
    expect(r.body).to.equal('web');
    const d = track(tracker.drain(DRAIN_TIMEOUT));
    clock.tick(GRACE + 100);
    expect(c.peer.writableEnded).to.equal(true);
    expect(await within(d.p, 2_000, 'the drain to finish')).to.deep.equal({ forced: 0, upgraded: 0 });
  });

  it('feed() leaves a connection half open when its server does: a client that sent its FIN still gets the answer sent after it', async () => {
    // baton's sockets are made by its acceptor (or arrive over IPC) with Node's default, closing
    // their side when the client's FIN arrives; a server made with allowHalfOpen answers later
    const srv = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => undefined);
      socket.resume();
      socket.on('end', () => setImmediate(() => setImmediate(() => socket.end('pong'))));
    });
    tracker = new ConnectionTracker(GRACE);
    listener = net.createServer((socket) => {
      accepted.push(socket);
      tracker.feed(socket, srv, 'raw');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
    let got = '';
    client.on('data', (d) => (got += d));
    const ended = new Promise<void>((resolve, reject) => {
      client.on('end', resolve);
      client.on('error', reject);
    });
    client.end('ping');
    await within(ended, 5_000, 'the server to end the connection');
    expect(got).to.equal('pong');
  });

  it('tells its response sink each HTTP/1 response that finished (status, start, end), and the ones a closing connection left unfinished', async () => {
    const recorded: Array<[number, number]> = [];
    let aborted = 0;
    const sink = { record: (code: number, start: number, end: number) => recorded.push([code, end - start]), aborted: (n: number) => { aborted += n; } };
    const srv = http.createServer((req, res) => {
      if (req.url === '/hang') return;
      clock.tick(7);
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end('x');
    });
    srv.keepAliveTimeout = 0;
    tracker = new ConnectionTracker(GRACE, undefined, sink);
    listener = net.createServer((socket) => {
      accepted.push(socket);
      tracker.feed(socket, srv, 'web');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const c = await connect();
    c.get('/');
    await c.response();
    c.get('/missing');
    await c.response();
    await waitFor('both recorded', () => recorded.length === 2, 5_000, 10);
    expect(recorded).to.deep.equal([[200, 7], [404, 7]]);
    c.get('/hang');
    await waitFor('the hanging request arrived', () => tracker.requests === 3, 5_000, 10);
    c.sock.destroy();
    await waitFor('the unfinished one counted at close', () => aborted === 1, 5_000, 10);
    expect(recorded).to.have.length(2);
  });
});
