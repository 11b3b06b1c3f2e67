// A spawned child process without a process (the new master, as the old one sees it): its
// channel (FakeChannel), a pid, and the unref() calls a detached child gets. Its 'exit' is emitted
// by the test: `child.emit('exit', code, signal)`.
import * as sinon from 'sinon';
import { FakeChannel } from './channel';

export class FakeChild extends FakeChannel {
  readonly pid = 424_242;
  channel = { unref: sinon.stub() };
  unref = sinon.stub();
}
