// envFile: every new master and every new generation reads the file; its variables override
// the inherited ones, and a variable removed from it goes back to what it was.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIFE_FIXTURE, perTest, running, Server } from '../support/harness';
import { request, type Reply } from '../support/http-client';
import { waitFor } from '../support/wait';

describe('envFile (integration)', function () {
  this.timeout(60_000);
  const t = perTest(LIFE_FIXTURE);
  const SHOW = 'APP_VALUE,APP_GONE,APP_INHERITED';
  const start = async (extra: Record<string, string> = {}): Promise<{ s: Server; port: number }> => {
    fs.writeFileSync(t.dir.file('.env'), 'APP_VALUE=one\nAPP_GONE=bye\nAPP_INHERITED=from-file\n');
    t.server = new Server(t.dir, { ENV_FILE: '.env', SHOW_ENV: SHOW, APP_INHERITED: 'parent', ...extra });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    return { s: t.server, port };
  };
  const first = { APP_VALUE: 'one', APP_GONE: 'bye', APP_INHERITED: 'from-file' };
  const second = { APP_VALUE: 'two', APP_GONE: null, APP_INHERITED: 'parent' };

  it('the master and its first workers see the file; after a reload the new workers see the changed file, removed variables as inherited', async () => {
    const { s, port } = await start();
    expect((await s.waitEvent('master-env')).env).to.deep.equal(first);
    expect((await request({ port })).json).to.deep.include({ generation: 1, env: first });
    fs.writeFileSync(t.dir.file('.env'), 'APP_VALUE=two\n');
    process.kill(s.pid, 'SIGHUP');
    await s.waitEvent('reload-succeeded');
    expect((await request({ port })).json).to.deep.include({ generation: 2, env: second });
    expect(s.stderr).to.match(/info env-file: \S+\/\.env: 1 variable\(s\); changed: APP_VALUE; removed: APP_GONE, APP_INHERITED/);
  });

  it('after an upgrade the new master and its workers see the changed file, removed variables as inherited', async () => {
    const { s, port } = await start();
    fs.writeFileSync(t.dir.file('.env'), 'APP_VALUE=two\n');
    t.dir.release({ version: 'v1' });
    process.kill(s.pid, 'SIGUSR2');
    const next = (await s.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
    expect((await s.waitEvent('master-env', 1, 5_000, (e) => e.master === next)).env).to.deep.equal(second);
    const r = await request({ port });
    expect(r.json).to.deep.include({ version: 'v1', env: second });
    await waitFor('old master gone', () => !running(s.pid), 10_000);
  });

  it('a missing or malformed file fails the reload with the reason; the old generation keeps serving; a fixed file reloads', async () => {
    const { s, port } = await start();
    fs.rmSync(t.dir.file('.env'));
    process.kill(s.pid, 'SIGHUP');
    const failed = await s.waitEvent('reload-failed');
    expect(failed.reason).to.equal(`envFile ${t.dir.dir}/.env: it does not exist`);
    expect((await request({ port })).json).to.deep.include({ generation: 1, env: first });
    expect(s.count('worker-ready'), 'nothing was forked').to.equal(1);

    fs.writeFileSync(t.dir.file('.env'), 'APP_VALUE=two\nnot a variable\n');
    process.kill(s.pid, 'SIGHUP');
    const malformed = await s.waitEvent('reload-failed', 2);
    expect(malformed.reason).to.match(/\.env: line 2 is not NAME=value$/);
    expect(s.stderr).to.match(/error reload-failed: reload failed, generation 1 keeps serving: envFile \S+\.env: line 2 is not NAME=value/);
    expect((await request({ port })).json).to.deep.include({ generation: 1, env: first });

    fs.writeFileSync(t.dir.file('.env'), 'APP_VALUE=two\n');
    process.kill(s.pid, 'SIGHUP');
    await s.waitEvent('reload-succeeded');
    expect((await request({ port })).json).to.deep.include({ env: second });
  });

  it('a missing file fails an upgrade with the reason; the old master keeps serving', async () => {
    const { s, port } = await start();
    fs.rmSync(t.dir.file('.env'));
    t.dir.release({ version: 'v1' });
    process.kill(s.pid, 'SIGUSR2');
    const failed = await s.waitEvent('upgrade-failed', 1, 15_000);
    expect(failed.reason).to.match(/baton: envFile \S+\/\.env: it does not exist\. Fix the file or the envFile option/);
    const r: Reply = await request({ port });
    expect(r.json).to.deep.include({ version: 'v0', generation: 1, env: first });
    expect(s.exitCode).to.equal(undefined);
  });

  for (const [what, content, reason] of [
    ['missing', undefined, /it does not exist/],
    ['malformed', 'APP_VALUE=one\nAPP VALUE=two\n', /line 2: "APP VALUE" is not a valid variable name/],
  ] as const) {
    it(`a ${what} file at start is a clear error before anything is forked or bound`, async () => {
      if (content !== undefined) fs.writeFileSync(t.dir.file('.env'), content);
      t.server = new Server(t.dir, { ENV_FILE: '.env', SHOW_ENV: SHOW });
      const s = t.server;
      await waitFor('the master exits', () => s.exitCode !== undefined, 10_000);
      expect(s.exitCode).to.equal(1);
      expect(s.stderr).to.match(new RegExp(`Error: baton: envFile ${t.dir.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.env: `));
      expect(s.stderr).to.match(reason);
      expect(s.stderr).to.match(/Fix the file or the envFile option \(a relative path is resolved against \S+\); nothing was started\./);
      expect(s.events.map((e) => e.ev), 'no listening, no worker, no master-env').to.deep.equal([]);
      expect(s.stderr).to.not.match(/worker\[/);
    });
  }

  it('a relative envFile follows the working directory through a `current` symlink: a reload reads the new release\'s file', async () => {
    const root = t.dir.dir;
    for (const [name, value] of [['rel1', 'one'], ['rel2', 'two']]) {
      fs.mkdirSync(path.join(root, name));
      fs.copyFileSync(t.dir.app, path.join(root, name, 'app.js'));
      fs.writeFileSync(path.join(root, name, 'release.json'), JSON.stringify({ version: name }));
      fs.writeFileSync(path.join(root, name, '.env'), `APP_VALUE=${value}\n`);
    }
    const point = (to: string): void => {
      fs.symlinkSync(to, path.join(root, 'current.new'));
      fs.renameSync(path.join(root, 'current.new'), path.join(root, 'current'));
    };
    point('rel1');
    t.server = new Server(t.dir, { ENV_FILE: '.env', SHOW_ENV: 'APP_VALUE' }, { script: 'app.js', cwd: path.join(root, 'current') });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    expect((await request({ port })).json).to.deep.include({ version: 'rel1', env: { APP_VALUE: 'one' } });
    point('rel2');
    process.kill(t.server.pid, 'SIGHUP');
    await t.server.waitEvent('reload-succeeded');
    expect((await request({ port })).json).to.deep.include({ version: 'rel2', env: { APP_VALUE: 'two' } });
  });
});
