// The supervisor's table of states (lib/supervisor/states.ts): the moves `baton run` makes,
// and that a move off the table throws.
import { expect } from 'chai';
import { SUPERVISOR } from '../../../lib/supervisor/states';
import { StateTable } from '../../../lib/upgrade/state-table';

const supervisorStates = () => new StateTable(SUPERVISOR, 'starting', 'supervisor state');

describe('the supervisor\'s states (lib/supervisor/states.ts)', () => {
  it('follows a first master to serving, a restart back to serving, then a stop', () => {
    const s = supervisorStates();
    expect(s.state).to.equal('starting');
    for (const next of ['listening', 'serving', 'restarting', 'serving', 'stopping'] as const) {
      s.to(next);
      expect(s.state).to.equal(next);
    }
    expect(s.is('starting', 'stopping')).to.equal(true);
  });

  it('a master of an older baton serves without a word first; any state but stopping may stop', () => {
    const s = supervisorStates();
    s.to('serving');
    expect(s.state).to.equal('serving');
    for (const from of ['starting', 'listening', 'serving', 'restarting'] as const) expect(SUPERVISOR[from]).to.include('stopping');
  });

  it('a move off the table throws, and stopping leads nowhere', () => {
    expect(SUPERVISOR.stopping).to.deep.equal([]);
    // a restart is for a master that served: a first master that dies gives up instead
    expect(() => supervisorStates().to('restarting')).to.throw(/supervisor state starting -> restarting is not a transition/);
    const s = supervisorStates();
    s.to('listening');
    expect(() => s.to('starting')).to.throw(/listening -> starting/);
    s.to('stopping');
    expect(() => s.to('serving')).to.throw(/stopping -> serving is not a transition/);
    expect(s.state).to.equal('stopping');
  });
});
