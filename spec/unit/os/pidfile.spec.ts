import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPidFileWritable, oldbinPath, readPidFile, removePidFileIf, writePidFile } from '../../../lib/os/pidfile';
import { removeDir, tempDir } from '../../support/unit';

describe('pidfile', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, 'app.pid');
  });
  afterEach(() => removeDir(dir));

  it('oldbinPath appends .oldbin', () => {
    expect(oldbinPath('/run/app.pid')).to.equal('/run/app.pid.oldbin');
  });

  describe('writePidFile', () => {
    it('writes the pid and a newline, leaving no temporary file behind', () => {
      writePidFile(file, 4242);
      expect(fs.readFileSync(file, 'utf8')).to.equal('4242\n');
      expect(fs.readdirSync(dir)).to.deep.equal(['app.pid']);
    });

    it('is readable by others (0644 before the umask)', () => {
      writePidFile(file, 1);
      const umask = process.umask();
      expect(fs.statSync(file).mode & 0o777).to.equal(0o644 & ~umask);
    });

    it('replaces the file by rename: a reader of the old file sees the old content whole', () => {
      writePidFile(file, 1111);
      const before = fs.statSync(file).ino;
      const fd = fs.openSync(file, 'r');
      try {
        writePidFile(file, 2222);
        // An in-place rewrite (truncate + write) would show the new or a partial content here.
        expect(fs.readFileSync(fd, 'utf8')).to.equal('1111\n');
        expect(fs.statSync(file).ino).not.to.equal(before);
        expect(fs.readFileSync(file, 'utf8')).to.equal('2222\n');
      } finally {
        fs.closeSync(fd);
      }
      expect(fs.readdirSync(dir)).to.deep.equal(['app.pid']);
    });

    it('writes through a symlinked directory and keeps the temporary file in the same directory', () => {
      fs.mkdirSync(path.join(dir, 'real'));
      fs.symlinkSync('real', path.join(dir, 'link'));
      writePidFile(path.join(dir, 'link', 'x.pid'), 7);
      expect(fs.readdirSync(path.join(dir, 'real'))).to.deep.equal(['x.pid']);
      expect(readPidFile(path.join(dir, 'real', 'x.pid'))).to.equal(7);
    });

    it('throws when the directory does not exist', () => {
      expect(() => writePidFile(path.join(dir, 'missing', 'app.pid'), 1)).to.throw(/ENOENT/);
    });
  });

  describe('readPidFile', () => {
    it('reads what writePidFile wrote', () => {
      writePidFile(file, 31337);
      expect(readPidFile(file)).to.equal(31337);
    });

    it('tolerates surrounding whitespace', () => {
      fs.writeFileSync(file, '  99 \n\n');
      expect(readPidFile(file)).to.equal(99);
    });

    for (const [label, content] of [['empty', ''], ['text', 'abc\n'], ['zero', '0\n'], ['negative', '-5\n']]) {
      it(`returns undefined for ${label} content`, () => {
        fs.writeFileSync(file, content as string);
        expect(readPidFile(file)).to.equal(undefined);
      });
    }

    it('returns undefined for a missing file or a directory', () => {
      expect(readPidFile(file)).to.equal(undefined);
      expect(readPidFile(dir)).to.equal(undefined);
    });
  });

  describe('removePidFileIf', () => {
    it('removes the file when it names the pid', () => {
      writePidFile(file, 500);
      removePidFileIf(file, 500);
      expect(fs.existsSync(file)).to.equal(false);
    });

    it('leaves the file when it names another pid (another master owns it)', () => {
      writePidFile(file, 501);
      removePidFileIf(file, 500);
      expect(fs.readFileSync(file, 'utf8')).to.equal('501\n');
    });

    it('leaves a file it cannot read as a pid', () => {
      fs.writeFileSync(file, 'garbage\n');
      removePidFileIf(file, 500);
      expect(fs.readFileSync(file, 'utf8')).to.equal('garbage\n');
    });

    it('does nothing (and does not throw) when the file is missing', () => {
      expect(() => removePidFileIf(file, 500)).not.to.throw();
      expect(fs.existsSync(file)).to.equal(false);
    });
  });

  describe('checkPidFileWritable', () => {
    it('passes for a writable directory', () => {
      expect(() => checkPidFileWritable(file)).not.to.throw();
    });

    it('names the file, the directory and the code when the directory is missing', () => {
      const f = path.join(dir, 'missing', 'app.pid');
      expect(() => checkPidFileWritable(f)).to.throw(
        `baton: the pid file ${f} cannot be written: its directory ${path.join(dir, 'missing')} does not exist (ENOENT). Create it, or choose another pidFile.`,
      );
    });

    it('names the path when the "directory" is a file', () => {
      fs.writeFileSync(path.join(dir, 'plain'), '');
      const f = path.join(dir, 'plain', 'app.pid');
      expect(() => checkPidFileWritable(f)).to.throw(Error, new RegExp(`pid file ${f.replace(/[.]/g, '\\.')} cannot be written.*\\(ENOTDIR\\)`));
    });

    it('names the path when the directory is read-only', function () {
      if (process.getuid?.() === 0) this.skip(); // root may write anywhere
      const ro = path.join(dir, 'ro');
      fs.mkdirSync(ro, { mode: 0o555 });
      const f = path.join(ro, 'app.pid');
      try {
        expect(() => checkPidFileWritable(f)).to.throw(Error, `the pid file ${f} cannot be written: its directory ${ro} is not writable (EACCES)`);
      } finally {
        fs.chmodSync(ro, 0o755);
      }
    });
  });
});
