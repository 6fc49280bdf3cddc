// The delivery ledger over two append-mostly collections:
// - `mailcron_claims`: one claim per delivery key, inserted before the send. The unique `_id` is
//   the lock: of several runs inserting a key, exactly one gets it. Takeovers (a dead run's claim,
//   the retry of a transient failure) update it and raise its `gen`.
// - `mailcron_deliveries`: one record per (message, user) with the outcome, inserted after the
//   send with everything the claim carried. Only a retried or taken-over delivery that already has
//   a record updates it.
// A key is in flight ("claimed") while it has a claim and no record, or its claim's `gen` is newer
// than its record's (a retry under way). So the hot path is two bulk inserts per delivery and no
// update: on FerretDB v1 every update or delete statement is its own SQLite transaction, about
// 0.5 ms of server CPU each, against ~35 µs per inserted document (see bench/README.md). On
// MongoDB an insert is also cheaper than an update that rewrites an indexed status.
//
// Only standard operations: no transactions, so it runs on MongoDB 5–8, Atlas and FerretDB. Reads
// and updates filter on `_id` alone (FerretDB v1 uses no other index, and `$in` scans): the
// broadcast lease / schedule lock, held by the only run working on a scope, guards takeovers.
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db, type Document } from 'mongodb';
import type { ClaimRequest, ClaimResult, DeliveryOutcome, DeliveryRecord, Ledger } from '../../core/ledger/ledger.js';
import { COLLECTIONS } from './client.js';
import { slices } from './bulk.js';
import { summarizeScope } from './ledger-summary.js';

/**
 * One document of `mailcron_claims`: what a claim request carries, who holds it, and `gen`, the
 * takeovers and retries so far (the record written after the send carries the same number).
 */
export type ClaimDoc = Document &
  Pick<DeliveryRecord, '_id' | 'scope' | 'userId' | 'email' | 'slot' | 'messageId' | 'data' | 'claimedBy' | 'claimedAt' | 'uncertain'> & { gen: number };

type Rec = DeliveryRecord & Document;
type Final = Pick<Rec, '_id' | 'status' | 'transient' | 'gen' | 'claimedBy' | 'attempts'>;

export interface LedgerCollections {
  claims?: string;
  deliveries?: string;
}

/** Indexes of the duplicates in an unordered insertMany; any other write error is rethrown. */
function duplicateIndexes(err: unknown, count: number): number[] {
  if (err instanceof MongoBulkWriteError) {
    const raw = err.writeErrors as unknown;
    const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Array<{ code?: number; index: number }>;
    if (list.length === 0 && err.code === 11000 && count === 1) return [0];
    if (list.some((w) => w.code !== 11000)) throw err;
    return list.map((w) => w.index);
  }
  if ((err as { code?: unknown })?.code === 11000 && count === 1) return [0];
  throw err;
}

async function insertNew<T extends Document>(col: Collection<T>, docs: T[]): Promise<number[]> {
  if (docs.length === 0) return [];
  try {
    await col.insertMany(docs as never, { ordered: false });
    return [];
  } catch (err) {
    return duplicateIndexes(err, docs.length);
  }
}

/** Whether a key with this claim and record is still in flight (no outcome for its latest claim). */
function inFlight(claim: Pick<ClaimDoc, 'gen'>, rec: Pick<Rec, 'gen'> | null): boolean {
  return !rec || (claim.gen ?? 0) > (rec.gen ?? 0);
}

/** The record of an outcome: the claim's fields plus what happened. */
function recordOf(o: Exclude<DeliveryOutcome, { kind: 'release' }>, c: ClaimDoc): Rec {
  const { _id, scope, userId, email, slot, messageId, data, claimedBy, claimedAt, gen } = c;
  const rec: Rec = { _id, scope, userId, status: o.kind, attempts: o.attempts ?? 0, claimedBy, claimedAt, gen: gen ?? 0, updatedAt: o.at };
  if (email !== undefined) rec.email = email;
  if (slot !== undefined) rec.slot = slot;
  if (messageId !== undefined) rec.messageId = messageId;
  if (data !== undefined) rec.data = data;
  if (o.uncertain || c.uncertain) rec.uncertain = true;
  if (o.kind === 'sent') {
    rec.sentAt = o.at;
    rec.messageId = o.messageId;
    if (o.response !== undefined) rec.response = o.response;
  } else if (o.kind === 'failed') {
    rec.transient = o.transient;
    rec.lastError = o.error;
  } else {
    rec.reason = o.reason;
  }
  return rec;
}

/** Rewrites an existing record with a new outcome, adding this run's attempts to the earlier ones. */
function overwrite(rec: Rec): AnyBulkWriteOperation<Rec> {
  const { _id, attempts, ...fields } = rec;
  const stale = ['sentAt', 'response', 'transient', 'lastError', 'reason'].filter((f) => !(f in fields));
  const update: Document = { $set: fields, $inc: { attempts } };
  if (stale.length) update.$unset = Object.fromEntries(stale.map((f) => [f, '']));
  return { updateOne: { filter: { _id }, update, upsert: true } };
}

