// The option specs' one check of a refused option: fn throws a BatonOptionError naming
// `option`, its message starting `baton: option "<option>" `; returns the error.
import { expect } from 'chai';
import { BatonOptionError } from '../../lib/config/rules';

export function optionError(fn: () => unknown, option: string): BatonOptionError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a BatonOptionError for "${option}"`).to.be.instanceOf(BatonOptionError);
  const e = caught as BatonOptionError;
  expect(e).to.be.instanceOf(TypeError);
  expect(e.name).to.equal('BatonOptionError');
  expect(e.option).to.equal(option);
  expect(e.message).to.match(new RegExp(`^baton: option "${option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" `));
  return e;
}
