// Ports and shared types of `schedule`. MongoDB's implementation is src/adapters/mongo/schedule-store.ts.
import type { PipelineCounts, RenderResult } from '../pipeline/types.js';
import type { UserDoc } from '../ports.js';

/**
 * mailcron's state in the user document, under `mailcron` (the application never writes it,
 * except to unset `mailcron.scheduleHash` when it edits a schedule, see README "Changing a schedule").
 */
export interface UserScheduleState {
  /** The next unhandled slot (or, for an invalid schedule, when to look at it again). Indexed. */
  nextAt?: Date | null;
  /** Fingerprint of the schedule `nextAt` was computed from (scheduleHash). Absent: plan this user. */
  scheduleHash?: string | null;
  /** The last slot handled. */
  lastSlot?: Date;
  plannedAt?: Date;
  /** Why the schedule is not run (invalid expression or zone), while it stays invalid. */
  scheduleError?: string;
}

/**
 * A change to one user's state, applied only if the state is still what the run read
 * (`expect`), so a concurrent edit by the application (which unsets `scheduleHash`) wins.
 * `null` in `set` removes the field.
 */
export interface StateUpdate {
  userId: unknown;
  /**
   * The state as read, and (for updates that plan, i.e. write `scheduleHash`) the schedule value
   * read: an edit of either in the meantime means the plan is stale.
   */
  expect: { nextAt: Date | null; scheduleHash: string | null; schedule?: unknown };
  set: {
    nextAt?: Date | null;
    scheduleHash?: string | null;
    lastSlot?: Date;
    plannedAt?: Date;
    scheduleError?: string | null;
  };
}

/** Users and run records as `schedule` needs them. */
export interface ScheduleStore {
  /** Users with a schedule value and no `mailcron.scheduleHash` (new, or marked for re-planning), in `_id` order. */
  unplanned(options: { batchSize: number; signal?: AbortSignal }): AsyncIterable<UserDoc[]>;
  /** Every user with a schedule value or a `mailcron.scheduleHash`, in `_id` order (`--replan`). */
  scheduled(options: { batchSize: number; signal?: AbortSignal }): AsyncIterable<UserDoc[]>;
  /**
   * Users with `mailcron.nextAt <= now`, ordered by (nextAt, _id): one cursor (by the index where
   * there is one), read a batch at a time.
   */
  due(now: Date, options: { batchSize: number; signal?: AbortSignal }): AsyncIterable<UserDoc[]>;
  /**
   * How the server answers the due query: `index` when its cost follows the due users, `scan` when
   * any such query reads the whole collection (no usable index: FerretDB v1, or the index missing).
   * On `scan`, a run reads unplanned and due users in one pass (`pending`) and skips `nextDue`.
   */
  dueAccess(now: Date): Promise<DueAccess>;
  /**
   * Unplanned users (as `unplanned`) and due users (as `due`) from one query, in (nextAt, _id)
   * order, users without a `nextAt` first: one pass over a collection that is scanned anyway.
   */
  pending(now: Date, options: { batchSize: number; signal?: AbortSignal }): AsyncIterable<UserDoc[]>;
  /**
   * Writes the updates. One that plans (writes `scheduleHash`) does not stand over an edit the
   * application made since the run read the user (`expect`): a later run plans that user again.
   * Others are written whatever the state: they never write `scheduleHash`, so an application that
   * unset it meanwhile still gets the user planned again. Returns how many users were written.
   */
  apply(updates: StateUpdate[]): Promise<number>;
  /** Users due at `now` (index count). */
  countDue(now: Date): Promise<number>;
  /** The earliest `nextAt` after `now`, if any. */
  nextDue(now: Date): Promise<Date | null>;
  saveRun(run: ScheduleRunRecord): Promise<void>;
  lastRun(): Promise<ScheduleRunRecord | null>;
  /** User documents the server returned to this store so far, by query (for `--json` and tests). */
  reads(): { planning: number; due: number; replan: number };
}

export type DueAccess = 'index' | 'scan';

/** The message for a schedule: a template from `--template-dir`, else the run's message flags. */
export interface ScheduleMessages {
  /**
   * The compiled message for a schedule's template name (undefined: the run's flags). `ok: false`
   * (missing file, bad template, no message configured) leaves the user due, so fixing the
   * template in time still sends the slot (within `--catch-up`).
   */
  resolve(template: string | undefined): Promise<ResolvedMessage | { ok: false; reason: string }>;
}

export interface ResolvedMessage {
  ok: true;
  /** Template name, or `flags` for the run's message flags (kept in the ledger record). */
  name: string;
  render(user: UserDoc, messageId: string): RenderResult;
}

export type ScheduleStopReason = 'signal' | 'fatal' | 'max-errors' | 'lock-lost' | 'max-runtime' | 'max';

/** What one run did (saved in `mailcron_runs` and printed by the CLI). */
export interface ScheduleRunRecord {
  _id: string;
  kind: 'schedule';
  owner: string;
  /** The run's "now" (`--now` or the clock at start): slots at or before it were due. */
  now: Date;
  startedAt: Date;
  finishedAt: Date;
  dryRun: boolean;
  /** Users given a first `nextAt` (new or re-planned schedules). */
  planned: number;
  /** Users whose schedule had changed since it was planned (found when due or by --replan). */
  replanned: number;
  /** Users whose schedule is invalid (recorded `skipped` with the reason once per schedule value). */
  invalid: number;
  /** Users read as due. */
  dueUsers: number;
  /** Due users left due because their message could not be prepared (see problems). */
  deferred: number;
  /** Users whose `nextAt` moved on. */
  advanced: number;
  counts: PipelineCounts;
  problems: { reason: string; users: number }[];
  stopped?: ScheduleStopReason;
  /**
   * Earliest `nextAt` after the run's now, when the run ended. Absent when only a scan of every
   * user could tell (dueAccess `scan`): `mailcron status` looks it up.
   */
  nextDueAt?: Date | null;
  /** How the server answers the due query (see ScheduleStore.dueAccess). Absent in records of older versions. */
  dueAccess?: DueAccess;
  reads: { planning: number; due: number; replan: number };
}