export function createMongoLedger(db: Db, names: LedgerCollections = {}): Ledger {
  const claims: Collection<ClaimDoc> = db.collection<ClaimDoc>(names.claims ?? COLLECTIONS.claims);
  const deliveries: Collection<Rec> = db.collection<Rec>(names.deliveries ?? COLLECTIONS.deliveries);
  // Claims this ledger holds and has not recorded yet, so a record is built without reading the
  // claim back. Bounded by what the pipeline has in flight (a claim chunk plus the send queue).
  const held = new Map<string, ClaimDoc>();

  const finalOf = (key: string) => deliveries.findOne({ _id: key }, { projection: { status: 1, transient: 1, gen: 1, claimedBy: 1, attempts: 1 } }) as Promise<Final | null>;

  const claim = async (requests: ClaimRequest[], owner: string, now: Date): Promise<ClaimResult[]> => {
    if (requests.length === 0) return [];
    const docs = requests.map((r) => {
      const d: ClaimDoc = { _id: r.key, scope: r.scope, userId: r.userId, claimedBy: owner, claimedAt: now, gen: 0 };
      if (r.email !== undefined) d.email = r.email;
      if (r.slot !== undefined) d.slot = r.slot;
      if (r.messageId !== undefined) d.messageId = r.messageId;
      if (r.data !== undefined) d.data = r.data;
      return d;
    });
    const dups = new Set(await insertNew(claims, docs));
    const results: ClaimResult[] = requests.map((r) => ({ key: r.key, outcome: 'new' }));
    docs.forEach((d, i) => dups.has(i) || held.set(d._id, d));
    if (dups.size === 0) return results;

    // Bounded by the claim chunk: the claim and the record of each duplicate, read in parallel.
    const seen = await Promise.all([...dups].map(async (i) => ({ i, c: await claims.findOne({ _id: requests[i]!.key }), rec: await finalOf(requests[i]!.key) })));
    const ops: AnyBulkWriteOperation<ClaimDoc>[] = [];
    // Takes a claim over for this run (a dead run's, or a transient failure's for its retry): one
    // more generation, so the record written after the send supersedes the old one.
    const takeOver = (c: ClaimDoc, set: Pick<ClaimDoc, 'claimedBy' | 'claimedAt' | 'uncertain'>) => {
      ops.push({ updateOne: { filter: { _id: c._id }, update: { $set: set, $inc: { gen: 1 } } } });
      held.set(c._id, { ...c, ...set, gen: (c.gen ?? 0) + 1 });
    };
    for (const { i, c, rec } of seen) {
      const key = requests[i]!.key;
      if (!c) {
        // Given back (deleted) between the insert and the read: one more insert decides it.
        results[i] = rec ? decideFinal(rec) : (await claim([requests[i]!], owner, now))[0]!;
        continue;
      }
      const attempts = rec?.attempts ?? 0;
      if (inFlight(c, rec)) {
        if (c.claimedBy === owner) {
          results[i] = { key, outcome: 'busy', owner };
          continue;
        }
        // Left in flight by a run that died: the caller's exclusive lease makes it ours to decide.
        results[i] = { key, outcome: 'uncertain', attempts, previousOwner: c.claimedBy };
        takeOver(c, { claimedBy: owner, claimedAt: now, uncertain: true });
        continue;
      }
      const decided = decideFinal(rec!);
      results[i] = decided;
      if (decided.outcome === 'retry') takeOver(c, { claimedBy: owner, claimedAt: now });
    }
    // FerretDB v1.24 cannot answer large update commands: write in slices (see bulk.ts).
    for (const slice of slices(ops)) await claims.bulkWrite(slice, { ordered: false });
    return results;
  };

  function decideFinal(rec: Final): ClaimResult {
    if (rec.status === 'failed' && rec.transient) return { key: rec._id, outcome: 'retry', attempts: rec.attempts ?? 0 };
    return { key: rec._id, outcome: 'done', status: rec.status as Exclude<Rec['status'], 'claimed'> };
  }

  return {
    claim,

    async record(outcomes: DeliveryOutcome[]): Promise<void> {
      const fresh: Rec[] = [];
      const rewrites: AnyBulkWriteOperation<Rec>[] = [];
      const claimOps: AnyBulkWriteOperation<ClaimDoc>[] = [];
      const missing = outcomes.filter((o) => !held.has(o.key)).map((o) => o.key);
      // Outcomes for claims made by another ledger object (rare): read those claims back, in parallel
      // within one recorder batch.
      const fetched = new Map((await Promise.all(missing.map(async (k) => [k, await claims.findOne({ _id: k })] as const))).filter(([, c]) => c));
      for (const o of outcomes) {
        const c = held.get(o.key) ?? fetched.get(o.key);
        held.delete(o.key);
        if (o.kind === 'release') {
          if (o.restore === 'delete') claimOps.push({ deleteOne: { filter: { _id: o.key } } });
          // A reclaimed transient failure goes back to `failed`: its record says so already once
          // the record's `gen` catches up with the claim's.
          else if (o.restore === 'failed' && c) rewrites.push({ updateOne: { filter: { _id: o.key }, update: { $set: { gen: c.gen } } } });
          continue;
        }
        if (!c) continue; // never claimed: nothing to record against
        const rec = recordOf(o, c);
        if ((c.gen ?? 0) > 0) rewrites.push(overwrite(rec));
        else fresh.push(rec);
      }
      for (const i of await insertNew(deliveries, fresh)) rewrites.push(overwrite(fresh[i]!));
      for (const slice of slices(rewrites)) await deliveries.bulkWrite(slice, { ordered: false });
      for (const slice of slices(claimOps)) await claims.bulkWrite(slice, { ordered: false });
    },

    async lookup(keys: string[]) {
      const out = new Map<string, Pick<DeliveryRecord, 'status' | 'transient' | 'claimedBy'>>();
      const found = await Promise.all(keys.map(async (k) => ({ k, c: await claims.findOne({ _id: k }, { projection: { gen: 1, claimedBy: 1 } }), rec: await finalOf(k) })));
      for (const { k, c, rec } of found) {
        if (c && inFlight(c, rec)) out.set(k, { status: 'claimed', claimedBy: c.claimedBy });
        else if (rec) out.set(k, { status: rec.status, transient: rec.transient, claimedBy: rec.claimedBy });
      }
      return out;
    },

    summarize: (scope, options) => summarizeScope({ claims, deliveries }, scope, options),
  };
}
