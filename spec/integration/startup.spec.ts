// Start-up failures: a clear message, exit code 1, nothing left behind.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { AppDir, nobodyCanLoadBaton, Server } from '../support/harness';
import { fdOf } from '../support/unit';
import { waitFor } from '../support/wait';

describe('start-up failures (integration)', function () {
  this.timeout(30_000);
  let dir: AppDir;
  let server: Server | undefined;
  let blocker: net.Server | undefined;

  beforeEach(() => {
    dir = new AppDir();
    dir.release({ version: 'v0' });
  });
  afterEach(async () => {
    server?.kill();
    server = undefined;
    if (blocker) await new Promise((r) => blocker?.close(r));
    blocker = undefined;
    dir.remove();
  });

  async function exits(s: Server): Promise<number | null | undefined> {
    await waitFor('exit', () => s.exitCode !== undefined, 10_000);
    return s.exitCode;
  }

  it('EADDRINUSE: exit 1, the message names the error and the address, no worker forked', async () => {
    blocker = net.createServer();
    await new Promise<void>((r) => blocker?.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    server = new Server(dir, { PORT: String(port), PID_FILE: dir.file('app.pid') });
    expect(await exits(server)).to.equal(1);
    expect(server.stderr).to.match(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    expect(server.count('worker-ready')).to.equal(0);
    expect(fs.existsSync(dir.file('app.pid'))).to.equal(false);
    expect(fs.existsSync(dir.file('app.pid.sock'))).to.equal(false);
  });

  it('EACCES: a privileged port as an unprivileged user exits 1 naming the error and the address', async function () {
    if (!nobodyCanLoadBaton()) this.skip(); // needs root, and a checkout other users can read
    fs.chmodSync(dir.dir, 0o755);
    server = new Server(dir, { PORT: '80' }, { uid: 65534, gid: 65534 });
    expect(await exits(server)).to.equal(1);
    expect(server.stderr).to.match(/cannot listen on 127\.0\.0\.1:80: EACCES/);
  });

  it('a pid file in a missing directory: exit 1 before anything is bound or forked, the message names the path', async () => {
    const pidFile = dir.file('missing/app.pid');
    server = new Server(dir, { PID_FILE: pidFile });
    expect(await exits(server)).to.equal(1);
    expect(server.stderr).to.contain(`the pid file ${pidFile} cannot be written: its directory ${dir.file('missing')} does not exist (ENOENT)`);
    expect(server.count('listening')).to.equal(0);
  });

  it('a pid file in a directory this user cannot write: exit 1 before anything is bound, the message names the path', async function () {
    if (!nobodyCanLoadBaton()) this.skip(); // root writes anywhere: the check runs as another user
    fs.chmodSync(dir.dir, 0o755);
    const ro = dir.file('ro');
    fs.mkdirSync(ro, { mode: 0o555 });
    fs.chmodSync(ro, 0o555);
    server = new Server(dir, { PID_FILE: `${ro}/app.pid` }, { uid: 65534, gid: 65534 });
    expect(await exits(server)).to.equal(1);
    expect(server.stderr).to.contain(`the pid file ${ro}/app.pid cannot be written: its directory ${ro} is not writable (EACCES)`);
    expect(server.count('listening')).to.equal(0);
  });

  for (const [what, handoff, pattern] of [
    ['not JSON', '{oops', /malformed BATON_HANDOFF from the previous master \(not JSON\)/],
    ['an fd that is not open', JSON.stringify({ v: 1, parent: 1, generation: 2, listeners: [{ spec: { name: 'default', port: 0, host: '127.0.0.1' }, fd: 99 }] }), /inherited listener "default" names fd 99, which is not open \(EBADF\)/],
    ['an fd that is not a socket', JSON.stringify({ v: 1, parent: 1, generation: 2, listeners: [{ spec: { name: 'default', port: 0, host: '127.0.0.1' }, fd: 4 }] }), /inherited listener "default" names fd 4, which is not a socket/],
  ] as const) {
    it(`a malformed inherited-socket environment (${what}): exit 1 before anything is half started`, async () => {
      const file = dir.file('plain.txt');
      fs.writeFileSync(file, 'not a socket');
      const fd = fs.openSync(file, 'r');
      try {
        server = new Server(dir, { BATON_HANDOFF: handoff }, { fds: ['ignore', fd] });
        expect(await exits(server)).to.equal(1);
        expect(server.stderr).to.match(pattern);
        expect(server.count('worker-ready')).to.equal(0);
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  it('an inherited fd that is a socket but not listening (a connected TCP socket): exit 1 before anything is forked', async () => {
    blocker = net.createServer();
    await new Promise<void>((r) => blocker?.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', () => r()));
    try {
      const fd = fdOf(client); // the test's own socket
      const handoff = JSON.stringify({ v: 1, parent: 1, generation: 2, listeners: [{ spec: { name: 'default', port: 0, host: '127.0.0.1' }, fd: 4 }] });
      server = new Server(dir, { BATON_HANDOFF: handoff }, { fds: ['ignore', fd] });
      expect(await exits(server)).to.equal(1);
      expect(server.stderr).to.match(/inherited listener "default" names fd 4, which is not a listening socket: a TCP socket in state ESTABLISHED/);
      expect(server.count('worker-ready')).to.equal(0);
      expect(server.count('listening')).to.equal(0);
    } finally {
      client.destroy();
    }
  });

  it('an inherited socket that listens on another port than its listener says: exit 1, naming both', async () => {
    blocker = net.createServer();
    await new Promise<void>((r) => blocker?.listen(0, '127.0.0.1', r));
    const actual = (blocker.address() as net.AddressInfo).port;
    const claimed = actual === 65535 ? 65534 : actual + 1;
    const fd = fdOf(blocker); // the test's own socket
    const handoff = JSON.stringify({ v: 1, parent: 1, generation: 2, listeners: [{ spec: { name: 'default', port: claimed, host: '127.0.0.1' }, fd: 4 }] });
    server = new Server(dir, { BATON_HANDOFF: handoff, PORT: String(claimed) }, { fds: ['ignore', fd] });
    expect(await exits(server)).to.equal(1);
    expect(server.stderr).to.contain(`inherited listener "default" (127.0.0.1:${claimed}) names fd 4, which listens on port ${actual}: the inherited-socket environment does not match its sockets`);
    expect(server.count('worker-ready')).to.equal(0);
  });
});
