// Which inherited listening socket (from the previous master) each listener of a new release
// adopts: lib/sockets/inherit.ts matchInherited().
import { expect } from 'chai';
import type { ListenerSpec } from '../../../lib/config/types';
import { matchInherited } from '../../../lib/sockets/inherit';

describe('listeners: matching inherited sockets', () => {
  const spec = (name: string, port: number, host = '127.0.0.1'): ListenerSpec => ({ name, port, host });

  it('adopts by name and address, finds a renamed listener by its address, and leaves the dropped ones', () => {
    const given = [
      { spec: spec('web', 8080), fd: 4 },
      { spec: spec('old', 8081), fd: 5 },
      { spec: spec('api', 8082), fd: 6 },
      { spec: { name: 'sock', path: '/tmp/a.sock', mode: 0o600 }, fd: 7 },
    ];
    const { adopt, unused } = matchInherited([spec('web', 8080), spec('api-v2', 8082), spec('new', 9000), { name: 'sock', path: '/tmp/a.sock', mode: 0o660 }], given);
    expect(adopt.get('web')?.fd).to.equal(4);
    expect(adopt.get('api-v2')?.fd).to.equal(6);
    expect(adopt.get('sock')?.fd, 'a new mode keeps the socket').to.equal(7);
    expect(adopt.has('new')).to.equal(false);
    expect(unused.map((u) => u.fd)).to.deep.equal([5]);
  });

  it('never guesses between two port-0 listeners', () => {
    const { adopt, unused } = matchInherited([spec('x', 0)], [{ spec: spec('a', 0), fd: 4 }]);
    expect(adopt.size).to.equal(0);
    expect(unused).to.have.length(1);
  });
});
