// systemd socket activation read from the environment (LISTEN_PID, LISTEN_FDS,
// LISTEN_FDNAMES): lib/sockets/activation.ts takeActivatedSockets().
import { expect } from 'chai';
import type { ListenerSpec } from '../../../lib/config/types';
import { Logger } from '../../../lib/log/log';
import { takeActivatedSockets } from '../../../lib/sockets/activation';

describe('listeners: systemd socket activation (environment)', () => {
  const log = new Logger('master', 1, 'silent');
  const specs: ListenerSpec[] = [{ name: 'web', port: 80 }, { name: 'admin', path: '/run/a.sock' }];

  it('matches fds from 3 on by LISTEN_FDNAMES and removes the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'admin:web', OTHER: 'x' };
    const got = takeActivatedSockets(specs, log, env, 42);
    expect(got.map((g) => [g.spec.name, g.fd, g.external])).to.deep.equal([['admin', 3, true], ['web', 4, true]]);
    expect(env).to.deep.equal({ OTHER: 'x' });
  });

  it('a single listener takes a single socket whatever its name', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '1', LISTEN_FDNAMES: 'app.socket' };
    expect(takeActivatedSockets([{ name: 'default', port: 8080 }], log, env, 42).map((g) => [g.spec.name, g.fd])).to.deep.equal([['default', 3]]);
  });

  it('ignores sockets meant for another process (LISTEN_PID), and still removes the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '41', LISTEN_FDS: '1' };
    expect(takeActivatedSockets(specs, log, env, 42)).to.deep.equal([]);
    expect(env).to.deep.equal({});
  });
});
