// envFile (lib/config/envfile.ts) in this process: parsing, the names it refuses, why a file cannot
// be read, and what a load and a reload set; a master and its workers reading the file are
// spec/integration/envfile.spec.ts.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EnvFile, lineProblem, parseEnvText, readEnvFile } from '../../../lib/config/envfile';
import { Logger } from '../../../lib/log/log';

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
