import { expect } from 'chai';
import * as path from 'node:path';
import { resolveOptions } from '../../../lib/config/options';
import { optionError } from '../../support/option-error';

/** The probation policy resolveOptions() makes of `probation` (absent when undefined). */
function probationOf(input: unknown): object {
  const { probation: ms, canary } = resolveOptions(input === undefined ? {} : { probation: input });
  return { ms, maxErrorRate: canary.maxErrorRate, maxLatencyRatio: canary.maxLatencyRatio, minRequests: canary.minRequests, warmup: canary.warmupMs };
}

describe('observe: options', () => {
  describe('probation', () => {
    const D = { ms: 3000, maxErrorRate: 0.05, maxLatencyRatio: 3, minRequests: 20, warmup: 1000 };
    for (const [label, input, expected] of [
      ['absent', undefined, D],
      ['a number (the warm-up a third of it)', 5000, { ...D, ms: 5000, warmup: 1666 }],
      ['0 (disabled)', 0, { ...D, ms: 0, warmup: 0 }],
      ['an empty object', {}, D],
      ['every field', { ms: 3000, maxErrorRate: 0.1, maxLatencyRatio: 2.5, minRequests: 50, warmup: 1000 }, { ms: 3000, maxErrorRate: 0.1, maxLatencyRatio: 2.5, minRequests: 50, warmup: 1000 }],
      ['ms alone (the warm-up a third of it)', { ms: 1000 }, { ...D, ms: 1000, warmup: 333 }],
      ['warmup 0 (the window is the whole probation)', { warmup: 0 }, { ...D, warmup: 0 }],
      ['warmup just under ms', { ms: 2000, warmup: 1999 }, { ...D, ms: 2000, warmup: 1999 }],
      ['maxErrorRate 0 (any excess fails)', { maxErrorRate: 0 }, { ...D, maxErrorRate: 0 }],
      ['maxErrorRate 1 (the rule is off)', { maxErrorRate: 1 }, { ...D, maxErrorRate: 1 }],
      ['maxLatencyRatio 0 (latency not judged)', { maxLatencyRatio: 0 }, { ...D, maxLatencyRatio: 0 }],
      ['maxLatencyRatio 1', { maxLatencyRatio: 1 }, { ...D, maxLatencyRatio: 1 }],
      ['a field set to undefined', { ms: undefined, minRequests: 5 }, { ...D, minRequests: 5 }],
    ] as Array<[string, unknown, object]>) {
      it(`accepts ${label}`, () => {
        expect(probationOf(input)).to.deep.equal(expected);
      });
    }

    for (const [label, input, option, says] of [
      ['a string', '5000', 'probation', /must be a number of milliseconds \(0 disables\) or an object such as \{ ms: 5000, .* got "5000"\./],
      ['a negative number', -1, 'probation', /integer from 0 to 600000 \(milliseconds, 0 disables\), got -1\./],
      ['a fraction of a ms', 1.5, 'probation', /got 1\.5/],
      ['more than 10 minutes', 600_001, 'probation', /got 600001/],
      ['NaN', NaN, 'probation', /got NaN/],
      ['null', null, 'probation', /got null/],
      ['an array', [1000], 'probation', /got an array/],
      ['an unknown field', { ms: 1000, maxErrors: 0.1 }, 'probation.maxErrors', /is not a probation field; known fields: ms, maxErrorRate, maxLatencyRatio, minRequests, warmup\./],
      ['warmup as long as ms', { ms: 2000, warmup: 2000 }, 'probation.warmup', /from 0 to less than probation\.ms \(2000\): how long each new worker serves, from its first request, before the canary counts its responses .* got 2000\./],
      ['warmup negative', { warmup: -1 }, 'probation.warmup', /got -1\./],
      ['warmup a fraction', { warmup: 0.5 }, 'probation.warmup', /got 0\.5\./],
      ['warmup a string', { warmup: '500' }, 'probation.warmup', /got "500"\./],
      ['ms as a string', { ms: '1000' }, 'probation.ms', /got "1000"/],
      ['maxErrorRate as a percentage', { maxErrorRate: 5 }, 'probation.maxErrorRate', /from 0 to 1 .* got 5\. For 5% write 0\.05\./],
      ['maxErrorRate below 0', { maxErrorRate: -0.1 }, 'probation.maxErrorRate', /got -0\.1\.$/],
      ['maxErrorRate NaN', { maxErrorRate: NaN }, 'probation.maxErrorRate', /got NaN/],
      ['maxLatencyRatio below 1', { maxLatencyRatio: 0.5 }, 'probation.maxLatencyRatio', /from 1 to 1000 .* or 0 to not judge latency, got 0\.5\./],
      ['maxLatencyRatio Infinity', { maxLatencyRatio: Infinity }, 'probation.maxLatencyRatio', /got Infinity/],
      ['minRequests 0', { minRequests: 0 }, 'probation.minRequests', /integer from 1 to 1000000000 .* got 0\./],
      ['minRequests a fraction', { minRequests: 2.5 }, 'probation.minRequests', /got 2\.5/],
      ['ms 0 with a policy', { ms: 0, maxErrorRate: 0.1 }, 'probation.ms', /is 0, which disables probation: the other fields would judge nothing\./],
    ] as Array<[string, unknown, string, RegExp]>) {
      it(`rejects ${label}`, () => {
        expect(optionError(() => probationOf(input), option).message).to.match(says);
      });
    }
  });

  describe('metrics and health', () => {
    for (const name of ['metrics', 'health']) {
      for (const [label, input, expected] of [
        ['absent', undefined, undefined],
        ['false', false, undefined],
        ['a port', { port: 9100 }, { port: 9100 }],
        ['a port as a string of digits', { port: '9100' }, { port: 9100 }],
        ['a port and host', { port: 0, host: '127.0.0.1' }, { port: 0, host: '127.0.0.1' }],
        ['a relative path, resolved', { path: 'm.sock' }, { path: path.resolve('m.sock') }],
      ] as Array<[string, unknown, unknown]>) {
        it(`${name}: accepts ${label}`, () => {
          expect(resolveOptions({ [name]: input })[name as 'metrics']).to.deep.equal(expected);
        });
      }
      for (const [label, input, option, says] of [
        ['a bare port number', 9100, name, /must be an object such as \{ port: \d+, host: '127\.0\.0\.1' \} or \{ path: '\/run\/app\/.*\.sock' \}, or false for none, got 9100\. For a port write \{ port: 9100 \}\./],
        ['true', true, name, /got true\. true names no address\./],
        ['a string', '9100', name, /For a port write \{ port: "9100" \}/],
        ['an unknown field', { port: 1, hots: 'x' }, `${name}.hots`, /is not a field of .*; known fields: port, host, path\./],
        ['no port or path', { host: '127.0.0.1' }, `${name}.port`, /is required: give a TCP "port" or a UNIX socket "path"/],
        ['a port out of range', { port: 70000 }, `${name}.port`, /integer from 0 to 65535, or a string of digits .* got 70000\./],
        ['a NaN port', { port: NaN }, `${name}.port`, /NaN: pass the variable itself/],
        ['an empty host', { port: 1, host: '' }, `${name}.host`, /non-empty string such as "127\.0\.0\.1"/],
        ['path with port', { path: '/x.sock', port: 1 }, `${name}.path`, /cannot be combined with "port" or "host"/],
        ['an empty path', { path: '' }, `${name}.path`, /non-empty string naming a UNIX socket file, got ""\./],
        ['a path too long', { path: `/${'x'.repeat(120)}` }, `${name}.path`, /longer than the 107 bytes/],
      ] as Array<[string, unknown, string, RegExp]>) {
        it(`${name}: rejects ${label}`, () => {
          expect(optionError(() => resolveOptions({ [name]: input }), option).message).to.match(says);
        });
      }
    }
  });

  describe('shutdownDelay', () => {
    it('defaults to 0 and keeps a value given', () => {
      expect(resolveOptions({}).shutdownDelay).to.equal(0);
      expect(resolveOptions({ shutdownDelay: 5000 }).shutdownDelay).to.equal(5000);
    });
    for (const v of [-1, 1.5, '5000', 600_001, NaN, null]) {
      it(`rejects ${String(v)}`, () => {
        expect(optionError(() => resolveOptions({ shutdownDelay: v }), 'shutdownDelay').message).to.match(/must be an integer from 0 to 600000 \(milliseconds \/readyz answers 503 while the server still serves, before the drain\), got /);
      });
    }
  });

  describe('together, and against the app\'s listeners', () => {
    const listeners = [{ name: 'default', port: 8080 }, { name: 'admin', path: '/run/app/admin.sock' }];

    it('returns what is set', () => {
      const r = resolveOptions({ listeners, metrics: { port: 9100 }, health: { port: 9100 }, shutdownDelay: 3000 });
      expect([r.metrics, r.health, r.shutdownDelay]).to.deep.equal([{ port: 9100 }, { port: 9100 }, 3000]);
    });

    for (const [label, opts, option, says] of [
      ['metrics on the app\'s port', { metrics: { port: 8080 } }, 'metrics', /is at port 8080, where the app's listener "default" is: baton serves metrics on its own listener, never through the app\. Choose another port\./],
      ['health on the app\'s port, one host given', { health: { port: 8080, host: '127.0.0.1' } }, 'health', /listener "default"/],
      ['metrics on the app\'s UNIX socket', { metrics: { path: '/run/app/admin.sock' } }, 'metrics', /is at \/run\/app\/admin\.sock, where the app's listener "admin" is: .* Choose another path\./],
      ['metrics and health at one port, two hosts', { metrics: { port: 9100, host: '127.0.0.1' }, health: { port: 9100 } }, 'health', /is at port 9100 like "metrics" but with another host/],
    ] as Array<[string, Record<string, unknown>, string, RegExp]>) {
      it(`rejects ${label}`, () => {
        expect(optionError(() => resolveOptions({ listeners, ...opts }), option).message).to.match(says);
      });
    }

    it('allows the app\'s port on another host, and port 0 anywhere', () => {
      expect(() => resolveOptions({ port: 0, metrics: { port: 0 } })).to.not.throw();
      expect(() => resolveOptions({ port: 8080, host: '10.0.0.1', metrics: { port: 8080, host: '127.0.0.1' } })).to.not.throw();
    });

    it('is checked by resolveOptions(), before any fork, with the app\'s addresses', () => {
      const r = resolveOptions({ port: 8081, probation: { ms: 300, minRequests: 5 }, metrics: { port: '9100' }, health: { path: 'h.sock' }, shutdownDelay: 50 });
      expect(r.probation).to.equal(300);
      expect(r.canary).to.deep.include({ maxErrorRate: 0.05, maxLatencyRatio: 3, minRequests: 5 });
      expect(r.metrics).to.deep.equal({ port: 9100 });
      expect(r.health).to.deep.equal({ path: path.resolve('h.sock') });
      expect(r.shutdownDelay).to.equal(50);
      optionError(() => resolveOptions({ port: 8081, metrics: { port: 8081 } }), 'metrics');
      optionError(() => resolveOptions({ listeners: [{ name: 'web', port: 8082 }], health: { port: 8082 } }), 'health');
      optionError(() => resolveOptions({ probation: { maxErrorRate: 5 } }), 'probation.maxErrorRate');
      optionError(() => resolveOptions({ shutdownDelay: -1 }), 'shutdownDelay');
    });
  });
});
