// The master's states (lib/master/states.ts): the request gate and the table it moves along.
import { expect } from 'chai';
import { decide, States, TRANSITIONS } from '../../../lib/master/states';
import { Logger } from '../../../lib/log/log';

const log = new Logger('master', 1, 'silent');

describe('the master\'s states', () => {
  it('refuses, queues or runs each request by state and by the change in progress', () => {
    expect(decide('reload', 'starting', {})).to.deep.equal({ queue: true });
    expect(decide('upgrade', 'starting', {})).to.deep.equal({ queue: true });
    expect(decide('scale', 'starting', {})).to.deep.equal({ run: true });
    expect(decide('reload', 'serving', {})).to.deep.equal({ run: true });
    expect(decide('upgrade', 'serving', { upgrading: { pid: 9 } })).to.deep.equal({ refuse: 'an upgrade is in progress (new master 9)' });
    expect(decide('reload', 'serving', { upgrading: { pid: 9 } })).to.deep.equal({ refuse: 'an upgrade is in progress (new master 9)' });
    expect(decide('upgrade', 'serving', { reloading: 4 })).to.deep.equal({ refuse: 'a reload is in progress (generation 4)' });
    expect(decide('reload', 'serving', { reloading: 4 })).to.deep.equal({ refuse: 'a reload is in progress (generation 4)' });
    expect(decide('upgrade', 'handed-over', {})).to.deep.equal({ refuse: 'this master already handed over to a new master; signal that one (see the pid file)' });
    expect(decide('upgrade', 'stopping', {})).to.deep.equal({ refuse: 'the server is stopping' });
    expect(decide('reload', 'stopping', {})).to.deep.equal({ refuse: 'this master is stopping' });
    expect(decide('scale', 'handed-over', {})).to.deep.equal({ refuse: 'this master is handed-over' });
  });

  it('moves only along the table', () => {
    const s = new States(log, () => ({}));
    s.to('serving');
    s.to('handed-over');
    expect(s.leaving).to.equal(true);
    s.to('starting'); // take-back
    s.to('stopping');
    expect(() => s.to('serving')).to.throw(/stopping -> serving is not a transition/);
    expect(TRANSITIONS.stopping).to.deep.equal([]);
    expect(() => new States(log, () => ({})).to('starting')).to.throw(/starting -> starting/);
  });
});
