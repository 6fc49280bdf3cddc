// The delivery ledger over `mailcron_deliveries`. Claims are one unordered insertMany (the unique
// `_id` is the lock: of several runs inserting a key, exactly one gets it); duplicates are read
// back and decided, and records a dead run left claimed, or a transient failure, are taken over.
// Only standard operations: no transactions, so it runs on MongoDB 5–8, Atlas and FerretDB.
//
// Shapes chosen for FerretDB v1 (the test server), harmless on MongoDB: it uses the `_id` index
// only for a plain `{_id: value}` filter — `$in` scans the collection, and inside a multi-statement
// bulk write so does `{_id, status, …}`. So records are read back with bounded parallel findOne
// calls and every update filters on `_id` alone: the broadcast lease / schedule lock (held by the
// only run working on a scope) is what guards takeovers and outcome writes.
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db, type Document } from 'mongodb';
import type { ClaimRequest, ClaimResult, DeliveryOutcome, DeliveryRecord, Ledger, LedgerSummary } from '../../core/ledger/ledger.js';
import { COLLECTIONS } from './client.js';
import { slices } from './bulk.js';

type Rec = DeliveryRecord & Document & { gen?: number };


function duplicateIndexes(err: unknown, count: number): number[] {
  if (err instanceof MongoBulkWriteError) {
    const raw = err.writeErrors as unknown;
    const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Array<{ code?: number; index: number; errmsg?: string }>;
    if (list.length === 0 && err.code === 11000 && count === 1) return [0];
    const other = list.find((w) => w.code !== 11000);
    if (other) throw err;
    return list.map((w) => w.index);
  }
  if ((err as { code?: unknown })?.code === 11000 && count === 1) return [0];
  throw err;
}

