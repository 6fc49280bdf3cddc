// One `schedule` run: take the lock, plan users that have no plan, read the due users by the
// `mailcron.nextAt` index, turn their due slots into ledger-keyed tasks for the delivery pipeline
// (sent, or recorded `missed` when older than --catch-up), and move `nextAt` on once the ledger
// holds the outcomes. The cost of a run follows the due users, not the user base — on a server
// that uses its indexes. On one that does not (FerretDB v1), every query reads every user, so a
// run makes one: unplanned and due users together.
import { AbortedError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { runDeliveries, zeroCounts } from '../pipeline/run-deliveries.js';
import type { DeliveryTask, DeliveryTuning, PipelineCounts, RunResult } from '../pipeline/types.js';
import type { Clock, Mailer, ProgressSink, UserDoc } from '../ports.js';
import { createAdvancer } from './advance.js';
import { createDecisionHandler } from './decision-tasks.js';
import { acquireLease, DEFAULT_LOCK_TTL_MS, type LeaseStore } from './lock.js';
import { DECIDE_DEFAULTS, decideDue, decidePlan, isUnplanned, type DecideContext } from './plan.js';
import type { ScheduleDefaults } from './slots.js';
import type { DueAccess, ScheduleMessages, ScheduleRunRecord, ScheduleStopReason, ScheduleStore } from './types.js';

/** Ledger scope of every schedule delivery (what `status` counts). */
export const SCHEDULE_SCOPE = 'schedule';
/** Name of the schedule lease in `mailcron_locks`. */
export const SCHEDULE_LOCK = 'schedule';
export const DEFAULT_CATCH_UP_MS = 6 * 3_600_000;

export interface RunScheduleOptions extends DeliveryTuning {
  store: ScheduleStore;
  leases: LeaseStore;
  ledger: Ledger;
  mailer: Mailer;
  messages: ScheduleMessages;
  /** The run clock (`--now` gives a clock that starts there). */
  clock: Clock;
  /** The run's now: slots at or before it are due. Default: the clock at start. */
  now?: Date;
  /** Wall-clock time for the lease and for --max-runtime. Default `() => new Date()`. */
  wallNow?: () => Date;
  /** Unique run id, `host:pid:random`: lease owner and ledger `claimedBy`. */
  owner: string;
  /** Sender address (for Message-IDs). */
  from: string;
  /** Path of the schedule in user documents. Default `schedule`. */
  field?: string;
  defaults?: ScheduleDefaults;
  /** Default 6 h. */
  catchUpMs?: number;
  /** Stop taking users after this long (wall clock); in-flight sends finish. Default: no limit. */
  maxRuntimeMs?: number;
  /** Take at most this many due users. Default: no limit. */
  maxUsers?: number;
  /** Lease length. Default 60 s. */
  lockTtlMs?: number;
  /** Compare every scheduled user's schedule with its plan (keyset pass), not only unplanned ones. */
  replan?: boolean;
  signal?: AbortSignal;
  progress?: ProgressSink;
  /** Called once the lock is held (the CLI starts its progress output). */
  onLocked?: () => void;
  /** A lease renewal failed (it is retried until the lease would expire). */
  onLockRenewError?: (err: unknown) => void;
  /** Users read per query. Default 250 (due), 500 (planning). */
  batchSize?: { due?: number; planning?: number };
  /** Overrides of the per-user bounds (tests). */
  limits?: Partial<Pick<DecideContext, 'recheckMs' | 'maxMissedRecords' | 'maxSendsPerUser'>>;
}

export interface RunScheduleResult {
  record: ScheduleRunRecord;
  /** The pipeline's stop, when it stopped early (signal, fatal, max-errors); the CLI maps it to an exit code. */
  pipelineStop?: RunResult['stopped'];
}


/**
 * Runs one schedule pass. Throws LockHeldError (exit 75) when another run holds the lock. Never
 * throws for SMTP problems: `pipelineStop` says why the pipeline stopped. A lost lock stops taking
 * users and is reported as `stopped: 'lock-lost'` with an AbortedError in `pipelineStop`.
 */
export async function runSchedule(o: RunScheduleOptions): Promise<RunScheduleResult> {
  const wallNow = o.wallNow ?? (() => new Date());
  const startedAt = wallNow();
  const now = o.now ?? o.clock.now();
  const ctx: DecideContext = {
    now,
    field: o.field ?? DECIDE_DEFAULTS.field,
    defaults: o.defaults ?? {},
    catchUpMs: o.catchUpMs ?? DEFAULT_CATCH_UP_MS,
    recheckMs: o.limits?.recheckMs ?? DECIDE_DEFAULTS.recheckMs,
    maxMissedRecords: o.limits?.maxMissedRecords ?? DECIDE_DEFAULTS.maxMissedRecords,
    maxSendsPerUser: o.limits?.maxSendsPerUser ?? DECIDE_DEFAULTS.maxSendsPerUser,
  };
  const lease = await acquireLease(o.leases, {
    name: SCHEDULE_LOCK,
    owner: o.owner,
    ttlMs: o.lockTtlMs ?? DEFAULT_LOCK_TTL_MS,
    now: wallNow,
    ...(o.onLockRenewError ? { onRenewError: o.onLockRenewError } : {}),
  });
  o.onLocked?.();
  try {
    return await runLocked(o, ctx, lease.lost, startedAt, wallNow);
  } finally {
    await lease.release().catch(() => {});
  }
}

async function runLocked(o: RunScheduleOptions, ctx: DecideContext, leaseLost: AbortSignal, startedAt: Date, wallNow: () => Date): Promise<RunScheduleResult> {
  const { now } = ctx;
  const dryRun = Boolean(o.dryRun);
  const advancer = createAdvancer({ store: o.store, inner: o.ledger, clock: o.clock, dryRun });
  const stats = { planned: 0, replanned: 0, invalid: 0, dueUsers: 0, deferred: 0 };
  const problems = new Map<string, number>();
  let stopped: ScheduleStopReason | undefined;
  const signals = [leaseLost, ...(o.signal ? [o.signal] : [])];
  const pipelineSignal = AbortSignal.any(signals);

  /** Stop taking any user: lock lost, signal, --max-runtime (--max only stops taking due users). */
  const hardStop = (): boolean => {
    if (stopped && stopped !== 'max') return true;
    let reason: ScheduleStopReason | undefined;
    if (leaseLost.aborted) reason = 'lock-lost';
    else if (o.signal?.aborted) reason = 'signal';
    else if (o.maxRuntimeMs !== undefined && wallNow().getTime() - startedAt.getTime() >= o.maxRuntimeMs) reason = 'max-runtime';
    if (reason) stopped ??= reason;
    return reason !== undefined;
  };
  const shouldStop = (): boolean => hardStop() || stopped !== undefined;

  const handle = createDecisionHandler({ ctx, advancer, messages: o.messages, from: o.from, stats, problems });

  // Where the server would read every user for the due query anyway, unplanned and due users are
  // read in that one pass (--replan reads every scheduled user first, by design).
  const access: DueAccess = await o.store.dueAccess(now);
  const onePass = access === 'scan' && !o.replan;
  const planningBatch = o.batchSize?.planning ?? 500;
  const dueBatch = o.batchSize?.due ?? 250;

  /** One due user: counted, or `false` once --max is reached (the user stays due). */
  const takeDue = async (doc: UserDoc, out: DeliveryTask[]): Promise<boolean> => {
    if (o.maxUsers !== undefined && stats.dueUsers >= o.maxUsers) {
      stopped ??= 'max';
      return false;
    }
    stats.dueUsers++;
    await handle(doc, decideDue(doc, ctx), out);
    return true;
  };

  // Due users' state writes queue behind each other without holding up the next batch's sends
  // (on FerretDB each is a transaction of its own); a failed write stops the run at the next batch.
  let writeError: unknown;
  const flushInBackground = () => {
    if (writeError) throw writeError;
    advancer.flush().catch((err: unknown) => (writeError ??= err));
  };

  async function* tasks(): AsyncGenerator<DeliveryTask[]> {
    if (onePass) {
      // One pass over users to plan and users due (the server reads every user for either query):
      // unplanned users are planned wherever they come in the stream, --max only limits due ones.
      for await (const batch of o.store.pending(now, { batchSize: dueBatch, signal: pipelineSignal })) {
        const out: DeliveryTask[] = [];
        for (const doc of batch) {
          if (hardStop()) break;
          if (isUnplanned(doc, ctx.field)) await handle(doc, decidePlan(doc, ctx), out);
          else if (stopped !== 'max') await takeDue(doc, out);
        }
        flushInBackground();
        if (out.length > 0) yield out;
        if (hardStop()) return;
      }
      return;
    }
    // 1. Plan users without a plan (new users, schedules marked for re-planning), or all under --replan.
    const planning = o.replan ? o.store.scheduled({ batchSize: planningBatch, signal: pipelineSignal }) : o.store.unplanned({ batchSize: planningBatch, signal: pipelineSignal });
    for await (const batch of planning) {
      if (shouldStop()) return;
      const out: DeliveryTask[] = [];
      for (const doc of batch) await handle(doc, decidePlan(doc, ctx, { replan: Boolean(o.replan) }), out);
      await advancer.flush();
      if (out.length > 0) yield out;
    }
    // 2. Due users, by the index, oldest slot first.
    for await (const batch of o.store.due(now, { batchSize: dueBatch, signal: pipelineSignal })) {
      const out: DeliveryTask[] = [];
      for (const doc of batch) {
        if (shouldStop() || !(await takeDue(doc, out))) break;
      }
      flushInBackground();
      if (out.length > 0) yield out;
      if (stopped) return;
    }
  }

  let result: RunResult;
  try {
    result = await runDeliveries({
      tasks: tasks(),
      ledger: advancer.ledger,
      mailer: o.mailer,
      clock: o.clock,
      owner: o.owner,
      scope: SCHEDULE_SCOPE,
      ...opt('concurrency', o.concurrency),
      ...opt('rate', o.rate),
      ...opt('retry', o.retry),
      ...opt('maxErrors', o.maxErrors),
      uncertain: o.uncertain ?? 'resend',
      dryRun,
      signal: pipelineSignal,
      ...opt('progress', o.progress),
    });
  } finally {
    await advancer.flush().catch(() => {});
  }
  await advancer.flush();

  if (leaseLost.aborted) stopped = 'lock-lost';
  else if (result.stopped && result.stopped.reason !== 'signal') stopped = result.stopped.reason;
  else if (result.stopped?.reason === 'signal') stopped = 'signal';

  const record: ScheduleRunRecord = {
    _id: `schedule:${startedAt.toISOString()}:${o.owner}`,
    kind: 'schedule',
    owner: o.owner,
    now,
    startedAt,
    finishedAt: wallNow(),
    dryRun,
    ...stats,
    advanced: advancer.applied(),
    counts: result.counts ?? (zeroCounts() as PipelineCounts),
    problems: [...problems].map(([reason, users]) => ({ reason, users })),
    reads: o.store.reads(),
    dueAccess: access,
  };
  // Where the due query is a scan, so is this one: `mailcron status` answers it when asked.
  if (access === 'index') record.nextDueAt = await o.store.nextDue(now);
  if (stopped) record.stopped = stopped;
  if (!dryRun) await o.store.saveRun(record);
  const out: RunScheduleResult = { record };
  if (stopped === 'lock-lost') {
    out.pipelineStop = {
      reason: 'fatal',
      error: new AbortedError(`${String(leaseLost.reason instanceof Error ? leaseLost.reason.message : leaseLost.reason)}; stopped taking users. Rerun: nothing sent is sent again.`),
    };
  } else if (result.stopped) out.pipelineStop = result.stopped;
  return out;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
