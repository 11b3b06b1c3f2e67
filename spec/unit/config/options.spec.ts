import { expect } from 'chai';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sinon from 'sinon';
import { DEFAULTS, DEFAULT_PORT, resolveApp, resolveMainApp, resolveOptions, type ListenOptions } from '../../../lib/config/options';
import { optionError } from '../../support/option-error';

const KNOWN_LIST = 'known options: port, host, path, workers, drainTimeout, readyTimeout, pidFile, manualReady, keepAliveGrace, closeWebSockets, backlog, logLevel, logFormat, logger, workerTimeout, maxMemory, maxRequests, controlSocket, probation, listeners, exitTimeout, envFile, accept, metrics, health, shutdownDelay.';


describe('options: resolveOptions', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const k of ['BATON_LOG_LEVEL', 'BATON_LOG_FORMAT', 'BATON_ACCEPT']) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
  });
  afterEach(() => {
    sinon.restore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  describe('defaults', () => {
    it('fills every documented default when called with nothing or {}', () => {
      // lib/config/options.ts reads the property from the real module object at call time.
      sinon.stub(require('node:os') as typeof os, 'availableParallelism').returns(7);
      const expected = {
        port: DEFAULT_PORT,
        host: undefined,
        path: undefined,
        workers: 7,
        drainTimeout: 30_000,
        readyTimeout: 60_000,
        pidFile: undefined,
        manualReady: false,
        keepAliveGrace: 1_000,
        closeWebSockets: true,
        backlog: 2_048,
        accept: 'workers',
        logLevel: 'warn',
        logFormat: 'text',
        logger: undefined,
        workerTimeout: 30_000,
        maxMemory: 0,
        maxRequests: 0,
        controlSocket: undefined,
        probation: 3_000,
        canary: { maxErrorRate: 0.05, maxLatencyRatio: 3, minRequests: 20, warmupMs: 1_000 },
        metrics: undefined,
        health: undefined,
        shutdownDelay: 0,
        exitTimeout: 10_000,
        envFile: undefined,
        listeners: [{ spec: { name: 'default', port: 8080, host: undefined }, app: undefined }],
      };
      expect(resolveOptions(undefined)).to.deep.equal(expected);
      expect(resolveOptions({})).to.deep.equal(expected);
      expect(DEFAULT_PORT).to.equal(8080);
      expect(DEFAULTS).to.deep.equal({
        drainTimeout: 30_000, readyTimeout: 60_000, keepAliveGrace: 1_000, backlog: 2_048, accept: 'workers', logLevel: 'warn', logFormat: 'text', workerTimeout: 30_000, probation: 3_000, exitTimeout: 10_000, closeWebSockets: true,
      });
    });

    it('treats an option set to undefined as absent', () => {
      const r = resolveOptions({ port: undefined, workers: undefined, logLevel: undefined });
      expect(r.port).to.equal(8080);
      expect(r.workers).to.equal(os.availableParallelism());
      expect(r.logLevel).to.equal('warn');
    });

    it('keeps the values given', () => {
      const r = resolveOptions({
        port: 0, host: '127.0.0.1', workers: 3, drainTimeout: 5, readyTimeout: 6, manualReady: true,
        keepAliveGrace: 0, backlog: 10, logLevel: 'debug', logFormat: 'json',
      });
      expect(r).to.deep.include({
        port: 0, host: '127.0.0.1', path: undefined, workers: 3, drainTimeout: 5, readyTimeout: 6, manualReady: true,
        keepAliveGrace: 0, backlog: 10, logLevel: 'debug', logFormat: 'json',
      });
    });

    it('has no port when a UNIX socket path is given, and resolves the path', () => {
      const r = resolveOptions({ path: 'x.sock' });
      expect(r.port).to.equal(undefined);
      expect(r.path).to.equal(path.resolve('x.sock'));
      expect(path.isAbsolute(r.path as string)).to.equal(true);
    });

    it('resolves pidFile to an absolute path', () => {
      expect(resolveOptions({ pidFile: 'run/app.pid' }).pidFile).to.equal(path.resolve('run/app.pid'));
      expect(resolveOptions({ pidFile: '/var/run/app.pid' }).pidFile).to.equal('/var/run/app.pid');
    });
  });

  describe('the options object itself', () => {
    for (const [label, value, shown] of [
      ['a string', 'port', '"port"'],
      ['a number', 8080, '8080'],
      ['null', null, 'null'],
      ['an array', [8080], 'an array'],
      ['a function', () => 8080, 'a function'],
    ] as Array<[string, unknown, string]>) {
      it(`rejects ${label}`, () => {
        const e = optionError(() => resolveOptions(value), 'options');
        expect(e.message).to.contain(`got ${shown}`);
      });
    }
  });

  describe('unknown keys', () => {
    for (const [typo, hint] of [
      ['ports', 'port'],
      ['Port', 'port'],
      ['worker', 'workers'],
      ['pidfile', 'pidFile'],
      ['drainTimout', 'drainTimeout'],
      ['readyTimout', 'readyTimeout'],
      ['keepAlive', 'keepAliveGrace'],
      ['logLevle', 'logLevel'],
      ['logformat', 'logFormat'],
      ['hostname', 'host'],
      ['manual', 'manualReady'],
      ['backlogSize', 'backlog'],
      ['maxMem', 'maxMemory'],
      ['maxRequest', 'maxRequests'],
      ['control', 'controlSocket'],
      ['probaton', 'probation'],
      ['listener', 'listeners'],
    ]) {
      it(`rejects "${typo}" and suggests "${hint}"`, () => {
        const e = optionError(() => resolveOptions({ [typo]: 1 }), typo);
        expect(e.message).to.contain(`is not a baton option (did you mean "${hint}"?)`);
        expect(e.message).to.contain(KNOWN_LIST);
      });
    }

    it('gives no hint when nothing is close, but still lists the known options', () => {
      const e = optionError(() => resolveOptions({ timeout: 5 }), 'timeout');
      expect(e.message).not.to.contain('did you mean');
      expect(e.message).to.contain('is not a baton option; known options: port,');
    });


    it('suggests "workerTimeout" for a typo of it, not "workers"', () => {
      const e = optionError(() => resolveOptions({ workerTimout: 1 }), 'workerTimout');
      expect(e.message).to.contain('(did you mean "workerTimeout"?)');
    });

    it('rejects an unknown key even next to valid ones', () => {
      optionError(() => resolveOptions({ port: 80, colour: 'red' }), 'colour');
    });
  });

  describe('closeWebSockets', () => {
    it('is true by default, takes true or false, and rejects anything else naming what it got', () => {
      expect(resolveOptions({}).closeWebSockets).to.equal(true);
      expect(resolveOptions({ closeWebSockets: false }).closeWebSockets).to.equal(false);
      expect(resolveOptions({ closeWebSockets: true }).closeWebSockets).to.equal(true);
      for (const bad of ['false', 0, 1, null]) {
        const err = optionError(() => resolveOptions({ closeWebSockets: bad } as never), 'closeWebSockets');
        expect(err.message).to.match(/must be true or false, got /);
      }
    });
  });

  describe('integer options', () => {
    const MS = ' (milliseconds)';
    const cases: Array<{ name: string; min: number; max: number; unit: string }> = [
      { name: 'port', min: 0, max: 65535, unit: ', or a string of digits such as "8080" (as environment variables are)' },
      { name: 'workers', min: 1, max: 1024, unit: '' },
      { name: 'drainTimeout', min: 1, max: 86_400_000, unit: MS },
      { name: 'readyTimeout', min: 1, max: 86_400_000, unit: MS },
      { name: 'keepAliveGrace', min: 0, max: 60_000, unit: MS },
      { name: 'backlog', min: 1, max: 65_535, unit: '' },
      { name: 'workerTimeout', min: 0, max: 86_400_000, unit: ' (milliseconds, 0 disables)' },
      { name: 'maxRequests', min: 0, max: Number.MAX_SAFE_INTEGER, unit: ' (0 disables)' },
      { name: 'exitTimeout', min: 1, max: 86_400_000, unit: MS },
    ];
    for (const c of cases) {
      describe(c.name, () => {
        it(`accepts ${c.min} and ${c.max}`, () => {
          expect((resolveOptions({ [c.name]: c.min }) as unknown as Record<string, number>)[c.name]).to.equal(c.min);
          expect((resolveOptions({ [c.name]: c.max }) as unknown as Record<string, number>)[c.name]).to.equal(c.max);
        });
        // well below min too: a check written as `v === min - 1` must not pass
        const below = [...new Set([c.min - 1, c.min - 2, -1, c.min - 1000, Number.MIN_SAFE_INTEGER])].filter((v) => v < c.min);
        for (const [bad, shown] of [
          ...below.map((v) => [v, String(v)]),
          [Number.NEGATIVE_INFINITY, '-Infinity'],
          [c.max + 1, String(c.max + 1)],
          [c.max * 2, String(c.max * 2)],
          [c.min + 0.5, String(c.min + 0.5)],
          [Number.NaN, 'NaN'],
          [Number.POSITIVE_INFINITY, 'Infinity'],
          // a string of digits is a port (below); for every other option it is a mistake
          ...(c.name === 'port' ? [] : [[String(c.min + 1), JSON.stringify(String(c.min + 1))]]),
          [null, 'null'],
          [true, 'true'],
          [{}, 'an object'],
        ] as Array<[unknown, string]>) {
          it(`rejects ${shown}`, () => {
            const e = optionError(() => resolveOptions({ [c.name]: bad }), c.name);
            expect(e.message).to.contain(`must be an integer from ${c.min} to ${c.max}${c.unit}, got ${shown}.`);
          });
        }
      });
    }
  });

  describe('port given as a string (port: process.env.PORT)', () => {
    it('reads a string of digits as the port, as the environment holds it', () => {
      expect(resolveOptions({ port: '8080' }).port).to.equal(8080);
      expect(resolveOptions({ port: '0' }).port).to.equal(0);
      expect(resolveOptions({ port: '65535' }).port).to.equal(65535);
      expect(resolveOptions({ port: '080' }).port).to.equal(80);
      const input = { listeners: [{ name: 'web', port: '8081' }] };
      expect(resolveOptions(input).listeners[0]?.spec).to.deep.equal({ name: 'web', port: 8081 });
    });

    for (const [bad, shown] of [
      ['65536', '"65536"'], ['-1', '"-1"'], ['80.5', '"80.5"'], ['8080 ', '"8080 "'], [' 8080', '" 8080"'], ['0x50', '"0x50"'],
      ['1e3', '"1e3"'], ['http', '"http"'], ['123456', '"123456"'], ['８０', '"８０"'],
    ] as Array<[string, string]>) {
      it(`rejects ${shown}, saying what a port may be`, () => {
        const e = optionError(() => resolveOptions({ port: bad }), 'port');
        expect(e.message).to.equal(`baton: option "port" must be an integer from 0 to 65535, or a string of digits such as "8080" (as environment variables are), got ${shown}.`);
      });
    }

    it('rejects an empty string, asking whether the variable is set but empty', () => {
      const e = optionError(() => resolveOptions({ port: '' }), 'port');
      expect(e.message).to.contain('got "". An empty string: is the environment variable set but empty?');
    });

    it('rejects NaN (Number(process.env.PORT) of an unset variable), saying so', () => {
      const e = optionError(() => resolveOptions({ port: Number(undefined) }), 'port');
      expect(e.message).to.contain('got NaN. Number() of an unset or non-numeric environment variable is NaN: pass the variable itself (port: process.env.PORT), or check it.');
    });

    it('takes an unset variable (undefined) as no port: the default', () => {
      expect(resolveOptions({ port: process.env.BATON_SPEC_SURELY_UNSET }).port).to.equal(DEFAULT_PORT);
    });
  });

  describe('host', () => {
    for (const [bad, shown] of [['', '""'], [127, '127'], [null, 'null'], [['::'], 'an array']] as Array<[unknown, string]>) {
      it(`rejects ${shown}`, () => {
        const e = optionError(() => resolveOptions({ host: bad }), 'host');
        expect(e.message).to.contain(`got ${shown}`);
      });
    }
    it('accepts an IPv6 address', () => {
      expect(resolveOptions({ host: '::' }).host).to.equal('::');
    });
  });

  describe('path', () => {
    for (const [bad, shown] of [['', '""'], [5, '5'], [null, 'null']] as Array<[unknown, string]>) {
      it(`rejects ${shown}`, () => {
        const e = optionError(() => resolveOptions({ path: bad }), 'path');
        expect(e.message).to.contain(`must be a non-empty string naming a UNIX socket file, got ${shown}`);
      });
    }

    it('cannot be combined with port (even port 0) or host', () => {
      for (const extra of [{ port: 8080 }, { port: 0 }, { host: '127.0.0.1' }]) {
        const e = optionError(() => resolveOptions({ path: '/tmp/a.sock', ...extra }), 'path');
        expect(e.message).to.contain('cannot be combined with "port" or "host"');
      }
    });

    it('accepts a path of 107 bytes and rejects 108, naming the resolved path', () => {
      const base = '/tmp/';
      const ok = base + 'a'.repeat(107 - base.length);
      expect(Buffer.byteLength(ok)).to.equal(107);
      expect(resolveOptions({ path: ok }).path).to.equal(ok);
      const long = ok + 'b';
      const e = optionError(() => resolveOptions({ path: long }), 'path');
      expect(e.message).to.contain(`resolves to ${long}, longer than the 107 bytes`);
    });

    it('counts bytes, not characters', () => {
      const p = '/tmp/' + 'é'.repeat(60); // 65 characters, 125 bytes
      expect(p.length).to.be.below(107);
      optionError(() => resolveOptions({ path: p }), 'path');
    });

    it('measures the path after resolving it against the working directory', () => {
      const rel = 'a'.repeat(107 - process.cwd().length); // short as typed, too long once resolved
      expect(rel.length).to.be.below(107);
      const e = optionError(() => resolveOptions({ path: rel }), 'path');
      expect(e.message).to.contain(path.resolve(rel));
    });
  });

  describe('pidFile', () => {
    for (const [bad, shown] of [['', '""'], [1, '1'], [false, 'false']] as Array<[unknown, string]>) {
      it(`rejects ${shown}`, () => {
        const e = optionError(() => resolveOptions({ pidFile: bad }), 'pidFile');
        expect(e.message).to.contain(`must be a non-empty string (a file path), got ${shown}`);
      });
    }
  });

  describe('envFile', () => {
    for (const [bad, shown] of [['', '""'], [1, '1'], [false, 'false'], [{}, 'an object']] as Array<[unknown, string]>) {
      it(`rejects ${shown}`, () => {
        const e = optionError(() => resolveOptions({ envFile: bad }), 'envFile');
        expect(e.message).to.contain(`must be a non-empty string (a file path such as ".env"), got ${shown}`);
      });
    }
    it('keeps the path as given (the master resolves it against its working directory)', () => {
      expect(resolveOptions({ envFile: 'config/.env' }).envFile).to.equal('config/.env');
    });
    it('says which Node it needs when util.parseEnv is missing', () => {
      const util = require('node:util') as { parseEnv?: unknown };
      const saved = util.parseEnv;
      delete util.parseEnv;
      try {
        const e = optionError(() => resolveOptions({ envFile: '.env' }), 'envFile');
        expect(e.message).to.contain(`needs util.parseEnv, which this Node (${process.version}) does not have: use Node 20.12+ or 21.7+`);
        expect(resolveOptions({}).envFile, 'no envFile, no need for it').to.equal(undefined);
      } finally {
        util.parseEnv = saved;
      }
    });
  });

  describe('manualReady', () => {
    for (const [bad, shown] of [['true', '"true"'], [1, '1'], [null, 'null']] as Array<[unknown, string]>) {
      it(`rejects ${shown}`, () => {
        const e = optionError(() => resolveOptions({ manualReady: bad }), 'manualReady');
        expect(e.message).to.contain(`must be true or false, got ${shown}`);
      });
    }
    it('accepts false', () => {
      expect(resolveOptions({ manualReady: false }).manualReady).to.equal(false);
    });
  });

  describe('maxMemory', () => {
    const MiB = 1024 ** 2;
    for (const [given, bytes] of [
      [undefined, 0], [0, 0], [MiB, MiB], [3 * MiB + 1, 3 * MiB + 1],
      ['512M', 512 * MiB], ['512m', 512 * MiB], ['1G', 1024 * MiB], ['1.5G', 1536 * MiB], ['300MB', 300 * MiB],
      ['2GiB', 2048 * MiB], ['2048K', 2 * MiB], [' 64 M ', 64 * MiB], [String(MiB), MiB],
    ] as Array<[unknown, number]>) {
      it(`reads ${JSON.stringify(given)} as ${bytes} bytes`, () => {
        expect(resolveOptions(given === undefined ? {} : { maxMemory: given }).maxMemory).to.equal(bytes);
      });
    }
    for (const [bad, shown] of [
      [MiB - 1, String(MiB - 1)], [-1, '-1'], [MiB + 0.5, String(MiB + 0.5)], ['1K', '"1K"'], ['512X', '"512X"'],
      ['1T', '"1T"'], ['', '""'], ['M', '"M"'], [true, 'true'], [null, 'null'], [{}, 'an object'],
    ] as Array<[unknown, string]>) {
      it(`rejects ${shown}`, () => {
        const e = optionError(() => resolveOptions({ maxMemory: bad }), 'maxMemory');
        expect(e.message).to.contain(`must be a number of bytes of at least 1 MiB, or a string such as "512M" or "1G", or 0 to disable, got ${shown}.`);
      });
    }
  });

  describe('controlSocket', () => {
    it('defaults to <pidFile>.sock when pidFile is set, else none', () => {
      expect(resolveOptions({}).controlSocket).to.equal(undefined);
      expect(resolveOptions({ pidFile: 'run/app.pid' }).controlSocket).to.equal(path.resolve('run/app.pid') + '.sock');
    });

    it('takes a path (resolved) or false for none', () => {
      expect(resolveOptions({ controlSocket: 'ctl.sock' }).controlSocket).to.equal(path.resolve('ctl.sock'));
      expect(resolveOptions({ controlSocket: false, pidFile: '/run/app.pid' }).controlSocket).to.equal(undefined);
      expect(resolveOptions({ controlSocket: '/x/ctl.sock', pidFile: '/run/app.pid' }).controlSocket).to.equal('/x/ctl.sock');
    });

    for (const [bad, shown] of [['', '""'], [true, 'true'], [5, '5'], [null, 'null']] as Array<[unknown, string]>) {
      it(`rejects ${shown}`, () => {
        const e = optionError(() => resolveOptions({ controlSocket: bad }), 'controlSocket');
        expect(e.message).to.contain(`must be a socket file path or false, got ${shown}.`);
      });
    }

    it('rejects a path longer than 107 bytes, also one derived from a long pidFile', () => {
      const long = '/tmp/' + 'c'.repeat(103);
      expect(Buffer.byteLength(long)).to.equal(108);
      const e = optionError(() => resolveOptions({ controlSocket: long }), 'controlSocket');
      expect(e.message).to.contain(`resolves to ${long}, longer than the 107 bytes`);
      const pid = '/tmp/' + 'p'.repeat(100); // 105 bytes: fine as a pid file, too long + ".sock"
      const e2 = optionError(() => resolveOptions({ pidFile: pid }), 'controlSocket');
      expect(e2.message).to.contain(`${pid}.sock`);
      expect(resolveOptions({ pidFile: pid, controlSocket: false }).pidFile).to.equal(pid);
    });
  });

  describe('listeners', () => {
    const web = { name: 'web', port: 8080 };

    it('takes named TCP and UNIX listeners; port/host/path are then unset', () => {
      const input: ListenOptions = { listeners: [{ name: 'web', port: 8080, host: '127.0.0.1' }, { name: 'admin', path: 'admin.sock', mode: 0o660 }] };
      const r = resolveOptions(input);
      expect(r.port).to.equal(undefined);
      expect(r.host).to.equal(undefined);
      expect(r.path).to.equal(undefined);
      expect(r.listeners).to.deep.equal([
        { spec: { name: 'web', port: 8080, host: '127.0.0.1' }, app: undefined },
        { spec: { name: 'admin', path: path.resolve('admin.sock'), mode: 0o660 }, app: undefined },
      ]);
    });

    it('without the option, the single "default" listener at port/host/path', () => {
      expect(resolveOptions({ port: 81, host: '::1' }).listeners)
        .to.deep.equal([{ spec: { name: 'default', port: 81, host: '::1' }, app: undefined }]);
      expect(resolveOptions({ path: 'a.sock' }).listeners)
        .to.deep.equal([{ spec: { name: 'default', path: path.resolve('a.sock') }, app: undefined }]);
    });

    it('carries a listener\'s own handler or createServer', () => {
      const handler = (): void => undefined;
      const createServer = (): http.Server => http.createServer();
      const input = { listeners: [{ name: 'a', port: 1, handler }, { name: 'b', port: 2, createServer }] };
      const l = resolveOptions(input).listeners;
      expect(l[0]?.app).to.deep.equal({ kind: 'handler', handler });
      expect(l[1]?.app).to.deep.equal({ kind: 'factory', factory: createServer });
    });

    it('cannot be combined with port, host or path, naming which were given', () => {
      const e = optionError(() => resolveOptions({ listeners: [web], port: 1, host: 'x' }), 'listeners');
      expect(e.message).to.contain('cannot be combined with "port", "host"');
      optionError(() => resolveOptions({ listeners: [web], path: '/tmp/a.sock' }), 'listeners');
    });

    for (const [bad, shown] of [[[], 'an empty array'], [{}, 'an object'], ['web', '"web"']] as Array<[unknown, string]>) {
      it(`rejects ${shown}`, () => {
        const e = optionError(() => resolveOptions({ listeners: bad }), 'listeners');
        expect(e.message).to.contain(`must be a non-empty array such as [{ name: 'web', port: 8080 }], got ${shown}.`);
      });
    }

    const entryCases: Array<[string, unknown[], string, string]> = [
      ['a non-object entry', [web, 8080], 'listeners[1]', 'must be an object'],
      ['an unknown field', [{ ...web, backlog: 5 }], 'listeners[0].backlog', 'is not a listener field; known fields: name, port, host, path, mode, handler, createServer.'],
      ['a missing name', [{ port: 1 }], 'listeners[0].name', 'must be a non-empty string'],
      ['an empty name', [{ name: '', port: 1 }], 'listeners[0].name', 'got "".'],
      ['a name with ":"', [{ name: 'a:b', port: 1 }], 'listeners[0].name', 'without ":", spaces or control characters'],
      ['a name with a space', [{ name: 'a b', port: 1 }], 'listeners[0].name', 'without ":"'],
      ['a name with a control character', [{ name: 'a\u0001', port: 1 }], 'listeners[0].name', 'without ":"'],
      ['a name of 256 characters', [{ name: 'n'.repeat(256), port: 1 }], 'listeners[0].name', 'at most 255 characters'],
      ['a duplicate name', [web, { name: 'web', port: 8081 }], 'listeners[1].name', '"web" is already the name of listeners[0]; names must be unique.'],
      ['an empty path', [{ name: 'a', path: '' }], 'listeners[0].path', 'must be a non-empty string naming a UNIX socket file'],
      ['path with port', [{ name: 'a', path: '/tmp/a.sock', port: 1 }], 'listeners[0].path', 'cannot be combined with "port" or "host"'],
      ['a too long path', [{ name: 'a', path: '/tmp/' + 'a'.repeat(103) }], 'listeners[0].path', 'longer than the 107 bytes'],
      ['a mode above 0o777', [{ name: 'a', path: '/tmp/a.sock', mode: 0o1000 }], 'listeners[0].mode', 'must be an integer from 0 to 0o777'],
      ['a string mode', [{ name: 'a', path: '/tmp/a.sock', mode: '660' }], 'listeners[0].mode', 'got "660".'],
      ['a mode without a path', [{ ...web, mode: 0o660 }], 'listeners[0].mode', 'applies to a UNIX socket only'],
      ['neither port nor path', [{ name: 'a', host: '::' }], 'listeners[0].port', 'is required'],
      ['a port out of range', [{ name: 'a', port: 65536 }], 'listeners[0].port', 'must be an integer from 0 to 65535, or a string of digits such as "8080" (as environment variables are), got 65536.'],
      ['a port string that is not digits', [{ name: 'a', port: '80a' }], 'listeners[0].port', 'or a string of digits such as "8080" (as environment variables are), got "80a".'],
      ['an empty host', [{ ...web, host: '' }], 'listeners[0].host', 'must be a non-empty string'],
      ['the same port twice', [web, { name: 'b', port: 8080 }], 'listeners[1].port', 'is the same address as listeners[0]'],
      ['the same host and port twice', [{ ...web, host: '::' }, { name: 'b', port: 8080, host: '::' }], 'listeners[1].port', 'is the same address as listeners[0]'],
      ['the same path twice', [{ name: 'a', path: '/tmp/x.sock' }, { name: 'b', path: '/tmp/x.sock' }], 'listeners[1].path', 'is the same address as listeners[0]'],
      ['the same path written two ways', [{ name: 'a', path: '/tmp/s.sock' }, { name: 'b', path: '/tmp/../tmp/s.sock' }], 'listeners[1].path', 'is the same address as listeners[0]'],
      ['handler with createServer', [{ ...web, handler: () => undefined, createServer: () => undefined }], 'listeners[0].handler', 'cannot be combined with "createServer"'],
      ['a handler that is not a function', [{ ...web, handler: {} }], 'listeners[0].handler', 'must be a request listener'],
      ['a createServer that is not a function', [{ ...web, createServer: 'x' }], 'listeners[0].createServer', 'must be a function returning a server, got "x".'],
    ];
    for (const [label, listeners, option, text] of entryCases) {
      it(`rejects ${label}, naming ${option}`, () => {
        const e = optionError(() => resolveOptions({ listeners }), option);
        expect(e.message).to.contain(text);
      });
    }

    it('allows port 0 more than once and the same port on different hosts', () => {
      expect(() => resolveOptions({ listeners: [{ name: 'a', port: 0 }, { name: 'b', port: 0 }] })).not.to.throw();
      expect(() => resolveOptions({ listeners: [{ name: 'a', port: 80, host: '127.0.0.1' }, { name: 'b', port: 80, host: '127.0.0.2' }] })).not.to.throw();
    });
  });

  describe('logLevel and logFormat', () => {
    it('accepts every level and format', () => {
      for (const l of ['silent', 'error', 'warn', 'info', 'debug']) {
        expect(resolveOptions({ logLevel: l }).logLevel).to.equal(l);
      }
      for (const f of ['text', 'json']) {
        expect(resolveOptions({ logFormat: f }).logFormat).to.equal(f);
      }
    });

    it('rejects an unknown level, listing the allowed ones', () => {
      const e = optionError(() => resolveOptions({ logLevel: 'verbose' }), 'logLevel');
      expect(e.message).to.contain('must be one of "silent", "error", "warn", "info", "debug", got "verbose".');
      expect(e.message).not.to.contain('environment');
      optionError(() => resolveOptions({ logLevel: 3 }), 'logLevel');
      optionError(() => resolveOptions({ logLevel: 'WARN' }), 'logLevel');
    });

    it('rejects an unknown format', () => {
      const e = optionError(() => resolveOptions({ logFormat: 'yaml' }), 'logFormat');
      expect(e.message).to.contain('must be one of "text", "json", got "yaml".');
    });

    it('BATON_LOG_LEVEL overrides the option', () => {
      process.env.BATON_LOG_LEVEL = 'debug';
      expect(resolveOptions({ logLevel: 'error' }).logLevel).to.equal('debug');
      expect(resolveOptions({}).logLevel).to.equal('debug');
    });

    it('an empty BATON_LOG_LEVEL is ignored', () => {
      process.env.BATON_LOG_LEVEL = '';
      expect(resolveOptions({ logLevel: 'error' }).logLevel).to.equal('error');
      expect(resolveOptions({}).logLevel).to.equal('warn');
    });

    it('a wrong BATON_LOG_LEVEL throws, naming logLevel and the variable', () => {
      process.env.BATON_LOG_LEVEL = 'loud';
      const e = optionError(() => resolveOptions({ logLevel: 'info' }), 'logLevel');
      expect(e.message).to.contain('(from the environment variable BATON_LOG_LEVEL), got "loud".');
    });

    it('accept: "workers" (default) or "master"; BATON_ACCEPT overrides; anything else throws, naming the choices', () => {
      expect(resolveOptions({}).accept).to.equal('workers');
      expect(resolveOptions({ accept: 'master' }).accept).to.equal('master');
      const e = optionError(() => resolveOptions({ accept: 'kernel' }), 'accept');
      expect(e.message).to.contain('must be one of "workers", "master", got "kernel".');
      process.env.BATON_ACCEPT = 'master';
      expect(resolveOptions({ accept: 'workers' }).accept).to.equal('master');
      process.env.BATON_ACCEPT = 'both';
      expect(optionError(() => resolveOptions({}), 'accept').message).to.contain('BATON_ACCEPT');
    });

    it('BATON_LOG_FORMAT overrides the option, and a wrong one throws', () => {
      process.env.BATON_LOG_FORMAT = 'json';
      expect(resolveOptions({ logFormat: 'text' }).logFormat).to.equal('json');
      process.env.BATON_LOG_FORMAT = 'xml';
      const e = optionError(() => resolveOptions({}), 'logFormat');
      expect(e.message).to.contain('BATON_LOG_FORMAT');
    });

    it('logger: any object with error, warn, info and debug methods (console, pino-like), kept as given', () => {
      expect(resolveOptions({ logger: console }).logger).to.equal(console);
      class Pinoish {
        error(): void {}
        warn(): void {}
        info(): void {}
        debug(): void {}
      }
      const p = new Pinoish();
      expect(resolveOptions({ logger: p as never }).logger).to.equal(p);
    });

    it('logger: a missing method, or no object, is named', () => {
      const e = optionError(() => resolveOptions({ logger: { error() {}, warn() {}, info() {} } as never }), 'logger');
      expect(e.message).to.contain('has no "debug" method');
      const two = optionError(() => resolveOptions({ logger: { error() {}, info: 'yes' } as never }), 'logger');
      expect(two.message).to.contain('has no "warn", "info", "debug" methods');
      const none = optionError(() => resolveOptions({ logger: 'pino' as never }), 'logger');
      expect(none.message).to.contain('must be a logger object with error, warn, info and debug methods');
      optionError(() => resolveOptions({ logger: null as never }), 'logger');
    });

    it('logger and logFormat together are a mistake; BATON_LOG_FORMAT with a logger is not', () => {
      const e = optionError(() => resolveOptions({ logger: console, logFormat: 'json' }), 'logFormat');
      expect(e.message).to.contain('cannot be combined with "logger"');
      process.env.BATON_LOG_FORMAT = 'json';
      expect(resolveOptions({ logger: console }).logger).to.equal(console);
    });

    it('BATON_LOG_LEVEL does not change logFormat, nor BATON_LOG_FORMAT logLevel', () => {
      process.env.BATON_LOG_LEVEL = 'info';
      expect(resolveOptions({ logFormat: 'json' }).logFormat).to.equal('json');
      delete process.env.BATON_LOG_LEVEL;
      process.env.BATON_LOG_FORMAT = 'json';
      expect(resolveOptions({ logLevel: 'error' }).logLevel).to.equal('error');
    });
  });
});

