// The one bridge between an upgrade the supervisor runs (`baton run`) and the master it
// replaces: the supervisor forwards each event of its UpgradeAttempt (lib/upgrade/attempt.ts)
// as a message, and the master replays it into a RemoteUpgrade, an UpgradeAttempt seen from
// afar, with the same events. One table says which event is which message, for both sides;
// the message names are the protocol older masters and supervisors speak.
//
// The canary goes both ways: the new master's tally reaches the old master as an event
// ('tally'), and the old master's verdict goes back to the supervisor's attempt ('upgrade-verdict',
// verdictMessage / readVerdict). An older master never answers: the supervisor's attempt then
// judges on crashes alone (lib/pool/trial.ts, REPORT_TIMEOUT).
import type { EventEmitter } from 'node:events';
import type { FromMaster, ToMaster } from '../messages';
import type { UpgradeEvents } from '../upgrade/attempt';
import type { Verdict } from '../observe/canary';

type Forwarded = 'started' | 'worker-ready' | 'side' | 'probation' | 'tally' | 'serving' | 'failed';

const WIRE: Readonly<Record<Forwarded, { type: ToMaster['type']; args: readonly string[] }>> = {
  started: { type: 'upgrade-started', args: ['pid'] },
  'worker-ready': { type: 'upgrade-worker-ready', args: ['pid', 'ready', 'total'] },
  side: { type: 'upgrade-side', args: ['pid', 'side'] },
  probation: { type: 'upgrade-probation', args: ['pid'] },
  tally: { type: 'upgrade-tally', args: ['pid', 'tally'] },
  serving: { type: 'upgrade-serving', args: ['pid', 'dropped'] },
  failed: { type: 'upgrade-failed', args: ['reason'] },
};

/** A refusal (the supervisor could not start one) reaches the master as a failure. */
const ALIASES: Readonly<Record<string, Forwarded>> = { 'upgrade-refused': 'failed' };

/** The supervisor's side: every event of `attempt` as a message to `send`. */
export function forwardUpgrade(attempt: EventEmitter<UpgradeEvents>, send: (m: ToMaster) => void): void {
  for (const [event, wire] of Object.entries(WIRE) as Array<[Forwarded, (typeof WIRE)[Forwarded]]>) {
    attempt.on(event, (...args: unknown[]) => {
      const m: Record<string, unknown> = { type: wire.type };
      wire.args.forEach((name, i) => {
        m[name] = args[i];
      });
      send(m as ToMaster);
    });
  }
}

/** The event a message stands for, with its arguments; undefined for any other message. */
export function upgradeEvent(m: ToMaster): { event: Forwarded; args: unknown[] } | undefined {
  const event = (Object.keys(WIRE) as Forwarded[]).find((e) => WIRE[e].type === m.type) ?? ALIASES[m.type];
  if (event === undefined) return undefined;
  const fields = m as unknown as Record<string, unknown>;
  // an older supervisor sends no `dropped`
  const args = WIRE[event].args.map((name) => fields[name] ?? (name === 'dropped' ? [] : undefined));
  return { event, args };
}

/** The old master's side: its verdict on the new master `pid`'s tally (undefined: none, judged on crashes alone). */
export function verdictMessage(pid: number, v: Verdict | undefined): FromMaster {
  return { type: 'upgrade-verdict', pid, verdict: v ?? null };
}

/** The supervisor's side: the verdict in an 'upgrade-verdict', checked (undefined when none or malformed). */
export function readVerdict(m: { verdict?: unknown }): Verdict | undefined {
  const v = m.verdict as Partial<Verdict> | null | undefined;
  if (typeof v !== 'object' || v === null || typeof v.reason !== 'string' || !['pass', 'fail', 'not-enough'].includes(v.result as string)) return undefined;
  return v as Verdict;
}
