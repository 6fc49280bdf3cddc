// The schedule part of `mailcron status`: last run and its counts, users due now, next due time,
// missed slots and who holds the lock. Every number comes from an index or one small document.
import type { Ledger, LedgerSummary } from '../ledger/ledger.js';
import type { LeaseStore } from './lock.js';
import { SCHEDULE_LOCK, SCHEDULE_SCOPE } from './run-schedule.js';
import type { ScheduleRunRecord, ScheduleStore } from './types.js';

export interface ScheduleStatus {
  /** The last (non-dry) run, or null when none ran yet. */
  lastRun: Pick<ScheduleRunRecord, 'startedAt' | 'finishedAt' | 'now' | 'owner' | 'counts' | 'planned' | 'invalid' | 'dueUsers' | 'deferred' | 'problems'> & {
    stopped?: ScheduleRunRecord['stopped'];
  } | null;
  /** Users with `mailcron.nextAt <= now`. */
  dueNow: number;
  /** Earliest `nextAt` after now. */
  nextDueAt: Date | null;
  /** All schedule deliveries in the ledger, by status (missed slots included). */
  ledger: LedgerSummary;
  /** The schedule lease: held (not expired) or not, by whom and since when. */
  lock: { held: boolean; owner: string; since: Date; expiresAt: Date; releasedAt?: Date } | null;
}

/** Reads the schedule status at `now` (wall clock). */
export async function scheduleStatus(deps: { store: ScheduleStore; ledger: Ledger; leases: LeaseStore }, now: Date): Promise<ScheduleStatus> {
  const [run, dueNow, nextDueAt, ledger, lease] = await Promise.all([
    deps.store.lastRun(),
    deps.store.countDue(now),
    deps.store.nextDue(now),
    deps.ledger.summarize(SCHEDULE_SCOPE),
    deps.leases.read(SCHEDULE_LOCK),
  ]);
  let lastRun: ScheduleStatus['lastRun'] = null;
  if (run) {
    lastRun = {
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      now: run.now,
      owner: run.owner,
      counts: run.counts,
      planned: run.planned,
      invalid: run.invalid,
      dueUsers: run.dueUsers,
      deferred: run.deferred,
      problems: run.problems,
    };
    if (run.stopped) lastRun.stopped = run.stopped;
  }
  let lock: ScheduleStatus['lock'] = null;
  if (lease) {
    lock = { held: lease.expiresAt.getTime() >= now.getTime(), owner: lease.owner, since: lease.acquiredAt, expiresAt: lease.expiresAt };
    if (lease.releasedAt) lock.releasedAt = lease.releasedAt;
  }
  return { lastRun, dueNow, nextDueAt, ledger, lock };
}
