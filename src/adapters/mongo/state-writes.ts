// Writes of mailcron's state into user documents (`ScheduleStore.apply`), shaped so that no
// statement reads the whole collection where it can be helped. FerretDB v1 finds a document by
// index only for a filter that is exactly `{_id: <string or ObjectId>}`; any other filter — more
// keys, `$in`, a numeric `_id` — is a full scan per statement there (per statement, not per
// command). On MongoDB every shape below is an `_id` index lookup.
//
// An update that plans a user (writes `scheduleHash`) must not be applied over an edit the
// application made since the run read the user: the edit wins and the user is planned again.
// - Compare-and-set where it costs nothing: on a server with usable indexes, and for `_id`s that
//   FerretDB scans for anyway, the filter carries the state and schedule value as read, grouped
//   into one `$in` statement per distinct (expected, new) state.
// - String and ObjectId `_id`s on a server without usable indexes: `updateOne({_id})`, then each
//   user is read back by `_id`; one whose schedule is no longer the one planned from gets its
//   `scheduleHash` unset again.
// Other updates never write `scheduleHash`, so an application that unset it meanwhile (the
// re-planning contract) still gets the user planned again: they go by `_id` (one statement per
// string/ObjectId user, one `$in` statement per distinct update for the others).
import { BSON, MongoBulkWriteError, MongoServerError, type AnyBulkWriteOperation, type Collection, type Document } from 'mongodb';
import { valueAt } from '../../core/schedule/plan.js';
import type { StateUpdate } from '../../core/schedule/types.js';
import type { UserDoc } from '../../core/ports.js';
import { slices } from './bulk.js';

const NEXT_AT = 'mailcron.nextAt';
const HASH = 'mailcron.scheduleHash';
/** `_id`s per `$in` (statement size stays small; one scan each on FerretDB). */
const IN_LIMIT = 500;
/** findOne calls in flight when reading planned users back one by one. */
const READS_IN_FLIGHT = 16;

/** An `_id` FerretDB v1 finds by index (see the file comment). */
export function keyedId(id: unknown): boolean {
  return typeof id === 'string' || (id as { _bsontype?: unknown } | null)?._bsontype === 'ObjectId';
}

/** `$set`/`$unset` of mailcron's fields (`null` removes one). */
export function stateUpdate(set: StateUpdate['set']): Document {
  const $set: Document = {};
  const $unset: Document = {};
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined) continue;
    if (v === null) $unset[`mailcron.${k}`] = '';
    else $set[`mailcron.${k}`] = v;
  }
  const update: Document = {};
  if (Object.keys($set).length) update.$set = $set;
  if (Object.keys($unset).length) update.$unset = $unset;
  return update;
}

/** Same BSON value (how a schedule value read twice is compared). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null);
  return Buffer.compare(BSON.serialize({ v: a }), BSON.serialize({ v: b })) === 0;
}

interface Write {
  ids: unknown[];
  update: Document;
  /** Compare-and-set: what the users must still hold for the update to apply. */
  cond?: Document;
}

export interface StateWriterOptions {
  /** Path of the schedule in user documents. */
  field: string;
  /**
   * True once the server is known to answer queries by its secondary indexes (MongoDB): then a
   * compare-and-set filter is an index lookup as well. False (the default) is right anywhere.
   */
  indexed: () => boolean;
}

