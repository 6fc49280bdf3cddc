// The schedule's reads and writes on the users collection and `mailcron_runs`. On MongoDB every
// query here is answered by an index (see indexes.ts, command 'schedule'), so a run reads the due
// users and the unplanned ones, never the whole collection. Where the server has no usable index
// (FerretDB v1 filters and sorts everything in Go after reading every document), each query is a
// full scan: hence one cursor per query, never a query per batch, `pending` to read unplanned and
// due users in one scan, and writes shaped for `_id` lookups (state-writes.ts).
import type { Collection, Db, Document } from 'mongodb';
import { isUnplanned, stateOf } from '../../core/schedule/plan.js';
import type { DueAccess, ScheduleRunRecord, ScheduleStore } from '../../core/schedule/types.js';
import type { UserDoc } from '../../core/ports.js';
import { COLLECTIONS } from './client.js';
import { REQUIRED_INDEXES, type IndexSpec } from './indexes.js';
import { afterCondition, createUserSource } from './user-source.js';
import { planUsesIndexOn, sortedBatches } from './sorted-stream.js';
import { createStateWriter } from './state-writes.js';

const NEXT_AT = 'mailcron.nextAt';
const HASH = 'mailcron.scheduleHash';
const DUE_SORT = { [NEXT_AT]: 1, _id: 1 } as const;

/** The schedule command's indexes, with `schedule` replaced by the configured schedule field. */
export function scheduleIndexes(field: string): IndexSpec[] {
  return REQUIRED_INDEXES.filter((s) => s.command === 'schedule').map((s) => {
    if (!('schedule' in s.key) || field === 'schedule') return s;
    const key: Document = {};
    for (const [k, v] of Object.entries(s.key)) key[k === 'schedule' ? field : k] = v;
    return { ...s, key, name: `${s.name}_${field.replace(/[^A-Za-z0-9]+/g, '_')}` };
  });
}

/** Queries of the schedule, exported so tests can explain them. */
export function scheduleQueries(field: string) {
  const unplanned = { [HASH]: null, [field]: { $ne: null } } as Document;
  const due = (now: Date) => ({ [NEXT_AT]: { $lte: now } }) as Document;
  return {
    /** A schedule value and no fingerprint: `$ne: null` keeps the index bounds tight (no null/missing). */
    unplanned,
    scheduled: { $or: [{ [field]: { $ne: null } }, { [HASH]: { $ne: null } }] } as Document,
    due,
    /** Unplanned or due, for servers that scan for either: one scan instead of two. */
    pending: (now: Date) => ({ $or: [due(now), unplanned] }) as Document,
  };
}

/** Documents after `last` in (nextAt, _id) order; a missing `nextAt` sorts first, as null does. */
export function afterDueKey(last: UserDoc): Document {
  const at = stateOf(last).nextAt;
  if (at === null) return { $or: [{ [NEXT_AT]: { $ne: null } }, { $and: [{ [NEXT_AT]: null }, afterCondition(last._id)] }] };
  return { $or: [{ [NEXT_AT]: { $gt: at } }, { $and: [{ [NEXT_AT]: at }, afterCondition(last._id)] }] };
}

export interface ScheduleStoreOptions {
  /** Path of the schedule in user documents. Default `schedule`. */
  field?: string;
}

export function createMongoScheduleStore(db: Db, users: Collection<Document>, options: ScheduleStoreOptions = {}): ScheduleStore {
  const field = options.field ?? 'schedule';
  const q = scheduleQueries(field);
  const runs = db.collection<ScheduleRunRecord>(COLLECTIONS.runs);
  const reads = { planning: 0, due: 0, replan: 0 };

  async function* counted(source: AsyncIterable<UserDoc[]>, kind: keyof typeof reads | ((doc: UserDoc) => keyof typeof reads)): AsyncGenerator<UserDoc[]> {
    for await (const batch of source) {
      if (typeof kind === 'string') reads[kind] += batch.length;
      else for (const doc of batch) reads[kind(doc)]++;
      yield batch;
    }
  }

  // Set by dueAccess: a server that answers the due query by index answers `_id: {$in}` by index too.
  let indexed = false;
  const writer = createStateWriter(users, { field, indexed: () => indexed });

  return {
    unplanned: ({ batchSize, signal }) => counted(createUserSource(users, q.unplanned).batches({ batchSize, ...(signal ? { signal } : {}) }), 'planning'),
    scheduled: ({ batchSize, signal }) => counted(createUserSource(users, q.scheduled).batches({ batchSize, ...(signal ? { signal } : {}) }), 'replan'),

    // One cursor in (nextAt, _id) order, re-opened after the last key only when the server loses
    // it. Users moved on meanwhile (nextAt > now) leave the index range ahead of the cursor, so none
    // is read twice.
    due: (now, { batchSize, signal }) =>
      counted(sortedBatches(users, { filter: q.due(now), sort: DUE_SORT, after: afterDueKey, batchSize, ...(signal ? { signal } : {}) }), 'due'),

    pending: (now, { batchSize, signal }) =>
      counted(
        sortedBatches(users, { filter: q.pending(now), sort: DUE_SORT, after: afterDueKey, batchSize, ...(signal ? { signal } : {}) }),
        (doc) => (isUnplanned(doc, field) ? 'planning' : 'due'),
      ),

    async dueAccess(now): Promise<DueAccess> {
      try {
        const plan = await users.find(q.due(now), { sort: DUE_SORT, projection: { _id: 1 } }).explain('queryPlanner');
        indexed = planUsesIndexOn(plan, NEXT_AT);
        return indexed ? 'index' : 'scan';
      } catch {
        // No explain (permissions, an odd server): the plain two-query run, correct anywhere.
        return 'index';
      }
    },

    apply: (updates) => writer.apply(updates),

    countDue: (now) => users.countDocuments(q.due(now)),

    async nextDue(now) {
      const doc = await users.findOne({ [NEXT_AT]: { $gt: now } }, { sort: DUE_SORT, projection: { [NEXT_AT]: 1 } });
      const at = (doc?.mailcron as { nextAt?: unknown } | undefined)?.nextAt;
      return at instanceof Date ? at : null;
    },

    async saveRun(run) {
      await runs.insertOne(run);
    },

    async lastRun() {
      return runs.findOne({ kind: 'schedule', dryRun: false }, { sort: { kind: 1, startedAt: -1 } });
    },

    reads: () => ({ ...reads }),
  };
}
