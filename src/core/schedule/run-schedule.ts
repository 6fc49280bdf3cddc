// One `schedule` run: take the lock, plan users that have no plan, read the due users by the
// `mailcron.nextAt` index, turn their due slots into ledger-keyed tasks for the delivery pipeline
// (sent, or recorded `missed` when older than --catch-up), and move `nextAt` on once the ledger
// holds the outcomes. The cost of a run follows the due users, not the user base.
import { AbortedError } from '../errors.js';
import { userKey } from '../ledger/keys.js';
import type { Ledger } from '../ledger/ledger.js';
import { makeMessageId } from '../message/index.js';
import { runDeliveries, zeroCounts } from '../pipeline/run-deliveries.js';
import type { DeliveryTask, DeliveryTuning, PipelineCounts, RunResult } from '../pipeline/types.js';
import type { Clock, Mailer, ProgressSink, UserDoc } from '../ports.js';
import { createAdvancer } from './advance.js';
import { acquireLease, DEFAULT_LOCK_TTL_MS, type LeaseStore } from './lock.js';
import { DECIDE_DEFAULTS, decideDue, decidePlan, stateOf, type DecideContext, type Decision } from './plan.js';
import type { ScheduleDefaults } from './slots.js';
import type { ResolvedMessage, ScheduleMessages, ScheduleRunRecord, ScheduleStopReason, ScheduleStore, StateUpdate } from './types.js';

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

const email = (doc: UserDoc) => (typeof doc.email === 'string' ? doc.email : undefined);
const fmtDuration = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

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

  const shouldStop = (): boolean => {
    if (stopped) return true;
    if (leaseLost.aborted) stopped = 'lock-lost';
    else if (o.signal?.aborted) stopped = 'signal';
    else if (o.maxRuntimeMs !== undefined && wallNow().getTime() - startedAt.getTime() >= o.maxRuntimeMs) stopped = 'max-runtime';
    return stopped !== undefined;
  };

  const updateFor = (doc: UserDoc, set: StateUpdate['set']): StateUpdate => ({ userId: doc._id, expect: stateOf(doc), set });

  /** Tasks and state changes for one decision. */
  const handle = async (doc: UserDoc, d: Decision, out: DeliveryTask[]): Promise<void> => {
    const uk = userKey(doc._id);
    switch (d.kind) {
      case 'none':
        return;
      case 'unplan':
        return advancer.track([], updateFor(doc, { nextAt: null, scheduleHash: null, scheduleError: null }));
      case 'plan':
        stats.planned++;
        if (d.replanned) stats.replanned++;
        return advancer.track([], updateFor(doc, { nextAt: d.nextAt, scheduleHash: d.hash, plannedAt: now, scheduleError: null }));
      case 'invalid': {
        stats.invalid++;
        if (d.replanned) stats.replanned++;
        const key = `s:${uk}:invalid:${d.hash}`;
        out.push({ key, userId: doc._id, ...opt('email', email(doc)), messageId: makeMessageId(key, o.from), record: { status: 'skipped', reason: d.reason } });
        return advancer.track([{ key }], updateFor(doc, { nextAt: d.recheckAt, scheduleHash: d.hash, plannedAt: now, scheduleError: d.reason }));
      }
      case 'recheck':
      case 'inactive':
        return advancer.track([], updateFor(doc, { nextAt: d.nextAt }));
      case 'slots': {
        let message: ResolvedMessage | undefined;
        if (d.send.length > 0) {
          const resolved = await o.messages.resolve(d.schedule.template);
          if (!resolved.ok) {
            stats.deferred++;
            problems.set(resolved.reason, (problems.get(resolved.reason) ?? 0) + 1);
            return;
          }
          message = resolved;
        }
        const keys: { key: string; slot?: Date }[] = [];
        const missedReason = `older than --catch-up ${fmtDuration(ctx.catchUpMs)} at ${now.toISOString()}`;
        for (const slot of d.missed) {
          const key = `s:${uk}:${slot.toISOString()}`;
          out.push({ key, userId: doc._id, ...opt('email', email(doc)), slot, messageId: makeMessageId(key, o.from), record: { status: 'missed', reason: missedReason } });
          keys.push({ key, slot });
        }
        if (d.missedRange) {
          const { from, before } = d.missedRange;
          const key = `s:${uk}:${from.toISOString()}/${before.toISOString()}`;
          const reason = `${missedReason}: every slot from ${from.toISOString()} to before ${before.toISOString()} (too many to record one by one)`;
          out.push({ key, userId: doc._id, ...opt('email', email(doc)), slot: from, messageId: makeMessageId(key, o.from), record: { status: 'missed', reason } });
          keys.push({ key, slot: from });
        }
        for (const slot of d.send) {
          const key = `s:${uk}:${slot.toISOString()}`;
          const messageId = makeMessageId(key, o.from);
          const m = message!;
          out.push({
            key,
            userId: doc._id,
            ...opt('email', email(doc)),
            slot,
            messageId,
            data: { template: m.name, timezone: d.schedule.timezone },
            render: () => m.render(doc, messageId),
          });
          keys.push({ key, slot });
        }
        return advancer.track(keys, updateFor(doc, { nextAt: d.nextAt, lastSlot: d.lastSlot }));
      }
    }
  };

  const planningBatch = o.batchSize?.planning ?? 500;
  const dueBatch = o.batchSize?.due ?? 250;

  async function* tasks(): AsyncGenerator<DeliveryTask[]> {
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
        if (shouldStop()) break;
        if (o.maxUsers !== undefined && stats.dueUsers >= o.maxUsers) {
          stopped = 'max';
          break;
        }
        stats.dueUsers++;
        await handle(doc, decideDue(doc, ctx), out);
      }
      await advancer.flush();
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
    nextDueAt: await o.store.nextDue(now),
    reads: o.store.reads(),
  };
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
