// Human output of `schedule` (its run summary) and of the schedule section of `status`, on stderr
// and stdout respectively; --json prints the same objects as JSON instead.
import type { ScheduleStatus } from '../core/schedule/status.js';
import type { ScheduleRunRecord } from '../core/schedule/types.js';
import type { Io } from './io.js';

const STOPS: Record<string, string> = {
  'max-runtime': 'stopped at --max-runtime; the remaining due users stay due for the next run',
  max: 'stopped at --max; the remaining due users stay due for the next run',
  signal: 'interrupted; progress saved, the next run continues',
  'lock-lost': 'lost the lock; stopped taking users',
  fatal: 'stopped by a fatal error',
  'max-errors': 'stopped at --max-errors',
};

/** The human summary of a run (stderr). */
export function formatRun(r: ScheduleRunRecord, io: Io): string {
  const c = r.counts;
  const head = r.dryRun ? `mailcron: schedule dry run at ${r.now.toISOString()}: would send ${c.sent}` : `mailcron: schedule at ${r.now.toISOString()}: ${c.sent} sent`;
  const parts = [
    head,
    `${c.failed} failed${c.retryable ? ` (${c.retryable} retryable: the next run retries)` : ''}`,
    `${c.missed} missed`,
    `${c.skipped} skipped`,
    `${c.alreadyDone} already done`,
    `${c.uncertain} uncertain`,
    `${r.dueUsers} due users`,
    `${r.planned} planned${r.invalid ? ` (${r.invalid} invalid)` : ''}`,
  ];
  // Absent when only a scan of every user could tell (a server without a usable index).
  if (r.nextDueAt !== undefined) parts.push(`next due ${r.nextDueAt ? r.nextDueAt.toISOString() : '-'}`);
  const lines = [r.stopped && r.stopped !== 'max-runtime' && r.stopped !== 'max' ? io.color.yellow(parts.join(', ')) : parts.join(', ')];
  for (const p of r.problems) lines.push(io.color.yellow(`mailcron: ${p.users} user${p.users === 1 ? '' : 's'} left due: ${p.reason}`));
  if (r.stopped) lines.push(`mailcron: ${STOPS[r.stopped] ?? r.stopped}`);
  return `${lines.join('\n')}\n`;
}

/** Lines for the schedule section of `mailcron status`. */
export function formatScheduleStatus(s: ScheduleStatus, io: Io): string {
  const out = [io.color.bold('schedule')];
  if (s.lastRun) {
    const r = s.lastRun;
    const c = r.counts;
    out.push(
      `  last run ${r.startedAt.toISOString()} (now ${r.now.toISOString()})${r.stopped ? ` ${r.stopped}` : ''}: sent ${c.sent}  failed ${c.failed}  missed ${c.missed}  skipped ${c.skipped}  already done ${c.alreadyDone}  uncertain ${c.uncertain}  due users ${r.dueUsers}  planned ${r.planned}`,
    );
    for (const p of r.problems) out.push(io.color.yellow(`  ${p.users} left due: ${p.reason}`));
  } else out.push('  no schedule run yet (mailcron schedule --help)');
  out.push(`  due now ${s.dueNow}  next due ${s.nextDueAt ? s.nextDueAt.toISOString() : '-'}`);
  const l = s.ledger;
  out.push(`  all slots: sent ${l.sent}  failed ${l.failed}  retryable ${l.retryable}  missed ${l.missed}  skipped ${l.skipped}  in flight or uncertain ${l.claimed}`);
  if (s.lock) {
    out.push(
      s.lock.held
        ? `  lock held by ${s.lock.owner} since ${s.lock.since.toISOString()} (expires ${s.lock.expiresAt.toISOString()} unless renewed)`
        : `  lock free (last held by ${s.lock.owner}${s.lock.releasedAt ? `, released ${s.lock.releasedAt.toISOString()}` : ', expired'})`,
    );
  }
  return `${out.join('\n')}\n`;
}