describe('options: resolveApp', () => {
  it('takes a function as a request listener', () => {
    const h = (): void => undefined;
    expect(resolveApp(h)).to.deep.equal({ kind: 'handler', handler: h });
  });

  it('takes { createServer } as a server factory', () => {
    const createServer = (): http.Server => http.createServer();
    const app = resolveApp({ createServer });
    expect(app.kind).to.equal('factory');
    expect(app.kind === 'factory' && app.factory).to.equal(createServer);
  });

  for (const [label, value, shown] of [
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['a string', 'app.js', '"app.js"'],
    ['a number', 1, '1'],
    ['an array', [() => undefined], 'an array'],
    ['an object without createServer', {}, 'an object'],
    ['createServer that is not a function', { createServer: 'x' }, 'an object'],
    // named as what they are (spec/integration/mistakes.spec.ts)
    ['createServer with other keys', { createServer: () => undefined, port: 1 }, 'an object with "createServer", "port": give { createServer } alone'],
    ['a server instead of a factory', http.createServer(), 'an http.Server (or another net.Server): pass { createServer: () => server }'],
  ] as Array<[string, unknown, string]>) {
    it(`rejects ${label}`, () => {
      const e = optionError(() => resolveApp(value), 'handler');
      expect(e.message).to.contain('(the second argument of listen) must be a request listener');
      expect(e.message).to.contain(`got ${shown}`);
    });
  }
});

describe('options: resolveMainApp', () => {
  const handler = (): void => undefined;
  const own = { spec: { name: 'a', port: 1 }, app: { kind: 'handler' as const, handler } };
  const shared = { spec: { name: 'b', port: 2 }, app: undefined };

  it('may be left out when every listener has its own app', () => {
    expect(resolveMainApp(undefined, [own])).to.equal(undefined);
  });

  it('is required when a listener has no app of its own', () => {
    optionError(() => resolveMainApp(undefined, [own, shared]), 'handler');
    optionError(() => resolveMainApp(undefined, []), 'handler');
  });

  it('is checked as resolveApp does when given', () => {
    expect(resolveMainApp(handler, [shared])).to.deep.equal({ kind: 'handler', handler });
    optionError(() => resolveMainApp('x', [own]), 'handler');
  });
});
