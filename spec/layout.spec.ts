// The shape of lib/ (issue 11): every file under 300 lines, and no import circle, type
// imports included (a circle of types is still two files that cannot be read one after
// the other). bench/ has the same checks in spec/bench-units.spec.ts.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

const LIB = path.join(__dirname, '..', 'lib');
const files = (fs.readdirSync(LIB, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => f.split(path.sep).join('/'));

/** The lib/ files `file` imports (relative imports, `import type` and `export ... from` included). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(LIB, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1] as string));
    out.push(files.includes(`${target}.ts`) ? `${target}.ts` : `${target}/index.ts`);
  }
  return out;
}

/** The first import circle found, as a list of files, or undefined. */
export function findCircle(deps: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, trail: string[]): string[] | undefined => {
    if (state.get(f) === 'done') return undefined;
    if (state.get(f) === 'open') return [...trail.slice(trail.indexOf(f)), f];
    state.set(f, 'open');
    for (const d of deps.get(f) ?? []) {
      const c = visit(d, [...trail, f]);
      if (c) return c;
    }
    state.set(f, 'done');
    return undefined;
  };
  for (const f of deps.keys()) {
    const c = visit(f, []);
    if (c) return c;
  }
  return undefined;
}

describe('layout of lib/', () => {
  it('has its files in folders by role, with only the entry points and the shared protocol at the top', () => {
    const top = files.filter((f) => !f.includes('/')).sort();
    expect(top).to.deep.equal(['channel.ts', 'cli.ts', 'index.ts', 'messages.ts']);
    for (const dir of ['master', 'pool', 'upgrade', 'supervisor', 'worker', 'control', 'os', 'config', 'log', 'sockets']) {
      expect(files.some((f) => f.startsWith(`${dir}/`)), dir).to.equal(true);
    }
  });

  it('has no file over 300 lines', () => {
    const long = files.map((f) => [f, fs.readFileSync(path.join(LIB, f), 'utf8').split('\n').length - 1] as const).filter(([, n]) => n > 300);
    expect(long, 'files over 300 lines').to.deep.equal([]);
  });

  it('has no import circle (type imports included)', () => {
    const deps = new Map(files.map((f) => [f, importsOf(f)]));
    for (const [f, ds] of deps) for (const d of ds) expect(files, `${f} imports ${d}`).to.include(d);
    expect(findCircle(deps), 'import circle').to.equal(undefined);
  });

  it('the check finds a circle, and names its files', () => {
    const deps = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', []]]);
    expect(findCircle(deps)).to.deep.equal(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
    expect(findCircle(new Map([['a.ts', ['b.ts']], ['b.ts', []]]))).to.equal(undefined);
    // and the parser sees a type import as an import
    const master = importsOf('master/master.ts');
    expect(master).to.include('master/upgrades.ts').and.to.include('master/context.ts');
    expect(importsOf('master/upgrades.ts')).to.include('supervisor/supervised.ts'); // `import type { RemoteUpgrade }`
  });
});
