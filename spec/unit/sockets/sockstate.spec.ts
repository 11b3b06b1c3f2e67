// socketState (lib/sockets/sockstate.ts): listening or not, read from /proc, on real sockets.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { listeningRows, socketState } from '../../../lib/sockets/sockstate';
import { fdOf } from '../../support/unit';

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

  it('listeningRows reads the LISTEN rows at the head of a table and stops at the first other row', async () => {
    // the kernel's layout: header, LISTEN (0A) rows, then the rest; a LISTEN row after another is not read
    const row = (sl: number, st: string, inode: number): string =>
      `  ${sl}: 0100007F:1F90 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0`;
    const table = path.join(dir, 'tcp');
    const big = Array.from({ length: 20_000 }, (_, i) => row(i + 3, '06', 0)); // TIME_WAIT rows: more than one 64 KiB read
    fs.writeFileSync(table, ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      row(0, '0A', 111), row(1, '0A', 222), row(2, '01', 333), ...big, row(20_003, '0A', 444)].join('\n') + '\n');
    expect(listeningRows(table).map((c) => c[9])).to.deep.equal(['111', '222']);
    expect(listeningRows(table, (c) => c[9] === '111').map((c) => c[9])).to.deep.equal(['111']);
    expect(listeningRows(path.join(dir, 'missing'))).to.deep.equal([]);
    // the real table, with a connection open beside a listener: the listener is found, the connection not
    const s = await tcpServer();
    const c = net.connect((s.address() as net.AddressInfo).port, '127.0.0.1');
    open.push(c);
    await new Promise<void>((r) => c.once('connect', () => r()));
    const inode = (fd: number): string => (/^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`)) as RegExpExecArray)[1] as string;
    const listening = listeningRows('/proc/self/net/tcp').map((r) => r[9]);
    expect(listening).to.include(inode(fdOf(s)));
    expect(listening).not.to.include(inode(fdOf(c)));
  });
});