export function createMongoLedger(db: Db, collectionName: string = COLLECTIONS.deliveries): Ledger {
  const col: Collection<Rec> = db.collection<Rec>(collectionName);

  const claim = async (requests: ClaimRequest[], owner: string, now: Date): Promise<ClaimResult[]> => {
      if (requests.length === 0) return [];
      const docs = requests.map((r) => {
        const d: Rec = { _id: r.key, scope: r.scope, userId: r.userId, status: 'claimed', attempts: 0, claimedBy: owner, claimedAt: now, updatedAt: now };
        if (r.email !== undefined) d.email = r.email;
        if (r.slot !== undefined) d.slot = r.slot;
        if (r.messageId !== undefined) d.messageId = r.messageId;
        if (r.data !== undefined) d.data = r.data;
        return d;
      });
      let dups: number[] = [];
      try {
        await col.insertMany(docs, { ordered: false });
      } catch (err) {
        dups = duplicateIndexes(err, docs.length);
      }
      const results: ClaimResult[] = requests.map((r) => ({ key: r.key, outcome: 'new' }));
      if (dups.length === 0) return results;

      // Bounded by the claim chunk: one findOne per duplicate, in parallel.
      const existing = await Promise.all(dups.map((i) => col.findOne({ _id: requests[i]!.key })));
      const candidates: Array<{ i: number; rec: Rec; takeover: boolean }> = [];
      for (const [n, i] of dups.entries()) {
        const key = requests[i]!.key;
        const rec = existing[n];
        if (!rec) {
          // Deleted between the insert and the read (a released claim): one more insert decides it.
          results[i] = (await claim([requests[i]!], owner, now))[0]!;
        } else if (rec.status === 'claimed' && rec.claimedBy === owner) {
          results[i] = { key, outcome: 'busy', owner };
        } else if (rec.status === 'claimed' || (rec.status === 'failed' && rec.transient)) {
          candidates.push({ i, rec, takeover: rec.status === 'claimed' });
        } else {
          results[i] = { key, outcome: 'done', status: rec.status as Exclude<typeof rec.status, 'claimed'> };
        }
      }
      if (candidates.length === 0) return results;

      // Taken over with `_id`-only updates: the caller's exclusive lease on the scope (broadcast
      // lease, schedule lock) is what makes this run the only one deciding them. A compare-and-set
      // on {_id, status, claimedBy} would be a full collection scan per record on FerretDB, and a
      // takeover token would block the record for good if its taker died between two writes.
      // `gen` counts takeovers and retries, so `status` and tests can bound resends.
      const ops: AnyBulkWriteOperation<Rec>[] = [];
      for (const { i, rec, takeover } of candidates) {
        const key = requests[i]!.key;
        const set: Document = { status: 'claimed', claimedBy: owner, claimedAt: now, updatedAt: now };
        if (takeover) set.uncertain = true;
        ops.push({ updateOne: { filter: { _id: key }, update: { $set: set, $inc: { gen: 1 } } } });
        results[i] = takeover
          ? { key, outcome: 'uncertain', attempts: rec.attempts ?? 0, previousOwner: rec.claimedBy }
          : { key, outcome: 'retry', attempts: rec.attempts ?? 0 };
      }
      for (const slice of slices(ops)) await col.bulkWrite(slice, { ordered: false });
      return results;
  };

  return {
    claim,

    async record(outcomes: DeliveryOutcome[]): Promise<void> {
      const ops: AnyBulkWriteOperation<Rec>[] = [];
      for (const o of outcomes) {
        const filter = { _id: o.key };
        if (o.kind === 'release') {
          if (o.restore === 'delete') ops.push({ deleteOne: { filter } });
          else if (o.restore === 'failed') ops.push({ updateOne: { filter, update: { $set: { status: 'failed', transient: true } } } });
          continue;
        }
        const set: Document = { status: o.kind, updatedAt: o.at };
        if (o.uncertain) set.uncertain = true;
        const update: Document = { $set: set };
        if (o.kind === 'sent') {
          set.sentAt = o.at;
          set.messageId = o.messageId;
          if (o.response !== undefined) set.response = o.response;
          update.$unset = { transient: '' };
        } else if (o.kind === 'failed') {
          set.transient = o.transient;
          set.lastError = o.error;
        } else {
          set.reason = o.reason;
        }
        const attempts = o.attempts ?? 0;
        if (attempts > 0) update.$inc = { attempts };
        ops.push({ updateOne: { filter, update } });
      }
      // FerretDB v1.24 cannot answer large update commands: write in slices (see bulk.ts).
      for (const slice of slices(ops)) await col.bulkWrite(slice, { ordered: false });
    },

    async lookup(keys: string[]) {
      const out = new Map<string, Pick<DeliveryRecord, 'status' | 'transient' | 'claimedBy'>>();
      if (keys.length === 0) return out;
      const docs = await Promise.all(keys.map((k) => col.findOne({ _id: k }, { projection: { status: 1, transient: 1, claimedBy: 1 } })));
      for (const d of docs) if (d) out.set(d._id, { status: d.status, transient: d.transient, claimedBy: d.claimedBy });
      return out;
    },

    async summarize(scope: string, options: { times?: boolean } = {}): Promise<LedgerSummary> {
      const s: LedgerSummary = { scope, sent: 0, failed: 0, retryable: 0, skipped: 0, missed: 0, claimed: 0, uncertain: 0 };
      // One pass, one accumulator per $group (FerretDB v1): grouped by status, transience and takeover.
      const groups = await col
        .aggregate<{ _id: { status: string; transient?: boolean | null; uncertain?: boolean | null }; n: number }>([
          { $match: { scope } },
          { $group: { _id: { status: '$status', transient: '$transient', uncertain: '$uncertain' }, n: { $sum: 1 } } },
        ])
        .toArray();
      for (const g of groups) {
        const n = Number(g.n);
        if (g._id.uncertain) s.uncertain += n;
        switch (g._id.status) {
          case 'sent':
            s.sent += n;
            break;
          case 'failed':
            if (g._id.transient) s.retryable += n;
            else s.failed += n;
            break;
          case 'skipped':
            s.skipped += n;
            break;
          case 'missed':
            s.missed += n;
            break;
          default:
            s.claimed += n;
        }
      }
      if (s.sent > 0 && options.times !== false) {
        // Index {scope, status, sentAt} on MongoDB; a scan on FerretDB.
        const [first] = await col.find({ scope, status: 'sent' }, { projection: { sentAt: 1 } }).sort({ sentAt: 1 }).limit(1).toArray();
        const [last] = await col.find({ scope, status: 'sent' }, { projection: { sentAt: 1 } }).sort({ sentAt: -1 }).limit(1).toArray();
        if (first?.sentAt) s.firstSentAt = first.sentAt;
        if (last?.sentAt) s.lastSentAt = last.sentAt;
      }
      return s;
    },
  };
}
