// The master as the observers see it (lib/observe/): its state, its generations and the one
// that serves, set by the test; its events emitted by the test.
import { EventEmitter } from 'node:events';
import type { ObservedGeneration } from '../../../lib/observe/observer';

export class FakeMaster extends EventEmitter {
  state = 'serving';
  readonly generations = new Map<number, ObservedGeneration>();
  serving: ObservedGeneration | undefined;
}
