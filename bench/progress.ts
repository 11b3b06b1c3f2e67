// The progress line on stderr while the bench runs: the phase, its elapsed time, the requests
// sent so far (in total and in this phase) and those that did not succeed. Rewritten in place
// on a terminal, a line every 2 s otherwise.
import { now, type Progress, type RunRecords } from './common';

export class ProgressLine {
  phase = 'starting';
  note = '';
  phaseStart = now();
  doneRequests = 0;
  doneErrors = 0;
  phaseDone = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tty = process.stderr.isTTY === true;
  private last = 0;

  constructor(private lg: () => Progress, private t0: number) {}

  start(): void {
    this.timer = setInterval(() => this.print(false), this.tty ? 250 : 1000);
  }

  set(phase: string, note = ''): void {
    this.print(true);
    this.phase = phase;
    this.note = note;
    this.phaseStart = now();
    this.phaseDone = 0;
  }

  /** Adds a finished load run to the running totals. */
  account(r: RunRecords): void {
    this.doneRequests += r.n;
    this.phaseDone += r.n;
    let bad = 0;
    for (let i = 0; i < r.n; i++) if (r.outcome[i] !== 1 || r.status[i] < 200 || r.status[i] > 299) bad++;
    this.doneErrors += bad;
  }

  line(): string {
    const p = this.lg();
    const t = ((now() - this.t0) / 1000).toFixed(1);
    const el = ((now() - this.phaseStart) / 1000).toFixed(1);
    return `[bench ${t}s] ${this.phase.padEnd(22)} ${el.padStart(6)}s  requests ${this.doneRequests + p.sent} (this phase ${this.phaseDone + p.sent})  errors ${this.doneErrors + p.failed + p.non2xx}${this.note ? `  ${this.note}` : ''}`;
  }

  print(force: boolean): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${this.line()}`);
    } else if (force || now() - this.last >= 2000) {
      this.last = now();
      process.stderr.write(`${this.line()}\n`);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) process.stderr.write(`\r\x1b[K${this.line()}\n`);
  }
}
