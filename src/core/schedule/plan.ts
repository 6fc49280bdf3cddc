// What to do with one user, decided from the document alone (pure, so unit tests cover every case).
// Two entry points: decidePlan for users that have no plan yet (or for --replan), decideDue for
// users whose `mailcron.nextAt` has come.
import { nextSlot, readSchedule, slotsBetween, type Schedule, type ScheduleDefaults } from './slots.js';
import type { UserScheduleState } from './types.js';
import type { UserDoc } from '../ports.js';

export interface DecideContext {
  /** The run's now: slots at or before it are due. */
  now: Date;
  /** Path of the schedule value in the user document. Default `schedule`. */
  field: string;
  defaults: ScheduleDefaults;
  /** Slots older than now − catchUpMs are recorded missed, not sent. */
  catchUpMs: number;
  /** When to look at an invalid schedule again (a fix made without the re-planning contract is noticed then). */
  recheckMs: number;
  /** Missed slots recorded one by one per user and run; beyond, one record covers the rest. */
  maxMissedRecords: number;
  /** Slots sent per user and run; beyond, the user stays due and the next pass continues. */
  maxSendsPerUser: number;
}

export const DECIDE_DEFAULTS = {
  field: 'schedule',
  recheckMs: 24 * 3_600_000,
  maxMissedRecords: 50,
  maxSendsPerUser: 50,
} as const;

export type Decision =
  /** Nothing to do (unchanged under --replan, or not due after all). */
  | { kind: 'none' }
  /** The user has no schedule (any more): forget the plan. */
  | { kind: 'unplan' }
  /** A valid schedule without a plan, or changed: first slot after now. */
  | { kind: 'plan'; hash: string; nextAt: Date; replanned: boolean }
  /** An invalid schedule (or one that never fires): recorded `skipped` once per value, looked at again at `recheckAt`. */
  | { kind: 'invalid'; hash: string; reason: string; recheckAt: Date; replanned: boolean }
  /** Still the same invalid schedule: look again later, record nothing. */
  | { kind: 'recheck'; nextAt: Date }
  /** Not `active: true`: its slots pass without a send or a record. */
  | { kind: 'inactive'; nextAt: Date }
  /** Due slots: record `missed` the old ones, send the others, then move `nextAt` on. */
  | {
      kind: 'slots';
      schedule: Schedule;
      missed: Date[];
      /** Set when more slots were missed than maxMissedRecords: they are covered by one record. */
      missedRange?: { from: Date; before: Date };
      send: Date[];
      /** The next unhandled slot: after now, or (when capped) the next one to send. */
      nextAt: Date;
      lastSlot: Date;
    };

/** Reads a dotted path (`schedule`, `prefs.schedule`) from a document. */
export function valueAt(doc: UserDoc, path: string): unknown {
  let v: unknown = doc;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** mailcron's state in the document, normalised (missing → null). */
export function stateOf(doc: UserDoc): { nextAt: Date | null; scheduleHash: string | null } {
  const m = (doc.mailcron ?? {}) as UserScheduleState;
  return {
    nextAt: m.nextAt instanceof Date ? m.nextAt : null,
    scheduleHash: typeof m.scheduleHash === 'string' ? m.scheduleHash : null,
  };
}

/**
 * A user to plan: a schedule value and no `mailcron.scheduleHash` (new, or marked for re-planning by
 * the application). What the store's `unplanned` query selects.
 */
export function isUnplanned(doc: UserDoc, field: string): boolean {
  const raw = valueAt(doc, field);
  return stateOf(doc).scheduleHash === null && raw !== undefined && raw !== null;
}

const later = (d: Date, ms: number) => new Date(d.getTime() + ms);

/**
 * A user without a plan (or any user under `--replan`): plan from the first slot strictly after
 * now — a new or changed schedule starts with its next slot, never with past ones.
 */
export function decidePlan(doc: UserDoc, ctx: DecideContext, options: { replan?: boolean } = {}): Decision {
  const raw = valueAt(doc, ctx.field);
  const state = stateOf(doc);
  if (raw === undefined || raw === null) return state.scheduleHash !== null || state.nextAt !== null ? { kind: 'unplan' } : { kind: 'none' };
  const { parsed, hash } = readSchedule(raw, ctx.defaults);
  if (options.replan && hash === state.scheduleHash && state.nextAt !== null) return { kind: 'none' };
  const replanned = state.scheduleHash !== null;
  if (!parsed.ok) return { kind: 'invalid', hash, reason: parsed.reason, recheckAt: later(ctx.now, ctx.recheckMs), replanned };
  const next = nextSlot(parsed.cron, parsed.timezone, ctx.now);
  if (!next) {
    return { kind: 'invalid', hash, reason: `schedule.cron ${JSON.stringify(parsed.cron)} never matches a date`, recheckAt: later(ctx.now, ctx.recheckMs), replanned };
  }
  return { kind: 'plan', hash, nextAt: next, replanned };
}

/** A user read as due (`mailcron.nextAt <= now`). */
export function decideDue(doc: UserDoc, ctx: DecideContext): Decision {
  const raw = valueAt(doc, ctx.field);
  const state = stateOf(doc);
  if (raw === undefined || raw === null) return { kind: 'unplan' };
  const { parsed, hash } = readSchedule(raw, ctx.defaults);
  // Edited since it was planned, without the re-planning contract: plan it afresh rather than
  // send the old schedule's slot.
  if (hash !== state.scheduleHash) return decidePlan(doc, ctx);
  if (!parsed.ok) return { kind: 'recheck', nextAt: later(ctx.now, ctx.recheckMs) };
  if (state.nextAt === null || state.nextAt.getTime() > ctx.now.getTime()) return { kind: 'none' };
  const { cron, timezone } = parsed;
  const afterNow = nextSlot(cron, timezone, ctx.now);
  if (doc.active !== true) return afterNow ? { kind: 'inactive', nextAt: afterNow } : { kind: 'recheck', nextAt: later(ctx.now, ctx.recheckMs) };

  const windowStart = ctx.now.getTime() - ctx.catchUpMs;
  // `nextAt` is itself the first unhandled slot, so enumerate from just before it.
  let cursor = new Date(state.nextAt.getTime() - 1);
  let missed: Date[] = [];
  let missedRange: { from: Date; before: Date } | undefined;
  if (state.nextAt.getTime() < windowStart) {
    const r = slotsBetween(cron, timezone, cursor, new Date(windowStart - 1), ctx.maxMissedRecords);
    missed = r.slots;
    if (r.truncated) {
      const from = nextSlot(cron, timezone, missed[missed.length - 1]!)!;
      missedRange = { from, before: new Date(windowStart) };
      cursor = new Date(windowStart - 1);
    } else if (missed.length > 0) {
      cursor = missed[missed.length - 1]!;
    }
  }
  const s = slotsBetween(cron, timezone, cursor, ctx.now, ctx.maxSendsPerUser);
  const send = s.slots;
  const last = send[send.length - 1] ?? missed[missed.length - 1];
  const nextAt = s.truncated ? nextSlot(cron, timezone, last!)! : afterNow;
  if (!nextAt) return { kind: 'recheck', nextAt: later(ctx.now, ctx.recheckMs) };
  const out: Decision = { kind: 'slots', schedule: { cron, timezone }, missed, send, nextAt, lastSlot: last ?? missedRange?.from ?? state.nextAt };
  if (parsed.template !== undefined) out.schedule.template = parsed.template;
  if (missedRange) out.missedRange = missedRange;
  return out;
}
