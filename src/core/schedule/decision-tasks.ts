// What one decision (plan.ts) becomes: delivery tasks for the pipeline, keyed in the ledger by
// user and slot, and the state change to write once their outcomes are recorded (advance.ts).
import { userKey } from '../ledger/keys.js';
import { makeMessageId } from '../message/index.js';
import type { DeliveryTask } from '../pipeline/types.js';
import type { UserDoc } from '../ports.js';
import type { Advancer } from './advance.js';
import { stateOf, valueAt, type DecideContext, type Decision } from './plan.js';
import type { ResolvedMessage, ScheduleMessages, StateUpdate } from './types.js';

/** Counters a run reports (ScheduleRunRecord), updated as decisions are handled. */
export interface DecisionStats {
  planned: number;
  replanned: number;
  invalid: number;
  dueUsers: number;
  deferred: number;
}

export interface DecisionHandlerOptions {
  ctx: DecideContext;
  advancer: Advancer;
  messages: ScheduleMessages;
  /** Sender address (for Message-IDs). */
  from: string;
  stats: DecisionStats;
  /** Why users were left due (message problems), with how many. */
  problems: Map<string, number>;
}

const email = (doc: UserDoc) => (typeof doc.email === 'string' ? doc.email : undefined);
const fmtDuration = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/** Returns `handle(doc, decision, out)`, which appends the decision's tasks to `out`. */
export function createDecisionHandler({ ctx, advancer, messages, from: sender, stats, problems }: DecisionHandlerOptions) {
  const { now } = ctx;
  // An update that plans carries the schedule value it planned from: an edit meanwhile makes it stale.
  const updateFor = (doc: UserDoc, set: StateUpdate['set']): StateUpdate => ({
    userId: doc._id,
    expect: typeof set.scheduleHash === 'string' ? { ...stateOf(doc), schedule: valueAt(doc, ctx.field) } : stateOf(doc),
    set,
  });

  /** Tasks and state changes for one decision. */
  return async function handle(doc: UserDoc, d: Decision, out: DeliveryTask[]): Promise<void> {
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
        out.push({ key, userId: doc._id, ...opt('email', email(doc)), messageId: makeMessageId(key, sender), record: { status: 'skipped', reason: d.reason } });
        return advancer.track([{ key }], updateFor(doc, { nextAt: d.recheckAt, scheduleHash: d.hash, plannedAt: now, scheduleError: d.reason }));
      }
      case 'recheck':
      case 'inactive':
        return advancer.track([], updateFor(doc, { nextAt: d.nextAt }));
      case 'slots': {
        let message: ResolvedMessage | undefined;
        if (d.send.length > 0) {
          const resolved = await messages.resolve(d.schedule.template);
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
          out.push({ key, userId: doc._id, ...opt('email', email(doc)), slot, messageId: makeMessageId(key, sender), record: { status: 'missed', reason: missedReason } });
          keys.push({ key, slot });
        }
        if (d.missedRange) {
          const { from, before } = d.missedRange;
          const key = `s:${uk}:${from.toISOString()}/${before.toISOString()}`;
          const reason = `${missedReason}: every slot from ${from.toISOString()} to before ${before.toISOString()} (too many to record one by one)`;
          out.push({ key, userId: doc._id, ...opt('email', email(doc)), slot: from, messageId: makeMessageId(key, sender), record: { status: 'missed', reason } });
          keys.push({ key, slot: from });
        }
        for (const slot of d.send) {
          const key = `s:${uk}:${slot.toISOString()}`;
          const messageId = makeMessageId(key, sender);
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
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
