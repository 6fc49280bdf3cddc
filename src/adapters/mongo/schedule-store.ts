// The schedule's reads and writes on the users collection and `mailcron_runs`. Every query here is
// answered by an index (see indexes.ts, command 'schedule'), so a run reads the due users and the
// unplanned ones, never the whole collection.
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db, type Document } from 'mongodb';
import { sleep } from '../../core/clock.js';
import type { ScheduleRunRecord, ScheduleStore, StateUpdate } from '../../core/schedule/types.js';
import type { UserDoc } from '../../core/ports.js';
import { COLLECTIONS } from './client.js';
import { REQUIRED_INDEXES, type IndexSpec } from './indexes.js';
import { afterCondition, createUserSource, isResumableReadError } from './user-source.js';
import { slices } from './bulk.js';

const NEXT_AT = 'mailcron.nextAt';
const HASH = 'mailcron.scheduleHash';

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
  return {
    /** A schedule value and no fingerprint: `$ne: null` keeps the index bounds tight (no null/missing). */
    unplanned: { [HASH]: null, [field]: { $ne: null } } as Document,
    scheduled: { $or: [{ [field]: { $ne: null } }, { [HASH]: { $ne: null } }] } as Document,
    due: (now: Date) => ({ [NEXT_AT]: { $lte: now } }) as Document,
  };
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

  async function* counted(source: AsyncIterable<UserDoc[]>, kind: keyof typeof reads): AsyncGenerator<UserDoc[]> {
    for await (const batch of source) {
      reads[kind] += batch.length;
      yield batch;
    }
  }

  return {
    unplanned: ({ batchSize, signal }) => counted(createUserSource(users, q.unplanned).batches({ batchSize, ...(signal ? { signal } : {}) }), 'planning'),
    scheduled: ({ batchSize, signal }) => counted(createUserSource(users, q.scheduled).batches({ batchSize, ...(signal ? { signal } : {}) }), 'replan'),

    async *due(now, { batchSize, signal }) {
      // A fresh query per batch from the last (nextAt, _id): no cursor to lose while sends are slow,
      // and users moved on meanwhile (nextAt > now) drop out by themselves.
      let last: { at: Date; id: unknown } | undefined;
      let failures = 0;
      for (;;) {
        if (signal?.aborted) return;
        const filter: Document = last
          ? { $and: [q.due(now), { $or: [{ [NEXT_AT]: { $gt: last.at } }, { $and: [{ [NEXT_AT]: last.at }, afterCondition(last.id)] }] }] }
          : q.due(now);
        let docs: Document[];
        try {
          docs = await users.find(filter, { sort: { [NEXT_AT]: 1, _id: 1 }, limit: batchSize }).toArray();
          failures = 0;
        } catch (err) {
          if (!isResumableReadError(err) || failures >= 4) throw err;
          failures++;
          try {
            await sleep(200 * 2 ** (failures - 1), signal);
          } catch {
            return;
          }
          continue;
        }
        if (docs.length === 0) return;
        reads.due += docs.length;
        const tail = docs[docs.length - 1]!;
        last = { at: (tail.mailcron as { nextAt: Date }).nextAt, id: tail._id };
        yield docs as UserDoc[];
        if (docs.length < batchSize) return;
      }
    },

    async apply(updates: StateUpdate[]) {
      if (updates.length === 0) return 0;
      // Users of one schedule at one slot share the same old and new state: one updateMany per
      // group (`_id: {$in}`) instead of one update per user.
      const groups = new Map<string, { ids: unknown[]; u: StateUpdate }>();
      for (const u of updates) {
        const key = JSON.stringify([u.expect, u.set]);
        const g = groups.get(key);
        if (g) g.ids.push(u.userId);
        else groups.set(key, { ids: [u.userId], u });
      }
      const ops = [...groups.values()].map(({ ids, u }): AnyBulkWriteOperation<Document> => {
        const $set: Document = {};
        const $unset: Document = {};
        for (const [k, v] of Object.entries(u.set)) {
          if (v === undefined) continue;
          if (v === null) $unset[`mailcron.${k}`] = '';
          else $set[`mailcron.${k}`] = v;
        }
        const update: Document = {};
        if (Object.keys($set).length) update.$set = $set;
        if (Object.keys($unset).length) update.$unset = $unset;
        // Applied only if mailcron's state is still what the run read: an application that unset
        // `mailcron.scheduleHash` meanwhile (schedule edited) wins, and the user is planned again.
        const state: Document = { [NEXT_AT]: u.expect.nextAt, [HASH]: u.expect.scheduleHash };
        return ids.length === 1
          ? { updateOne: { filter: { _id: ids[0], ...state } as Document, update } }
          : { updateMany: { filter: { _id: { $in: ids }, ...state } as Document, update } };
      });
      let matched = 0;
      // Small commands: FerretDB 1.24 cannot answer large update commands (see bulk.ts).
      for (const slice of slices(ops)) {
        try {
          matched += (await users.bulkWrite(slice, { ordered: false })).matchedCount;
        } catch (err) {
          // One odd document (e.g. `mailcron` that is not an object) must not lose the others' updates.
          if (err instanceof MongoBulkWriteError) matched += err.result.matchedCount;
          else throw err;
        }
      }
      return matched;
    },

    countDue: (now) => users.countDocuments(q.due(now)),

    async nextDue(now) {
      const doc = await users.findOne({ [NEXT_AT]: { $gt: now } }, { sort: { [NEXT_AT]: 1, _id: 1 }, projection: { [NEXT_AT]: 1 } });
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
