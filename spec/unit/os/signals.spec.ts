// The stop signals (lib/os/signals.ts).
import { expect } from 'chai';
import { StopSignals } from '../../../lib/os/signals';

describe('the stop signals', () => {
  it('a second SIGTERM or SIGINT forces the stop; SIGQUIT never does', () => {
    const s = new StopSignals();
    expect(s.note('SIGTERM')).to.equal('first');
    expect(s.note('SIGQUIT')).to.equal('again');
    expect(s.note('SIGINT')).to.equal('force');
    expect(new StopSignals().note('SIGQUIT')).to.equal('first');
  });
});
