// The shape of lib/ (issues 11 and 19): no import circle, type imports included (a circle
// of types is still two files that cannot be read one after the other). No line limit: one
// concept a file is the rule, and a limit to stay under shapes files instead. Above the files, the folders have a rank (RANK): a file imports only from its
// own folder or from a lower rank, so no two folders import each other and each folder can
// be read, and tested, with only what is below it. bench/ has the file checks in
// spec/bench/units.spec.ts.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

const LIB = path.join(__dirname, '..', '..', 'lib');
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

/**
 * The folders of lib/, bottom to top; a file at the root has its own entry. worker/ and pool/
 * share a rank: the two sides of the cluster channel, which meet only through the protocol
 * (messages.ts, channel.ts) below them. A new folder needs an entry here.
 */
const RANK: Readonly<Record<string, number>> = {
  log: 0,
  os: 1,
  config: 2,
  'messages.ts': 3,
  'channel.ts': 3,
  sockets: 4,
  observe: 5,
  worker: 6,
  pool: 6,
  upgrade: 7,
  supervisor: 8,
  control: 9,
  master: 10,
  'index.ts': 11,
  'cli.ts': 11,
};

/** The entry of RANK a file falls under: its folder, or its own name at the root. */
function unitOf(file: string): string {
  const slash = file.indexOf('/');
  return slash < 0 ? file : file.slice(0, slash);
}

/**
 * The imports that break the ranks, as `pool/reload.ts -> upgrade/attempt.ts`: those of a
 * higher rank, and those of the same rank in another folder (worker/ and pool/). Files without
 * a rank are left to the caller.
 */
export function rankBreaks(deps: Map<string, string[]>, rank: Readonly<Record<string, number>>): string[] {
  const out: string[] = [];
  for (const [f, ds] of deps) {
    for (const d of ds) {
      const from = rank[unitOf(f)] as number | undefined;
      const to = rank[unitOf(d)] as number | undefined;
      if (from === undefined || to === undefined || to < from) continue;
      const sameFolder = path.posix.dirname(f) === path.posix.dirname(d);
      if (to === from && sameFolder) continue;
      out.push(`${f} -> ${d}`);
    }
  }
  return out;
}

describe('layout of lib/', () => {
  it('has its files in folders by role, with only the entry points and the shared protocol at the top', () => {
    const top = files.filter((f) => !f.includes('/')).sort();
    expect(top).to.deep.equal(['channel.ts', 'cli.ts', 'index.ts', 'messages.ts']);
    for (const dir of ['master', 'pool', 'upgrade', 'supervisor', 'worker', 'control', 'os', 'config', 'log', 'sockets']) {
      expect(files.some((f) => f.startsWith(`${dir}/`)), dir).to.equal(true);
    }
  });

  it('has no import circle (type imports included)', () => {
    const deps = new Map(files.map((f) => [f, importsOf(f)]));
    for (const [f, ds] of deps) for (const d of ds) expect(files, `${f} imports ${d}`).to.include(d);
    expect(findCircle(deps), 'import circle').to.equal(undefined);
  });

  it('holds the folders\' ranks: a file imports only its own folder or a lower one', () => {
    const unranked = files.filter((f) => !Object.hasOwn(RANK, unitOf(f)))
      .map((f) => `${f}: ${f.includes('/') ? `the folder ${unitOf(f)}/` : 'this root file'} has no rank in RANK (spec/repo/layout.spec.ts)`);
    expect(unranked, 'files without a rank: give their folder one').to.deep.equal([]);
    const deps = new Map(files.map((f) => [f, importsOf(f)]));
    expect(rankBreaks(deps, RANK), 'imports of a higher rank, or of another folder of the same rank').to.deep.equal([]);
  });

  it('has no circle between folders (a root file counts as a folder of its own)', () => {
    const folders = new Map<string, Set<string>>();
    for (const f of files) {
      const from = unitOf(f);
      const to = folders.get(from) ?? new Set<string>();
      for (const d of importsOf(f)) if (unitOf(d) !== from) to.add(unitOf(d));
      folders.set(from, to);
    }
    const deps = new Map([...folders].map(([k, v]) => [k, [...v]]));
    expect(findCircle(deps), 'circle between folders').to.equal(undefined);
  });

  it('the rank check names the imports that break it', () => {
    const deps = new Map([
      ['pool/reload.ts', ['pool/slot.ts', 'log/log.ts', 'upgrade/attempt.ts']],
      ['worker/worker.ts', ['pool/slot.ts']],
      ['channel.ts', ['messages.ts']],
      ['messages.ts', ['index.ts']],
    ]);
    expect(rankBreaks(deps, RANK)).to.deep.equal(['pool/reload.ts -> upgrade/attempt.ts', 'worker/worker.ts -> pool/slot.ts', 'messages.ts -> index.ts']);
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
