// The broadcast registry over `mailcron_broadcasts`. The lease is taken by compare-and-set on the
// holder seen before (findOneAndUpdate on the old lease id), so two runs never both get it.
import type { Collection, Db, Document } from 'mongodb';
import type { BeginInput, BroadcastDoc, BroadcastStore } from '../../core/broadcast.js';
import { COLLECTIONS } from './client.js';

type Doc = BroadcastDoc & Document;

export function createBroadcastStore(db: Db, collectionName: string = COLLECTIONS.broadcasts): BroadcastStore {
  const col: Collection<Doc> = db.collection<Doc>(collectionName);
  return {
    async get(id) {
      return col.findOne({ _id: id });
    },

    async begin(b: BeginInput) {
      const lease: Document = { id: b.owner.id, since: b.now, expiresAt: new Date(b.now.getTime() + b.leaseMs) };
      if (b.owner.host !== undefined) lease.host = b.owner.host;
      if (b.owner.pid !== undefined) lease.pid = b.owner.pid;
      const lastRun = { owner: b.owner.id, startedAt: b.now };
      const set: Document = { lease, status: 'running', startedAt: b.now, lastRun };
      if (b.audienceCount !== undefined) set.audienceCount = b.audienceCount;
      if (b.redefine) {
        set.definition = b.definition;
        set.lowWatermark = null;
      }
      const filter: Document = b.takeOverFrom === null ? { _id: b.id, lease: null } : { _id: b.id, 'lease.id': b.takeOverFrom };
      const updated = await col.findOneAndUpdate(filter, { $set: set, $inc: { runs: 1 }, $unset: { finishedAt: '' } }, { returnDocument: 'after' });
      if (updated) return updated;
      if (b.takeOverFrom !== null) return null;
      const doc: Doc = {
        _id: b.id,
        definition: b.definition,
        status: 'running',
        lease: lease as BroadcastDoc['lease'],
        lowWatermark: null,
        ...(b.audienceCount !== undefined ? { audienceCount: b.audienceCount } : {}),
        lastRun,
        runs: 1,
        createdAt: b.now,
        startedAt: b.now,
      };
      try {
        await col.insertOne(doc);
        return doc;
      } catch (err) {
        if ((err as { code?: unknown }).code === 11000) return null;
        throw err;
      }
    },

    async heartbeat(id, owner, expiresAt) {
      const r = await col.updateOne({ _id: id, 'lease.id': owner }, { $set: { 'lease.expiresAt': expiresAt } });
      return r.matchedCount === 1;
    },

    async setAudience(id, owner, audienceCount) {
      await col.updateOne({ _id: id, 'lease.id': owner }, { $set: { audienceCount } });
    },

    async checkpoint(id, owner, lowWatermark) {
      await col.updateOne({ _id: id, 'lease.id': owner }, { $set: { lowWatermark } });
    },

    async finish(id, owner, end) {
      const set: Document = {
        status: end.status,
        finishedAt: end.finishedAt,
        lease: null,
        'lastRun.finishedAt': end.finishedAt,
        'lastRun.counts': end.counts,
      };
      if (end.lowWatermark !== undefined) set.lowWatermark = end.lowWatermark;
      if (end.error !== undefined) set['lastRun.error'] = end.error;
      await col.updateOne({ _id: id, 'lease.id': owner }, { $set: set });
    },

    async list(limit) {
      return col.find({}).sort({ startedAt: -1 }).limit(limit).toArray();
    },
  };
}
