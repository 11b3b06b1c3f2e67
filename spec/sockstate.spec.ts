// socketState (lib/sockets/sockstate.ts): listening or not, read from /proc, on real sockets.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { socketState } from '../lib/sockets/sockstate';
import { fdOf } from './support/unit';

describe('socketState (Linux /proc)', function () {
  const open: Array<net.Server | net.Socket> = [];
  let dir: string;
  before(function () {
    if (process.platform !== 'linux') this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-sockstate-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    for (const x of open.splice(0)) {
      if (x instanceof net.Server) x.close();
      else x.destroy();
    }
  });

  async function tcpServer(host = '127.0.0.1'): Promise<net.Server> {
    const s = net.createServer((c) => open.push(c));
    open.push(s);
    await new Promise<void>((r) => s.listen(0, host, r));
    return s;
  }

  it('a listening TCP socket (IPv4 and IPv6 loopback) is listening', async () => {
    const v4 = await tcpServer();
    const v6 = await tcpServer('::1');
    expect(socketState(fdOf(v4))).to.deep.equal({ listening: true, port: (v4.address() as net.AddressInfo).port });
    expect(socketState(fdOf(v6))).to.deep.equal({ listening: true, port: (v6.address() as net.AddressInfo).port });
  });

  it('a connected TCP socket is not, and says its state', async () => {
    const s = await tcpServer();
    const c = net.connect((s.address() as net.AddressInfo).port, '127.0.0.1');
    open.push(c);
    await new Promise<void>((r) => c.once('connect', () => r()));
    expect(socketState(fdOf(c))).to.deep.equal({ listening: false, why: 'a TCP socket in state ESTABLISHED' });
  });

  it('a listening UNIX socket is listening; a connected one is not', async () => {
    const p = path.join(dir, 's.sock');
    const s = net.createServer((c) => open.push(c));
    open.push(s);
    await new Promise<void>((r) => s.listen(p, r));
    expect(socketState(fdOf(s))).to.deep.equal({ listening: true });
    const c = net.connect(p);
    open.push(c);
    await new Promise<void>((r) => c.once('connect', () => r()));
    const st = socketState(fdOf(c));
    expect(st?.listening).to.equal(false);
    expect((st as { why: string }).why).to.match(/UNIX socket that is not listening/);
  });

  it('a file is not a socket: undefined (the caller checks that with fstat)', () => {
    const f = path.join(dir, 'plain');
    fs.writeFileSync(f, 'x');
    const fd = fs.openSync(f, 'r');
    try {
      expect(socketState(fd)).to.equal(undefined);
    } finally {
      fs.closeSync(fd);
    }
  });
});
