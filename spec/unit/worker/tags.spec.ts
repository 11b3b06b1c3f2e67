// Which listener a connection came in on, through a request, a socket or an HTTP/2 stream:
// lib/worker/tags.ts listenerOf().
import { expect } from 'chai';
import { listenerOf, tags } from '../../../lib/worker/tags';

describe('listenerOf', () => {
  it('finds the tag through a request, a socket, an http2 stream or session; undefined otherwise', () => {
    const socket = {};
    const session = {};
    tags.set(socket, 'web');
    tags.set(session, 'h2');
    expect(listenerOf(socket)).to.equal('web');
    expect(listenerOf({ socket })).to.equal('web');
    expect(listenerOf({ stream: { session } })).to.equal('h2');
    expect(listenerOf({ session })).to.equal('h2');
    expect(listenerOf({})).to.equal(undefined);
    expect(listenerOf(undefined)).to.equal(undefined);
    expect(listenerOf({ get socket(): never { throw new Error('unbound'); } })).to.equal(undefined);
  });
});
