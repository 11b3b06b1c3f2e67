// A small strict parser of the Prometheus text format 0.0.4, for the specs: it throws, naming
// the line, on anything a Prometheus server would reject or that the format forbids
// (a sample before its TYPE, a family split in two, a duplicate series, a bad escape, a
// histogram whose buckets are not cumulative or lack +Inf = _count, a missing final newline).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help?: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

function unescape(s: string, allowQuote: boolean, where: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[++i];
    if (n === '\\') out += '\\';
    else if (n === 'n') out += '\n';
    else if (n === '"' && allowQuote) out += '"';
    else throw new Error(`${where}: bad escape \\${n ?? ''}`);
  }
  return out;
}

function parseValue(s: string, where: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`${where}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Which family a sample name belongs to (a histogram's _bucket/_sum/_count). */
function familyOf(name: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const f = families.get(name);
  if (f) return f;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = families.get(name.slice(0, -suffix.length));
      if (base && (base.type === 'histogram' || (base.type === 'summary' && suffix !== '_bucket'))) return base;
    }
  }
  return undefined;
}

export function parsePrometheus(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const families = new Map<string, MetricFamily>();
  const done = new Set<string>();
  const typed = new Set<string>();
  let current: MetricFamily | undefined;
  const seen = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    if (line === '') throw new Error(`${where}: empty line`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+)(?: (.*))?$/.exec(line);
      if (!m) {
        if (/^# (HELP|TYPE)/.test(line)) throw new Error(`${where}: malformed ${line.slice(2, 6)}`);
        return; // a comment
      }
      const [, kind, name, rest] = m as unknown as [string, string, string, string | undefined];
      if (!NAME.test(name) || NAME.exec(name)?.[0] !== name) throw new Error(`${where}: bad metric name`);
      if (done.has(name)) throw new Error(`${where}: ${name} appears again after other families`);
      let f = families.get(name);
      if (f === undefined) {
        if (current) done.add(current.name);
        f = { name, type: 'untyped', samples: [] };
        families.set(name, f);
        current = f;
      } else if (f !== current) throw new Error(`${where}: ${name} split by another family`);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP`);
        f.help = unescape(rest ?? '', false, where);
      } else {
        if (typed.has(name)) throw new Error(`${where}: second TYPE`);
        if (f.samples.length > 0) throw new Error(`${where}: TYPE after samples`);
        if (!TYPES.includes(rest ?? '')) throw new Error(`${where}: unknown type ${rest}`);
        f.type = rest as MetricFamily['type'];
        typed.add(name);
      }
      return;
    }
    const nm = NAME.exec(line);
    if (!nm) throw new Error(`${where}: no metric name`);
    const name = nm[0];
    let pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      while (line[pos] !== '}') {
        const lm = LABEL.exec(line.slice(pos));
        if (!lm) throw new Error(`${where}: bad label name at ${pos}`);
        const ln = lm[0];
        pos += ln.length;
        if (line.slice(pos, pos + 2) !== '="') throw new Error(`${where}: expected =" after ${ln}`);
        pos += 2;
        let raw = '';
        while (pos < line.length && line[pos] !== '"') {
          if (line[pos] === '\\') raw += line[pos++];
          raw += line[pos++];
        }
        if (line[pos] !== '"') throw new Error(`${where}: unterminated label value`);
        pos++;
        if (ln in labels) throw new Error(`${where}: label ${ln} twice`);
        labels[ln] = unescape(raw, true, where);
        if (line[pos] === ',') pos++;
        else if (line[pos] !== '}') throw new Error(`${where}: expected , or } at ${pos}`);
      }
      pos++;
    }
    if (line[pos] !== ' ') throw new Error(`${where}: expected a space before the value`);
    const parts = line.slice(pos + 1).split(' ');
    if (parts.length > 2 || parts[0] === '') throw new Error(`${where}: expected "value [timestamp]"`);
    const value = parseValue(parts[0] as string, where);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    let f = familyOf(name, families);
    if (f === undefined) {
      // an untyped sample without HELP/TYPE: its own family
      if (done.has(name) || families.has(name)) throw new Error(`${where}: ${name} appears again after other families`);
      if (current) done.add(current.name);
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
      current = f;
    }
    if (f !== current) throw new Error(`${where}: a sample of ${f.name} outside its family's lines`);
    if (f.type === 'histogram' && name === f.name) throw new Error(`${where}: a histogram has only _bucket, _sum and _count samples`);
    if (f.type === 'histogram' && name.endsWith('_bucket') !== ('le' in labels)) throw new Error(`${where}: le belongs on _bucket lines only`);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`${where}: a counter is negative or NaN`);
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(id)) throw new Error(`${where}: duplicate series`);
    seen.add(id);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(k) ?? { buckets: [] };
    groups.set(k, g);
    if (s.name === `${f.name}_bucket`) g.buckets.push([parseValue(le as string, `${f.name} le`), s.value]);
    else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [k, g] of groups) {
    const at = `${f.name}${k}`;
    if (g.sum === undefined || g.count === undefined) throw new Error(`${at}: missing _sum or _count`);
    if (g.buckets.length === 0 || g.buckets[g.buckets.length - 1]?.[0] !== Infinity) throw new Error(`${at}: the last bucket is not le="+Inf"`);
    for (let i = 1; i < g.buckets.length; i++) {
      const [le0, c0] = g.buckets[i - 1] as [number, number];
      const [le1, c1] = g.buckets[i] as [number, number];
      if (!(le1 > le0)) throw new Error(`${at}: le not increasing (${le0} then ${le1})`);
      if (c1 < c0) throw new Error(`${at}: buckets not cumulative (${c0} then ${c1})`);
    }
    if (g.buckets[g.buckets.length - 1]?.[1] !== g.count) throw new Error(`${at}: +Inf bucket ${g.buckets[g.buckets.length - 1]?.[1]} != _count ${g.count}`);
  }
}

/** The value of one sample, by name and exact labels; undefined when absent. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const a = Object.entries(s.labels).sort();
      const b = Object.entries(labels).sort();
      if (JSON.stringify(a) === JSON.stringify(b)) return s.value;
    }
  }
  return undefined;
}
