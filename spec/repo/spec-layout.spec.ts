// The shape of spec/ (issue 19): it mirrors lib/. A unit spec sits in spec/unit/ under the folder
// of lib/ it tests (one of a root file of lib/ beside the folders, named after it); an
// integration spec, which runs real masters and workers, in spec/integration/, named by
// scenario; the specs of the repository itself in spec/repo/, the bench's in spec/bench/; the
// shared fakes and helpers in spec/support/. And every spec file that the docs, lib/, bench/ or
// spec/ name exists, by its path from the repository's root, so a reader can open it.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const posix = (f: string): string => f.split(path.sep).join('/');
const under = (dir: string): string[] => (fs.readdirSync(path.join(ROOT, dir), { recursive: true }) as string[]).map((f) => `${dir}/${posix(f)}`);
const specs = under('spec').filter((f) => f.endsWith('.spec.ts'));
const lib = under('lib').filter((f) => f.endsWith('.ts'));

/** Why `spec` (a path from the root) is not where a spec goes, or undefined. */
function misplaced(spec: string): string | undefined {
  const parts = spec.split('/').slice(1);
  const [top, second] = parts;
  if (top === 'unit' && parts.length === 2) {
    return lib.includes(`lib/${(second as string).replace(/\.spec\.ts$/, '.ts')}`) ? undefined : 'no root file of lib/ by that name';
  }
  if (top === 'unit' && parts.length === 3) {
    return lib.some((f) => f.startsWith(`lib/${second}/`)) ? undefined : `lib/ has no folder ${second}/`;
  }
  if (['integration', 'repo', 'bench'].includes(top as string) && parts.length === 2) return undefined;
  return 'a spec goes in spec/unit/<folder of lib/>/, spec/integration/, spec/repo/ or spec/bench/';
}

/** The spec files `text` names: paths from the root (a `*` matches within a folder), and bare names. */
function namedSpecs(text: string): string[] {
  return [...text.matchAll(/(?<![\w./-])(?:spec\/[\w./*-]*|[\w-]+)\.spec\.ts/g)].map((m) => m[0]);
}

/** Whether `name` (as namedSpecs returns it) is a path to a spec file that exists. */
function resolves(name: string): boolean {
  if (!name.startsWith('spec/')) return false;
  const re = new RegExp(`^${name.replace(/\./g, '\\.').replace(/\*\*\//g, '(?:.*/)?').replace(/(?<!\.)\*/g, '[^/]*')}$`);
  return specs.some((f) => re.test(f));
}

describe('layout of spec/', () => {
  it('has every spec under spec/unit/ by the folder of lib/ it tests, or in integration/, repo/ or bench/', () => {
    expect(specs.length, 'specs found').to.be.greaterThan(50);
    const wrong = specs.map((f) => [f, misplaced(f)] as const).filter(([, why]) => why !== undefined).map(([f, why]) => `${f}: ${why}`);
    expect(wrong, 'specs out of place').to.deep.equal([]);
  });

  it('the docs, lib/, bench/ and spec/ name spec files by paths that exist', () => {
    const examples = posix(path.relative(ROOT, __filename)); // this file's are made up
    const texts = [...under('docs'), 'README.md', ...lib, ...under('bench'), ...under('spec')].filter((f) => /\.(md|ts|js)$/.test(f) && f !== examples);
    const broken: string[] = [];
    let named = 0;
    for (const f of texts) {
      for (const name of namedSpecs(fs.readFileSync(path.join(ROOT, f), 'utf8'))) {
        named++;
        if (!resolves(name)) broken.push(`${f}: ${name}`);
      }
    }
    expect(named, 'spec files named').to.be.greaterThan(100);
    expect(broken, 'names of spec files that do not resolve (write spec/<folder>/<name>.spec.ts)').to.deep.equal([]);
  });

  it('the checks find a misplaced spec and a name that does not resolve', () => {
    expect(misplaced('spec/unit/pool/pool-units.spec.ts')).to.equal(undefined);
    expect(misplaced('spec/unit/channel.spec.ts')).to.equal(undefined);
    expect(misplaced('spec/unit/nowhere/x.spec.ts')).to.match(/no folder nowhere/);
    expect(misplaced('spec/unit/nothing.spec.ts')).to.match(/no root file/);
    expect(misplaced('spec/upgrade.spec.ts')).to.match(/a spec goes in/);
    expect(misplaced('spec/integration/deep/x.spec.ts')).to.match(/a spec goes in/);
    const bare = ['upgrade', 'spec', 'ts'].join('.');
    expect(namedSpecs(`see \`${bare}\` (${bare.replace('.ts', '')}) and spec/bench/*.spec.ts`)).to.deep.equal([bare, 'spec/bench/*.spec.ts']);
    expect(resolves(bare), 'a bare name').to.equal(false);
    expect(resolves(`spec/integration/${bare}`)).to.equal(true);
    expect(resolves(`spec/${bare}`), 'where it was').to.equal(false);
    expect(resolves('spec/bench/*.spec.ts')).to.equal(true);
    expect(resolves('spec/**/*.spec.ts')).to.equal(true);
  });
});
