// The package contract: require('baton') and import { listen } from 'baton' both work,
// through package.json's main/types/exports pointing at the compiled dist/.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 10_000 }).trim();
}

describe('package', () => {
  it('points main, types and exports at files that exist in dist/', () => {
    expect(pkg.name).to.equal('baton');
    for (const f of [pkg.main, pkg.types, pkg.exports['.'].require, pkg.exports['.'].types]) {
      expect(fs.existsSync(path.join(root, f)), f).to.equal(true);
    }
    expect(pkg.dependencies ?? {}).to.deep.equal({});
    expect(pkg.scripts.prepare).to.match(/build/);
  });

  it("require('baton') gives listen() and ready()", () => {
    expect(node(['-e', "const b = require('baton'); console.log(typeof b.listen, typeof b.ready, typeof b.BatonOptionError)"]))
      .to.equal('function function function');
  });

  it("import { listen } from 'baton' works from ES modules", () => {
    expect(node(['--input-type=module', '-e', "import { listen, DEFAULTS } from 'baton'; console.log(typeof listen, DEFAULTS.drainTimeout)"]))
      .to.equal('function 30000');
  });

  it('bad options throw before anything is forked, naming the option', () => {
    const out = node(['-e', `
      const cluster = require('cluster');
      let forked = 0; cluster.on('fork', () => forked++);
      try { require('baton').listen({ workers: 'many' }, () => {}); } catch (e) { console.log(e.name + ': ' + e.message); }
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
          try { require('baton').listen(opts, () => {}); } catch (e) { console.log(e.name + ': ' + e.message); }
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
});
