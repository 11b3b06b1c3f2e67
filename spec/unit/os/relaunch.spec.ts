import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { captureStart, lookupBinary, readCmdline, relaunch, typedScript, userCwd, type StartContext } from '../../../lib/os/relaunch';
import { removeDir, tempDir } from '../../support/unit';

/** Points `link` (absolute) at `target` (relative to it), replacing it atomically as a deploy tool would. */
function switchLink(target: string, link: string): void {
  if (!path.isAbsolute(link)) throw new Error(`switchLink: ${link} must be absolute`);
  const tmp = `${link}.tmp-${process.pid}`;
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link);
}

function executable(file: string, mode = 0o755): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\nexit 0\n');
  fs.chmodSync(file, mode);
}

describe('relaunch', () => {
  let dir: string;
  beforeEach(() => {
    // dir/rel1/app.js, dir/rel2/app.js, dir/current -> rel1
    dir = tempDir();
    for (const r of ['rel1', 'rel2']) {
      fs.mkdirSync(path.join(dir, r));
      fs.writeFileSync(path.join(dir, r, 'app.js'), `// ${r}\n`);
    }
    fs.symlinkSync('rel1', path.join(dir, 'current'));
  });
  afterEach(() => removeDir(dir));

  describe('userCwd', () => {
    it('returns $PWD (through the symlink) when it names the real cwd', () => {
      const pwd = path.join(dir, 'current');
      expect(userCwd({ PWD: pwd }, path.join(dir, 'rel1'))).to.equal(pwd);
    });

    it('returns the real cwd when $PWD is stale (the symlink was switched since)', () => {
      const pwd = path.join(dir, 'current');
      switchLink('rel2', pwd);
      expect(userCwd({ PWD: pwd }, path.join(dir, 'rel1'))).to.equal(path.join(dir, 'rel1'));
      expect(userCwd({ PWD: pwd }, path.join(dir, 'rel2'))).to.equal(pwd);
    });

    it('ignores a relative, empty, missing or nonexistent $PWD', () => {
      const cwd = path.join(dir, 'rel1');
      expect(userCwd({ PWD: 'current' }, cwd)).to.equal(cwd);
      expect(userCwd({ PWD: '' }, cwd)).to.equal(cwd);
      expect(userCwd({}, cwd)).to.equal(cwd);
      expect(userCwd({ PWD: path.join(dir, 'nope') }, cwd)).to.equal(cwd);
    });

    it('defaults to process.env and process.cwd()', () => {
      const link = path.join(dir, 'here');
      fs.symlinkSync(process.cwd(), link);
      const saved = process.env.PWD;
      try {
        process.env.PWD = link;
        expect(userCwd()).to.equal(link);
        process.env.PWD = path.join(dir, 'rel1');
        expect(userCwd()).to.equal(process.cwd());
      } finally {
        if (saved === undefined) delete process.env.PWD;
        else process.env.PWD = saved;
      }
    });
  });

  describe('typedScript', () => {
    const real = (): string => path.join(dir, 'rel1', 'app.js');

    it('returns the script as typed when it names the file Node resolved', () => {
      expect(typedScript(['node', 'current/app.js'], [], real(), dir)).to.equal('current/app.js');
      expect(typedScript(['node', path.join(dir, 'current/app.js')], [], real(), dir)).to.equal(path.join(dir, 'current/app.js'));
    });

    it('skips the execArgv entries to find the script', () => {
      const cmdline = ['node', '--max-old-space-size=64', '--require', 'x', 'current/app.js', '--flag'];
      expect(typedScript(cmdline, ['--max-old-space-size=64', '--require', 'x'], real(), dir)).to.equal('current/app.js');
      // Miscounting execArgv picks an argument that names no such file: fall back.
      expect(typedScript(cmdline, ['--max-old-space-size=64'], real(), dir)).to.equal(real());
    });

    it('resolves the typed path against the cwd it was typed in', () => {
      expect(typedScript(['node', 'app.js'], [], real(), path.join(dir, 'current'))).to.equal('app.js');
      expect(typedScript(['node', 'app.js'], [], real(), path.join(dir, 'rel2'))).to.equal(real());
    });

    it('falls back to argv[1] when the typed script names another file, or is missing', () => {
      expect(typedScript(['node', 'rel2/app.js'], [], real(), dir)).to.equal(real());
      expect(typedScript(['node', 'gone.js'], [], real(), dir)).to.equal(real());
      expect(typedScript(['node', ''], [], real(), dir)).to.equal(real());
      expect(typedScript(['node'], [], real(), dir)).to.equal(real());
      expect(typedScript(undefined, [], real(), dir)).to.equal(real());
    });

    it('falls back when the typed name now points elsewhere (switched symlink)', () => {
      switchLink('rel2', path.join(dir, 'current'));
      expect(typedScript(['node', 'current/app.js'], [], real(), dir)).to.equal(real());
    });
  });

  describe('readCmdline', () => {
    it('reads this process: argv0, execArgv, script, args', function () {
      if (!fs.existsSync('/proc/self/cmdline')) this.skip();
      const c = readCmdline();
      expect(c).to.be.an('array');
      const cmd = c as string[];
      expect(cmd.length).to.equal(1 + process.execArgv.length + process.argv.length - 1);
      expect(cmd[0]).to.equal(process.argv0);
      expect(cmd.slice(1, 1 + process.execArgv.length)).to.deep.equal(process.execArgv);
      expect(cmd.slice(2 + process.execArgv.length)).to.deep.equal(process.argv.slice(2));
      expect(fs.realpathSync(path.resolve(cmd[1 + process.execArgv.length] as string))).to.equal(fs.realpathSync(process.argv[1] as string));
    });
  });

  describe('lookupBinary', () => {
    const FALLBACK = '/fallback/node';

    it('finds a bare name on PATH, first directory first, keeping the path as PATH names it', () => {
      executable(path.join(dir, 'a', 'mynode'));
      executable(path.join(dir, 'b', 'mynode'));
      fs.symlinkSync('a', path.join(dir, 'bin'));
      const env = { PATH: [path.join(dir, 'bin'), path.join(dir, 'b')].join(path.delimiter) };
      expect(lookupBinary('mynode', '/', env, FALLBACK)).to.equal(path.join(dir, 'bin', 'mynode'));
      const env2 = { PATH: [path.join(dir, 'b'), path.join(dir, 'bin')].join(path.delimiter) };
      expect(lookupBinary('mynode', '/', env2, FALLBACK)).to.equal(path.join(dir, 'b', 'mynode'));
    });

    it('skips non-executable files, directories and empty PATH entries', () => {
      executable(path.join(dir, 'noexec', 'mynode'), 0o644);
      fs.mkdirSync(path.join(dir, 'isdir', 'mynode'), { recursive: true });
      executable(path.join(dir, 'good', 'mynode'));
      const env = { PATH: ['', path.join(dir, 'noexec'), path.join(dir, 'isdir'), '', path.join(dir, 'good')].join(path.delimiter) };
      expect(lookupBinary('mynode', dir, env, FALLBACK)).to.equal(path.join(dir, 'good', 'mynode'));
    });

    it('resolves relative PATH entries against cwd', () => {
      executable(path.join(dir, 'rel1', 'bin', 'mynode'));
      expect(lookupBinary('mynode', path.join(dir, 'current'), { PATH: 'bin' }, FALLBACK)).to.equal(path.join(dir, 'current', 'bin', 'mynode'));
    });

    it('returns the fallback when the name is nowhere on PATH, or PATH is unset', () => {
      executable(path.join(dir, 'a', 'other'));
      expect(lookupBinary('mynode', dir, { PATH: path.join(dir, 'a') }, FALLBACK)).to.equal(FALLBACK);
      expect(lookupBinary('mynode', dir, {}, FALLBACK)).to.equal(FALLBACK);
    });

    it('resolves a path with a slash against cwd, without searching PATH', () => {
      executable(path.join(dir, 'rel1', 'bin', 'mynode'));
      executable(path.join(dir, 'onpath', 'mynode'));
      const env = { PATH: path.join(dir, 'onpath') };
      expect(lookupBinary('./current/bin/mynode', dir, env, FALLBACK)).to.equal(path.join(dir, 'current', 'bin', 'mynode'));
      expect(lookupBinary('bin/mynode', path.join(dir, 'current'), env, FALLBACK)).to.equal(path.join(dir, 'current', 'bin', 'mynode'));
      expect(lookupBinary(path.join(dir, 'current', 'bin', 'mynode'), '/', env, FALLBACK)).to.equal(path.join(dir, 'current', 'bin', 'mynode'));
      expect(lookupBinary('./mynode', dir, env, FALLBACK)).to.equal(FALLBACK);
    });

    it('looks again each time: a switched symlink changes the answer', () => {
      // rel1 ships an executable node, rel2 does not: after the switch PATH falls through.
      executable(path.join(dir, 'rel1', 'bin', 'mynode'));
      executable(path.join(dir, 'rel2', 'bin', 'mynode'), 0o644);
      executable(path.join(dir, 'system', 'mynode'));
      const env = { PATH: [path.join(dir, 'current', 'bin'), path.join(dir, 'system')].join(path.delimiter) };
      expect(lookupBinary('mynode', '/', env, FALLBACK)).to.equal(path.join(dir, 'current', 'bin', 'mynode'));
      switchLink('rel2', path.join(dir, 'current'));
      expect(lookupBinary('mynode', '/', env, FALLBACK)).to.equal(path.join(dir, 'system', 'mynode'));
      expect(lookupBinary('./current/bin/mynode', dir, env, FALLBACK)).to.equal(FALLBACK);
    });
  });

  describe('relaunch()', () => {
    function start(over: Partial<StartContext> = {}): StartContext {
      return {
        argv0: 'mynode',
        execArgv: ['--no-warnings'],
        argv: ['/real/node', path.join(dir, 'rel1', 'app.js'), '--port', '1'],
        cwd: path.join(dir, 'current'),
        typedScript: 'app.js',
        ...over,
      };
    }

    it('builds the command from what the user typed, resolved now', () => {
      executable(path.join(dir, 'rel1', 'bin', 'mynode'));
      const r = relaunch(start(), { PATH: 'bin' });
      expect(r).to.deep.equal({
        command: path.join(dir, 'current', 'bin', 'mynode'),
        argv0: 'mynode',
        execArgv: ['--no-warnings'],
        script: path.join(dir, 'current', 'app.js'),
        args: ['--port', '1'],
        cwd: path.join(dir, 'current'),
      });
    });

    it('picks up a switched current -> rel2 through the script and cwd it returns', () => {
      const s = start();
      expect(fs.realpathSync(relaunch(s, {}).script)).to.equal(path.join(dir, 'rel1', 'app.js'));
      switchLink('rel2', path.join(dir, 'current'));
      const r = relaunch(s, {});
      expect(r.script).to.equal(path.join(dir, 'current', 'app.js'));
      expect(fs.realpathSync(r.script)).to.equal(path.join(dir, 'rel2', 'app.js'));
      expect(fs.realpathSync(r.cwd)).to.equal(path.join(dir, 'rel2'));
    });

    it('keeps an absolute typed script as is', () => {
      const abs = path.join(dir, 'current', 'app.js');
      expect(relaunch(start({ typedScript: abs }), {}).script).to.equal(abs);
    });

    it('falls back to process.execPath when argv0 cannot be found', () => {
      expect(relaunch(start({ argv0: 'no-such-node-binary' }), { PATH: path.join(dir, 'rel1') }).command).to.equal(process.execPath);
    });
  });

  describe('captureStart', () => {
    it('captures this process as started', () => {
      const s = captureStart();
      expect(s.argv0).to.equal(process.argv0);
      expect(s.execArgv).to.deep.equal(process.execArgv);
      expect(s.execArgv).not.to.equal(process.execArgv); // a copy
      expect(s.argv).to.deep.equal(process.argv);
      expect(s.cwd).to.equal(userCwd());
      expect(fs.realpathSync(path.resolve(process.cwd(), s.typedScript))).to.equal(fs.realpathSync(process.argv[1] as string));
    });
  });
});
