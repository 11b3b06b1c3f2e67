// The `baton` command's arguments (lib/cli.ts), parsed in this process: --help anywhere, and
// `baton run`'s own options, node's and the app's. The command run for real:
// spec/integration/cli.spec.ts.
import { expect } from 'chai';
import * as path from 'node:path';
import { HelpRequest, parseArgs, runArgs, UsageError } from '../../lib/cli';

const ROOT = path.resolve(__dirname, '../..');

describe('cli: argument parsing', () => {
  it('--help anywhere asks for the help of the command named, skipping option values', () => {
    const help = (argv: string[]): unknown => {
      try {
        parseArgs(argv, {});
      } catch (e) {
        if (e instanceof HelpRequest) return e.command ?? 'overview';
        throw e;
      }
      return 'parsed';
    };
    expect(help(['--pid-file', 'status', 'upgrade', '--help'])).to.equal('upgrade');
    expect(help(['-h'])).to.equal('overview');
    expect(help(['upgrade', '--pid-file', 'x'])).to.equal('parsed');
  });

  it('baton run: baton\'s options and --help before app.js, node\'s options kept, the app\'s after it', () => {
    const env = {};
    const app = path.relative(process.cwd(), path.join(ROOT, 'spec', 'fixtures', 'app.js'));
    const r = runArgs(['--ready-timeout', '1500', '--max-old-space-size=64', app, '--help', '-x'], env);
    expect(r.options).to.deep.equal({ readyTimeout: 1500 });
    expect(r.context.execArgv).to.deep.equal(['--max-old-space-size=64']);
    expect(r.context.argv.slice(1)).to.deep.equal([path.resolve(app), '--help', '-x']);
    expect(runArgs(['--ready-timeout=200', app], env).options.readyTimeout).to.equal(200);
    expect(() => runArgs(['--inspect', '--help', app], env)).to.throw(HelpRequest);
    expect(() => runArgs(['--ready-timeout', '0', app], env)).to.throw(UsageError, /--ready-timeout/);
    expect(() => runArgs(['--ready-timeout'], env)).to.throw(UsageError, /--ready-timeout/);
    expect(() => runArgs(['nosuch.js'], env)).to.throw(UsageError, /no such file nosuch\.js/);
  });
});