export function createStateWriter(users: Collection<Document>, o: StateWriterOptions) {
  const filterOf = (ids: unknown[], cond?: Document): Document => ({ _id: ids.length === 1 ? ids[0] : { $in: ids }, ...cond });
  const statement = (w: Write): AnyBulkWriteOperation<Document> =>
    w.ids.length === 1 ? { updateOne: { filter: filterOf(w.ids, w.cond), update: w.update } } : { updateMany: { filter: filterOf(w.ids, w.cond), update: w.update } };

  /** Applies the writes in small bulk commands; returns how many users matched. */
  const run = async (writes: Write[]): Promise<number> => {
    let matched = 0;
    // Small commands: FerretDB 1.24 cannot answer large update commands (see bulk.ts).
    for (const slice of slices(writes)) {
      try {
        matched += (await users.bulkWrite(slice.map(statement), { ordered: false })).matchedCount;
      } catch (err) {
        if (!(err instanceof MongoBulkWriteError)) throw err;
        // One odd document (e.g. `mailcron` that is not an object) must not lose the others'
        // updates, and FerretDB stops at the first error whatever `ordered` says: the slice again,
        // one user at a time (setting the same values twice is harmless).
        for (const w of slice) {
          for (const id of w.ids) {
            try {
              matched += (await users.updateOne(filterOf([id], w.cond), w.update)).matchedCount;
            } catch (e) {
              if (!(e instanceof MongoServerError)) throw e;
            }
          }
        }
      }
    }
    return matched;
  };

  /** One write per string/ObjectId user (unless `group`), one per distinct update and condition for the others. */
  const shape = (items: { id: unknown; update: Document; cond?: Document }[], group = false): Write[] => {
    const writes: Write[] = [];
    const grouped = new Map<string, Write>();
    for (const { id, update, cond } of items) {
      if (!group && keyedId(id)) {
        writes.push({ ids: [id], update, ...(cond ? { cond } : {}) });
        continue;
      }
      const key = JSON.stringify([update, cond ?? null]);
      let w = grouped.get(key);
      if (!w || w.ids.length >= IN_LIMIT) {
        w = { ids: [], update, ...(cond ? { cond } : {}) };
        grouped.set(key, w);
        writes.push(w);
      }
      w.ids.push(id);
    }
    return writes;
  };

  /** The state and schedule value the user must still hold (compare-and-set). */
  const expected = (e: StateUpdate['expect']): Document => ({
    [NEXT_AT]: e.nextAt,
    [HASH]: e.scheduleHash,
    ...('schedule' in e ? { [o.field]: e.schedule } : {}),
  });

  /** Writes by `_id`, then reads each user back: a schedule edited meanwhile gets its hash unset. */
  const writeThenCheck = async (plans: StateUpdate[]): Promise<number> => {
    await run(shape(plans.map((u) => ({ id: u.userId, update: stateUpdate(u.set) }))));
    const projection = { [o.field]: 1, mailcron: 1 };
    let matched = 0;
    const stale: unknown[] = [];
    for (let i = 0; i < plans.length; i += READS_IN_FLIGHT) {
      const part = plans.slice(i, i + READS_IN_FLIGHT);
      const docs = await Promise.all(part.map((u) => users.findOne({ _id: u.userId } as Document, { projection })));
      part.forEach((u, k) => {
        const doc = docs[k] as UserDoc | null;
        if (!doc) return; // deleted meanwhile
        if ('schedule' in u.expect && !sameValue(valueAt(doc, o.field), u.expect.schedule)) stale.push(u.userId);
        else if ((doc.mailcron as { scheduleHash?: unknown } | undefined)?.scheduleHash === u.set.scheduleHash) matched++;
      });
    }
    if (stale.length > 0) await run(shape(stale.map((id) => ({ id, update: { $unset: { [HASH]: '' } } }))));
    return matched;
  };

  return {
    /** See ScheduleStore.apply. */
    async apply(updates: StateUpdate[]): Promise<number> {
      if (updates.length === 0) return 0;
      const plans = updates.filter((u) => typeof u.set.scheduleHash === 'string');
      const others = updates.filter((u) => typeof u.set.scheduleHash !== 'string');
      let matched = await run(shape(others.map((u) => ({ id: u.userId, update: stateUpdate(u.set) }))));
      const checked = o.indexed() ? [] : plans.filter((u) => keyedId(u.userId));
      const cas = o.indexed() ? plans : plans.filter((u) => !keyedId(u.userId));
      matched += await run(shape(cas.map((u) => ({ id: u.userId, update: stateUpdate(u.set), cond: expected(u.expect) })), true));
      if (checked.length > 0) matched += await writeThenCheck(checked);
      return matched;
    },
  };
}
