// The delivery ledger over `mailcron_deliveries`. Claims are one unordered insertMany (the unique
// `_id` is the lock); duplicates are read back and, when they may be taken over, reclaimed with a
// compare-and-set update on their old status and owner. Only standard operations: no
// transactions, so it runs on MongoDB 5–8, Atlas and FerretDB.
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db, type Document } from 'mongodb';
import type { ClaimRequest, ClaimResult, DeliveryOutcome, DeliveryRecord, Ledger, LedgerSummary } from '../../core/ledger/ledger.js';
import { COLLECTIONS } from './client.js';

type Rec = DeliveryRecord & Document;

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

      const dupKeys = dups.map((i) => requests[i]!.key);
      const existing = new Map((await col.find({ _id: { $in: dupKeys } }).toArray()).map((d) => [d._id, d]));
      const cas: AnyBulkWriteOperation<Rec>[] = [];
      const wanted = new Map<string, ClaimResult>();
      for (const i of dups) {
        const key = requests[i]!.key;
        const rec = existing.get(key);
        if (!rec) {
          // Deleted between the insert and the read (a released claim): one more insert decides it.
          const again = await claim([requests[i]!], owner, now);
          results[i] = again[0]!;
          continue;
        }
        if (rec.status === 'claimed') {
          if (rec.claimedBy === owner) {
            results[i] = { key, outcome: 'busy', owner };
            continue;
          }
          cas.push({
            updateOne: {
              filter: { _id: key, status: 'claimed', claimedBy: rec.claimedBy },
              update: { $set: { claimedBy: owner, claimedAt: now, updatedAt: now, uncertain: true } },
            },
          });
          wanted.set(key, { key, outcome: 'uncertain', attempts: rec.attempts ?? 0, previousOwner: rec.claimedBy });
        } else if (rec.status === 'failed' && rec.transient) {
          cas.push({
            updateOne: {
              filter: { _id: key, status: 'failed', transient: true, claimedBy: rec.claimedBy, updatedAt: rec.updatedAt },
              update: { $set: { status: 'claimed', claimedBy: owner, claimedAt: now, updatedAt: now } },
            },
          });
          wanted.set(key, { key, outcome: 'retry', attempts: rec.attempts ?? 0 });
        } else {
          results[i] = { key, outcome: 'done', status: rec.status };
        }
      }
      if (cas.length > 0) {
        await col.bulkWrite(cas, { ordered: false });
        // Which compare-and-sets won: the record is now claimed by us.
        const after = await col
          .find({ _id: { $in: [...wanted.keys()] } }, { projection: { status: 1, claimedBy: 1 } })
          .toArray();
        const won = new Set(after.filter((d) => d.status === 'claimed' && d.claimedBy === owner).map((d) => d._id));
        const byKey = new Map(after.map((d) => [d._id, d]));
        for (const i of dups) {
          const key = requests[i]!.key;
          const w = wanted.get(key);
          if (!w) continue;
          if (won.has(key)) results[i] = w;
          else {
            const d = byKey.get(key);
            const final = d && d.status !== 'claimed' && !(d.status === 'failed' && d.transient);
            results[i] = final ? { key, outcome: 'done', status: d.status as Exclude<typeof d.status, 'claimed'> } : { key, outcome: 'busy', owner: d?.claimedBy ?? '' };
          }
        }
      }
      return results;
  };

  return {
    claim,

    async record(outcomes: DeliveryOutcome[], owner: string): Promise<void> {
      const ops: AnyBulkWriteOperation<Rec>[] = [];
      for (const o of outcomes) {
        const filter = { _id: o.key, status: 'claimed' as const, claimedBy: owner };
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
      if (ops.length > 0) await col.bulkWrite(ops, { ordered: false });
    },

    async lookup(keys: string[]) {
      const out = new Map<string, Pick<DeliveryRecord, 'status' | 'transient' | 'claimedBy'>>();
      if (keys.length === 0) return out;
      const docs = await col.find({ _id: { $in: keys } }, { projection: { status: 1, transient: 1, claimedBy: 1 } }).toArray();
      for (const d of docs) out.set(d._id, { status: d.status, transient: d.transient, claimedBy: d.claimedBy });
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
