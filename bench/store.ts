// The load generator's records while a run goes on: one typed array per column, grown by
// doubling, so that millions of requests cost a few bytes each and travel to the
// orchestrator as they are (IPC with 'advanced' serialization).

type Column = Float64Array | Float32Array | Uint8Array | Uint16Array | Int16Array;

export class Store {
  cap = 0;
  n = 0;
  sendAt = new Float64Array(0);
  latency = new Float32Array(0);
  outcome = new Uint8Array(0);
  status = new Uint16Array(0);
  version = new Int16Array(0);
  generation = new Uint16Array(0);
  worker = new Int16Array(0);
  error = new Int16Array(0);
  keepAlive = new Uint8Array(0);
  socketIdle = new Float32Array(0);

  constructor(initial: number) {
    this.grow(initial);
  }

  grow(cap: number): void {
    const copy = <T extends Column>(old: T, make: (n: number) => T, fill?: number): T => {
      const a = make(cap);
      if (fill !== undefined) a.fill(fill);
      a.set(old);
      return a;
    };
    this.sendAt = copy(this.sendAt, (k) => new Float64Array(k));
    this.latency = copy(this.latency, (k) => new Float32Array(k), NaN);
    this.outcome = copy(this.outcome, (k) => new Uint8Array(k));
    this.status = copy(this.status, (k) => new Uint16Array(k));
    this.version = copy(this.version, (k) => new Int16Array(k), -1);
    this.generation = copy(this.generation, (k) => new Uint16Array(k));
    this.worker = copy(this.worker, (k) => new Int16Array(k), -1);
    this.error = copy(this.error, (k) => new Int16Array(k), -1);
    this.keepAlive = copy(this.keepAlive, (k) => new Uint8Array(k));
    this.socketIdle = copy(this.socketIdle, (k) => new Float32Array(k), NaN);
    this.cap = cap;
  }

  /** Index of a new request. */
  add(): number {
    if (this.n === this.cap) this.grow(this.cap * 2);
    return this.n++;
  }
}

/** Names seen in answers (versions, error codes, pids) as small integers, in the order first seen. */
export class Names<K> {
  private readonly map = new Map<K, number>();

  index(k: K): number {
    let i = this.map.get(k);
    if (i === undefined) {
      i = this.map.size;
      this.map.set(k, i);
    }
    return i;
  }

  has(k: K): boolean {
    return this.map.has(k);
  }

  keys(): K[] {
    return [...this.map.keys()];
  }
}
