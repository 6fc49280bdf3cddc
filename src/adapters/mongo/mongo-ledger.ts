// The delivery ledger over `mailcron_deliveries`. Claims are one unordered insertMany (the unique
// `_id` is the lock); duplicates are read back and, when they may be taken over, reclaimed with a
// compare-and-set update on their old status and owner. Only standard operations: no
// transactions, so it runs on MongoDB 5–8, Atlas and FerretDB.
//
// Shapes chosen for FerretDB v1 (the test server), harmless on MongoDB: it uses the `_id` index
// only for a plain `{_id: value}` filter — `$in` scans the collection, and inside a multi-statement
// bulk write so does `{_id, status, …}`. So records are read back with bounded parallel findOne
// calls, compare-and-sets are single updateOne calls, and the bulk outcome writes filter on `_id`
// alone: the broadcast lease / schedule lock (held by the only writer of a scope) is what guards them.
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db, type Document } from 'mongodb';
import type { ClaimRequest, ClaimResult, DeliveryOutcome, DeliveryRecord, Ledger, LedgerSummary } from '../../core/ledger/ledger.js';
import { COLLECTIONS } from './client.js';

type Rec = DeliveryRecord & Document;

/** Statements per bulk write (see record()). */
const BULK_SLICE = 50;

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
      await Promise.all(
        dups.map(async (i, n) => {
          const key = requests[i]!.key;
          const rec = existing[n];
          if (!rec) {
            // Deleted between the insert and the read (a released claim): one more insert decides it.
            results[i] = (await claim([requests[i]!], owner, now))[0]!;
            return;
          }
          if (rec.status === 'claimed' && rec.claimedBy === owner) {
            results[i] = { key, outcome: 'busy', owner };
            return;
          }
          const takeover = rec.status === 'claimed';
          if (!takeover && !(rec.status === 'failed' && rec.transient)) {
            results[i] = { key, outcome: 'done', status: rec.status as Exclude<typeof rec.status, 'claimed'> };
            return;
          }
          // Compare-and-set on the state just read, so two runs never both take it.
          const r = takeover
            ? await col.updateOne(
                { _id: key, status: 'claimed', claimedBy: rec.claimedBy },
                { $set: { claimedBy: owner, claimedAt: now, updatedAt: now, uncertain: true } },
              )
            : await col.updateOne(
                { _id: key, status: 'failed', transient: true, claimedBy: rec.claimedBy, updatedAt: rec.updatedAt },
                { $set: { status: 'claimed', claimedBy: owner, claimedAt: now, updatedAt: now } },
              );
          if (r.modifiedCount === 1) {
            results[i] = takeover
              ? { key, outcome: 'uncertain', attempts: rec.attempts ?? 0, previousOwner: rec.claimedBy }
              : { key, outcome: 'retry', attempts: rec.attempts ?? 0 };
            return;
          }
          const d = await col.findOne({ _id: key });
          const final = d && d.status !== 'claimed' && !(d.status === 'failed' && d.transient);
          results[i] = final ? { key, outcome: 'done', status: d.status as Exclude<typeof d.status, 'claimed'> } : { key, outcome: 'busy', owner: d?.claimedBy ?? '' };
        }),
      );
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
      // FerretDB v1.24 never answers an update command of 100 or more statements: write in slices.
      for (let i = 0; i < ops.length; i += BULK_SLICE) await col.bulkWrite(ops.slice(i, i + BULK_SLICE), { ordered: false });
    },

    async lookup(keys: string[]) {
      const out = new Map<string, Pick<DeliveryRecord, 'status' | 'transient' | 'claimedBy'>>();
      if (keys.length === 0) return out;
      const docs = await Promise.all(keys.map((k) => col.findOne({ _id: k }, { projection: { status: 1, transient: 1, claimedBy: 1 } })));
      for (const d of docs) if (d) out.set(d._id, { status: d.status, transient: d.transient, claimedBy: d.claimedBy });
      return out;
    },

    async summarize(scope: string): Promise<LedgerSummary> {
      const s: LedgerSummary = { scope, sent: 0, failed: 0, retryable: 0, skipped: 0, missed: 0, claimed: 0, uncertain: 0 };
      // One accumulator per $group (FerretDB v1), grouped by status and transience.
      const groups = await col
        .aggregate<{ _id: { status: string; transient?: boolean | null }; n: number }>([
          { $match: { scope } },
          { $group: { _id: { status: '$status', transient: '$transient' }, n: { $sum: 1 } } },
        ])
        .toArray();
      for (const g of groups) {
        const n = Number(g.n);
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
      s.uncertain = await col.countDocuments({ scope, uncertain: true });
      if (s.sent > 0) {
        const [first] = await col.find({ scope, status: 'sent' }, { projection: { sentAt: 1 } }).sort({ sentAt: 1 }).limit(1).toArray();
        const [last] = await col.find({ scope, status: 'sent' }, { projection: { sentAt: 1 } }).sort({ sentAt: -1 }).limit(1).toArray();
        if (first?.sentAt) s.firstSentAt = first.sentAt;
        if (last?.sentAt) s.lastSentAt = last.sentAt;
      }
      return s;
    },
  };
}
