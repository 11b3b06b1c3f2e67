// envFile: every new master and every new generation reads the file; its variables override
// the inherited ones, and a variable removed from it goes back to what it was.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EnvFile, lineProblem, parseEnvText, readEnvFile } from '../../lib/config/envfile';
import { Logger } from '../../lib/log/log';
import { LIFE_FIXTURE, perTest, running, Server } from '../support/harness';
import { request, type Reply } from '../support/http-client';
import { waitFor } from '../support/wait';

describe('envFile (unit)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-envfile-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (text: string, name = '.env'): string => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const log = (): Logger => new Logger('master', 1, 'silent');

  it('parses with util.parseEnv: comments, export, quotes, multi-line values, = in values', () => {
    expect(parseEnvText('# a comment\nA=1\nexport B=two\n\nC="multi\nline"\nD=a=b\nE=\nF=\'single\'\n')).to.deep.equal({
      A: '1', B: 'two', C: 'multi\nline', D: 'a=b', E: '', F: 'single',
    });
  });

  it('names the first malformed line instead of letting it run into the next name', () => {
    expect(lineProblem('A=1\nGARBAGE LINE\nB=2')).to.equal('line 2 is not NAME=value');
    expect(lineProblem('A=1\n1A=2')).to.match(/^line 2: "1A" is not a valid variable name/);
    expect(lineProblem('A=1\nMY VAR=2')).to.match(/^line 2: "MY VAR" is not a valid variable name/);
    expect(lineProblem('C="multi\nno equals here\n"\nD=1')).to.equal(undefined); // inside quotes
    expect(() => parseEnvText('A=1\nB: 2\n')).to.throw('line 2 is not NAME=value');
    expect(() => parseEnvText('A=1\0')).to.throw(/NUL byte/);
  });

  it("refuses variables baton and Node's cluster set themselves", () => {
    expect(() => parseEnvText('BATON_GENERATION=4\n')).to.throw(/sets BATON_GENERATION, which baton or Node's cluster sets itself/);
    expect(() => parseEnvText('NODE_UNIQUE_ID=4\n')).to.throw(/NODE_UNIQUE_ID/);
  });

  it('says why a file cannot be read: missing, a directory, too large', () => {
    expect(() => readEnvFile(path.join(dir, 'nope.env'))).to.throw(`envFile ${path.join(dir, 'nope.env')}: it does not exist`);
    expect(() => readEnvFile(dir)).to.throw(`envFile ${dir}: it is a directory`);
    const big = write(`A=${'x'.repeat(1024 * 1024)}\n`, 'big.env');
    expect(() => readEnvFile(big)).to.throw(/it is larger than 1 MiB/);
  });

  it('load() overrides the inherited variables; a reload gets the file anew, removed ones back as inherited; the next master gets the inherited ones', () => {
    write('KEEP=file\nNEW=1\nGONE=soon\n');
    const env: NodeJS.ProcessEnv = { KEEP: 'parent', OTHER: 'x' };
    const f = new EnvFile('.env', dir, log(), env);
    expect(f.path).to.equal(path.join(dir, '.env'));
    f.load();
    expect(env).to.deep.equal({ KEEP: 'file', OTHER: 'x', NEW: '1', GONE: 'soon' });
    write('NEW=2\nADDED=yes\n');
    // over the master's environment: KEEP back to its inherited value, GONE unset (undefined)
    expect(f.forGeneration()).to.deep.equal({ KEEP: 'parent', NEW: '2', GONE: undefined, ADDED: 'yes' });
    expect(f.forNextMaster()).to.deep.equal({ KEEP: 'parent', NEW: undefined, GONE: undefined });
    expect(env.KEEP, 'the master itself keeps what it started with').to.equal('file');
  });

  it('without the option it reads nothing and changes nothing', () => {
    const env: NodeJS.ProcessEnv = { A: '1' };
    const f = new EnvFile(undefined, dir, log(), env);
    f.load();
    expect(f.forGeneration()).to.deep.equal({});
    expect(f.forNextMaster()).to.deep.equal({});
    expect(env).to.deep.equal({ A: '1' });
  });

  it('a reload whose file is gone throws the reason', () => {
    write('A=1\n');
    const f = new EnvFile('.env', dir, log(), {});
    f.load();
    fs.rmSync(path.join(dir, '.env'));
    expect(() => f.forGeneration()).to.throw(/\.env: it does not exist/);
  });
});

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
