// The package contract: it is published as baton-cluster (the npm name `baton` belongs to another
// project) with the command `baton`; require('baton-cluster') and import { listen } from
// 'baton-cluster' both work, in this checkout (self-reference) and installed from the tarball that
// `npm pack` makes; the tarball holds what a user needs (dist, bin, docs, README, LICENSE) and
// nothing else, and its package.json no install-time script (npm 11 asks users to approve those),
// while this repository's `npm install` builds dist/ (scripts/pack-manifest.js does both).
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const NAME = 'baton-cluster';

function node(args: string[], cwd = root): string {
  return execFileSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 10_000 }).trim();
}

/** npm, run by the node under test (npm is a `#!/usr/bin/env node` script found on PATH). */
function npm(args: string[], cwd: string, timeout = 60_000): { stdout: string; stderr: string } {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.error ?? ''}${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** The scripts npm runs when it installs a package (prepare: installed from git, a directory or a tarball). */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

describe('package', () => {
  it(`is named ${NAME}, installs the command baton, and is MIT licensed with a LICENSE file`, () => {
    expect(pkg.name).to.equal(NAME);
    expect(pkg.bin).to.deep.equal({ baton: 'bin/baton.js' });
    expect(pkg.license).to.equal('MIT');
    const license = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
    expect(license).to.match(/^MIT License\n\nCopyright \(c\) \d{4} the baton authors\n/);
    expect(license).to.include('THE SOFTWARE IS PROVIDED "AS IS"');
    const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
    expect([lock.name, lock.packages[''].name]).to.deep.equal([NAME, NAME]);
    expect(lock.packages[''].engines).to.deep.equal(pkg.engines);
  });

  it('engines names the Node lines .ci/run tests, and the README\'s first lines name it', () => {
    const majors = (pkg.engines.node as string).split('||').map((r) => r.trim().replace(/^\^/, ''));
    const ci = fs.readFileSync(path.join(root, '.ci/run'), 'utf8').match(/^LINES=\$\{BATON_CI_NODE_LINES-([0-9 ]+)\}$/m);
    expect(ci, '.ci/run sets LINES').to.not.equal(null);
    expect(majors).to.deep.equal((ci as RegExpMatchArray)[1]?.trim().split(/\s+/));
    // and the README says so before its first command
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme.slice(0, readme.indexOf('```')), 'the README\'s lines before its first command').to.include(`\`engines\`: \`${pkg.engines.node}\``);
  });

  it('points main, types and exports at files that exist in dist/', () => {
    for (const f of [pkg.main, pkg.types, pkg.exports['.'].require, pkg.exports['.'].types]) {
      expect(fs.existsSync(path.join(root, f)), f).to.equal(true);
    }
    expect(pkg.dependencies ?? {}).to.deep.equal({});
  });

  it('builds dist/ on `npm install` and `npm ci` in a clone (prepare), and packs with prepack and postpack', () => {
    expect(pkg.scripts.prepare).to.equal('npm run build');
    expect(pkg.scripts.build).to.match(/^tsc -p tsconfig\.json$/);
    expect(pkg.scripts.prepack).to.equal('node scripts/pack-manifest.js prepack');
    expect(pkg.scripts.postpack).to.equal('node scripts/pack-manifest.js postpack');
    expect(pkg.scripts.postpublish).to.equal('node scripts/pack-manifest.js postpack');
    expect(fs.existsSync(path.join(root, 'package.json.prepack')), 'package.json.prepack left by a pack').to.equal(false);
  });

  it(`require('${NAME}') gives listen() and ready()`, () => {
    expect(node(['-e', `const b = require('${NAME}'); console.log(typeof b.listen, typeof b.ready, typeof b.BatonOptionError)`]))
      .to.equal('function function function');
  });

  it(`import { listen } from '${NAME}' works from ES modules`, () => {
    expect(node(['--input-type=module', '-e', `import { listen, DEFAULTS } from '${NAME}'; console.log(typeof listen, DEFAULTS.drainTimeout)`]))
      .to.equal('function 30000');
  });

  it(`the examples require('${NAME}'), as an app would, and it resolves to this checkout's dist/`, () => {
    const examples = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.js'));
    expect(examples).to.include('hello.js');
    for (const f of examples) {
      const text = fs.readFileSync(path.join(root, 'examples', f), 'utf8');
      expect(text, f).to.include(`require('${NAME}')`);
      expect(text, f).to.not.match(/require\('\.\.(\/[^']*)?'\)/);
    }
    expect(node(['-e', `console.log(require.resolve('${NAME}'))`], path.join(root, 'examples'))).to.equal(path.join(root, 'dist/index.js'));
  });

  it('bad options throw before anything is forked, naming the option', () => {
    const out = node(['-e', `
      const cluster = require('cluster');
      let forked = 0; cluster.on('fork', () => forked++);
      try { require('${NAME}').listen({ workers: 'many' }, () => {}); } catch (e) { console.log(e.name + ': ' + e.message); }
      console.log('forked=' + forked);
    `]);
    expect(out).to.match(/^BatonOptionError: baton: option "workers" must be an integer from 1 to 1024, got "many"\./);
    expect(out).to.match(/forked=0$/);
  });

  it('bad options leave nothing behind: no pid file, no control or listening socket file, no process', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-badopts-'));
    try {
      for (const [bad, pattern] of [
        ["{ workers: 'many' }", /option "workers" must be an integer/],
        ['{ port: 8080 }', /cannot be combined|port/], // a UNIX path with a port: a bad combination
        ['{ drainTimeout: -1 }', /option "drainTimeout"/],
      ] as const) {
        const out = node(['-e', `
          const cluster = require('cluster');
          let forked = 0; cluster.on('fork', () => forked++);
          const opts = Object.assign({ path: ${JSON.stringify(path.join(dir, 'app.sock'))}, pidFile: ${JSON.stringify(path.join(dir, 'app.pid'))} }, ${bad});
          try { require('${NAME}').listen(opts, () => {}); } catch (e) { console.log(e.name + ': ' + e.message); }
          setTimeout(() => console.log('forked=' + forked), 100);
        `]);
        expect(out).to.match(/^BatonOptionError: /);
        expect(out).to.match(pattern);
        expect(out).to.match(/forked=0$/);
        expect(fs.readdirSync(dir), `left behind by ${bad}`).to.deep.equal([]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('the tarball npm pack makes, with its scripts, in a copy of this checkout', function () {
    // prepack builds dist/ from scratch: tsc takes seconds, a minute on a busy machine
    this.timeout(240_000);
    let dir: string;
    /** The copy that is packed (so that this checkout's dist/ and package.json are never touched). */
    let src: string;
    let tarball: string;
    let files: string[];
    let packed: Record<string, unknown> & { scripts?: Record<string, string> };

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-pack-'));
      src = path.join(dir, 'src');
      fs.mkdirSync(src);
      // what `files` names (but dist/, which prepack builds), and what the build and prepack read
      for (const f of [...(pkg.files as string[]).filter((f) => f !== 'dist'), 'package.json', 'tsconfig.json', 'lib', 'scripts']) {
        fs.cpSync(path.join(root, f), path.join(src, f), { recursive: true });
      }
      fs.symlinkSync(fs.realpathSync(path.join(root, 'node_modules')), path.join(src, 'node_modules'));
      const [out] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], src, 200_000).stdout) as { filename: string; files: { path: string }[] }[];
      tarball = path.join(dir, path.basename((out as { filename: string }).filename));
      files = (out as { files: { path: string }[] }).files.map((f) => f.path).sort();
      const unpacked = path.join(dir, 'unpacked');
      fs.mkdirSync(unpacked);
      execFileSync('tar', ['-xzf', tarball, '-C', unpacked], { timeout: 30_000 });
      packed = JSON.parse(fs.readFileSync(path.join(unpacked, 'package/package.json'), 'utf8'));
    });

    after(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('its package.json has no install-time script (preinstall, install, postinstall, prepare), and is otherwise the repository\'s', () => {
      for (const s of INSTALL_SCRIPTS) expect(packed.scripts ?? {}, s).to.not.have.property(s);
      const { prepare: _prepare, ...scripts } = pkg.scripts as Record<string, string>;
      expect(packed).to.deep.equal({ ...pkg, scripts });
      // postpack put the copy's package.json back as it was, and left nothing behind
      expect(fs.readFileSync(path.join(src, 'package.json'), 'utf8')).to.equal(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
      expect(fs.existsSync(path.join(src, 'package.json.prepack'))).to.equal(false);
    });

    it('holds dist, bin, docs, README.md, LICENSE and package.json, and nothing else', () => {
      const outside = files.filter((f) => !/^(dist\/([a-z-]+\/)?[^/]+\.(js|d\.ts|js\.map)|bin\/baton\.js|docs\/[^/]+\.(md|svg)|README\.md|LICENSE|package\.json)$/.test(f));
      expect(outside, 'files that are not for users').to.deep.equal([]);
      for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/baton.js', pkg.main, pkg.types, 'dist/cli.js']) expect(files, f).to.include(f);
      // every module, compiled with its declarations (dist/ may hold more in a working tree; a
      // published tarball does not: prepack empties dist/ before it builds it)
      for (const f of (fs.readdirSync(path.join(root, 'lib'), { recursive: true }) as string[]).filter((n) => n.endsWith('.ts'))) {
        const base = f.slice(0, -3);
        for (const out of [`dist/${base}.js`, `dist/${base}.d.ts`, `dist/${base}.js.map`]) expect(files, out).to.include(out);
      }
      // every page the README links to is shipped with it
      const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
      for (const [, link] of readme.matchAll(/\]\((docs\/[^)#]+)/g)) expect(files, `README links ${link}`).to.include(link);
      expect(files.filter((f) => /(^|\/)(spec|bench|examples|lib|node_modules)\/|tsbuildinfo|\.log$/.test(f))).to.deep.equal([]);
    });

    it('ships each source map with its sources inside (the .ts files are not in the tarball)', () => {
      const maps = files.filter((f) => f.endsWith('.js.map'));
      expect(maps.length).to.be.greaterThan(10);
      for (const m of maps) {
        const map = JSON.parse(fs.readFileSync(path.join(src, m), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
        expect(map.sources.length, m).to.be.greaterThan(0);
        expect(map.sourcesContent?.length, `${m} has sourcesContent`).to.equal(map.sources.length);
        for (const [i, source] of map.sources.entries()) {
          expect(map.sourcesContent?.[i], `${m}: ${source}`).to.equal(fs.readFileSync(path.resolve(root, path.dirname(m), source), 'utf8'));
        }
      }
    });

    it(`installed from it into a new project (no network), with no install-scripts warning: require('${NAME}'), import, and the baton command work`, () => {
      const app = path.join(dir, 'app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
      // scripts allowed, as a user installs it: npm 11 warns `install-scripts ... (prepare: npm run build)`
      // for a tarball whose package.json has one
      const { stderr } = npm(['install', '--offline', '--no-audit', '--no-fund', '--engine-strict=false', tarball], app);
      expect(stderr).to.not.match(/install-scripts|install script|npm run build/);
      const installed = path.join(app, 'node_modules', NAME);
      expect(node(['-e', `console.log(require.resolve('${NAME}'))`], app)).to.equal(path.join(installed, 'dist/index.js'));
      expect(node(['-e', `const b = require('${NAME}'); console.log(typeof b.listen, typeof b.listenerOf)`], app)).to.equal('function function');
      expect(node(['--input-type=module', '-e', `import { listen } from '${NAME}'; console.log(typeof listen)`], app)).to.equal('function');
      expect(fs.existsSync(path.join(installed, 'LICENSE'))).to.equal(true);
      const bin = path.join(app, 'node_modules/.bin/baton');
      expect(fs.realpathSync(bin)).to.equal(path.join(installed, 'bin/baton.js'));
      const help = spawnSync(bin, ['--help'], { cwd: app, encoding: 'utf8', timeout: 10_000 });
      expect(help.status, help.stderr).to.equal(0);
      expect(help.stdout + help.stderr).to.match(/usage: baton /);
    });
  });
});
