// Who accepts (the `accept` option): by default the workers accept on duplicates of the
// master's TCP socket, so a master that is stopped (SIGSTOP: busy, swapped out, paused by a
// debugger) delays no connection; with accept: 'master' every connection waits for it.
import { expect } from 'chai';
import { perTest, Server } from '../support/harness';
import { request } from '../support/http-client';

describe('the data path: who accepts TCP connections (integration)', function () {
  this.timeout(30_000);
  const t = perTest();

  async function stoppedMaster(env: Record<string, string>): Promise<{ whileStopped: string; afterwards: number }> {
    t.server = new Server(t.dir, env);
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    expect((await request({ port })).status).to.equal(200);
    const master = t.server.pid;
    process.kill(master, 'SIGSTOP');
    let whileStopped: string;
    const pending = request({ port }, '/', { timeoutMs: 5_000 });
    try {
      whileStopped = await Promise.race([
        pending.then((r) => `answered ${r.status}`),
        new Promise<string>((r) => setTimeout(() => r('waiting'), 700)),
      ]);
    } finally {
      process.kill(master, 'SIGCONT');
    }
    return { whileStopped, afterwards: (await pending).status };
  }

  it('accept: "workers" (default): a new connection is served while the master is stopped', async () => {
    const r = await stoppedMaster({});
    expect(r.whileStopped).to.equal('answered 200');
    expect(r.afterwards).to.equal(200);
  });

  it('accept: "master" (BATON_ACCEPT=master): a new connection waits for the master, and is served once it runs again', async () => {
    const r = await stoppedMaster({ BATON_ACCEPT: 'master' });
    expect(r.whileStopped).to.equal('waiting');
    expect(r.afterwards).to.equal(200);
  });
});
