// The `baton` command itself: --version, help for every command, usage errors, what goes to
// stdout and what to stderr, and the reason a failed reload prints.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../lib/control/help';
import { cli } from '../support/cli';
import { perTest, Server } from '../support/harness';
import { request } from '../support/http-client';

const ROOT = path.resolve(__dirname, '../..');
/** Variables baton sets for its own processes: not the user's to set. */
const INTERNAL = ['BATON_HANDOFF', 'BATON_ORIGINAL_NODE_OPTIONS', 'BATON_GENERATION', 'BATON_HEARTBEAT', 'BATON_SUPERVISOR', 'BATON_LOG_FORWARD'];

/** Every BATON_* name lib/ mentions, help.ts aside. */
function envNamesInLib(): Set<string> {
  const names = new Set<string>();
  for (const f of fs.readdirSync(path.join(ROOT, 'lib'), { recursive: true }) as string[]) {
    if (!f.endsWith('.ts') || f === path.join('control', 'help.ts')) continue;
    for (const m of fs.readFileSync(path.join(ROOT, 'lib', f), 'utf8').matchAll(/\bBATON_[A-Z_]+\b/g)) names.add(m[0]);
  }
  return names;
}

describe('cli: the baton command (integration)', function () {
  this.timeout(60_000);

  it('--version and -v print the version of package.json alone', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const r = await cli([flag]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`${version}\n`);
    }
  });

  it('every command has help (help CMD, CMD --help, CMD -h) with its exit codes and environment, on stdout, exit 0', async () => {
    for (const cmd of COMMANDS) {
      const texts: string[] = [];
      for (const args of [['help', cmd], [cmd, '--help'], [cmd, '-h']]) {
        const r = await cli(args);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
        expect(r.stderr).to.equal('');
        expect(r.stdout).to.match(new RegExp(`^usage: baton ${cmd}\\b`));
        texts.push(r.stdout);
      }
      expect(texts[1]).to.equal(texts[0]);
      expect(texts[2]).to.equal(texts[0]);
      if (cmd === 'help') continue;
      expect(texts[0], cmd).to.match(/\nexit codes:\n {2}0 /);
      expect(texts[0], cmd).to.match(/\n {2}2 {2}usage error/);
      expect(texts[0], cmd).to.match(/\nenvironment:\n {2}BATON_/);
    }
    // --help wins over anything else on the line, as long as it is baton's (before app.js for run)
    const scale = await cli(['scale', 'zero', '--help']);
    expect(scale.code).to.equal(0);
    expect(scale.stdout).to.match(/^usage: baton scale N/);
  });

  it('the overview lists every command and every BATON_* variable a user may set', async () => {
    for (const args of [['help'], ['--help'], ['-h']]) {
      const r = await cli(args);
      expect(r.code).to.equal(0);
      for (const cmd of COMMANDS) expect(r.stdout).to.match(new RegExp(`\\n {2}${cmd}\\b`));
      expect(r.stdout).to.match(/\nexit codes:\n/);
      const user = [...envNamesInLib()].filter((n) => !INTERNAL.includes(n));
      expect(user).to.include.members(['BATON_PID_FILE', 'BATON_SOCKET', 'BATON_LOG_LEVEL', 'BATON_LOG_FORMAT']);
      for (const name of user) expect(r.stdout, `${name} is documented`).to.match(new RegExp(`\\n {2}${name} `));
      for (const name of INTERNAL) expect(r.stdout, `${name} is internal`).not.to.contain(name);
    }
    // the internal list names variables that exist
    for (const name of INTERNAL) expect(envNamesInLib()).to.include(name);
  });

  it('usage errors exit 2 on stderr with the command\'s usage line; bare `baton` prints the overview there', async () => {
    const bad = await cli(['help', 'upgrad']);
    expect(bad.code).to.equal(2);
    expect(bad.stdout).to.equal('');
    expect(bad.stderr).to.match(/no command "upgrad"/);
    const opt = await cli(['reload', '--wait', '--pid-file', '/nonexistent/app.pid']);
    expect(opt.code).to.equal(2);
    expect(opt.stderr).to.match(/unknown option --wait\nusage: baton reload \[--wait-drain\]/);
    const none = await cli([]);
    expect(none.code).to.equal(2);
    expect(none.stderr).to.match(/^usage: baton <command>/);
    const run = await cli(['run', '--ready-timeout', 'soon', 'app.js']);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.match(/--ready-timeout takes a positive number of milliseconds\nusage: baton run /);
  });

  describe('against a server', () => {
    const t = perTest();

    it('a failed reload prints the error the new code threw (an exception at start-up, a syntax error) and exits 1', async () => {
      const pidFile = t.dir.file('app.pid');
      t.server = new Server(t.dir, { PID_FILE: pidFile, LOG_LEVEL: 'warn' });
      const port = await t.server.port();
      await t.server.waitEvent('serving');

      t.dir.release({ version: 'r1', mode: 'throw' });
      const thrown = await cli(['reload', '--pid-file', pidFile]);
      expect(thrown.code).to.equal(1);
      expect(thrown.stdout).to.equal('');
      expect(thrown.stderr).to.match(/reload failed: Error: release r1 is broken: thrown at start-up\n {4}at .*app\.js:\d+/);
      const failed = await t.server.waitEvent('reload-failed');
      expect(failed.reason).to.match(/release r1 is broken/);

      // before the app gets to require baton: reported by the preload (lib/upgrade/early.ts)
      t.dir.release({ version: 'r2' });
      const good = fs.readFileSync(t.dir.app, 'utf8');
      fs.writeFileSync(t.dir.app, `const broken = ;\n${good}`);
      const syntax = await cli(['reload', '--pid-file', pidFile]);
      expect(syntax.code).to.equal(1);
      expect(syntax.stderr).to.match(/reload failed: .*app\.js:1\n/);
      expect(syntax.stderr).to.match(/SyntaxError: Unexpected token/);

      fs.writeFileSync(t.dir.app, good);
      expect((await request({ port })).json?.version).to.equal('v0');
      const ok = await cli(['reload', '--pid-file', pidFile]);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.equal('4\n');
      expect((await request({ port })).json?.version).to.equal('r2');
    });
  });
});

