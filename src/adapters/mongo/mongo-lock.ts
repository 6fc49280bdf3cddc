// Leases in `mailcron_locks`: `{_id: name, owner, acquiredAt, expiresAt, heartbeatAt}`. Taking a
// lease is one findOneAndUpdate on "free, expired or mine" with upsert: when someone else holds
// it, the filter misses and the upsert's insert collides on `_id`, which tells us to read the
// holder. Only compare-and-set on one document: no transactions, no TTL index.
import type { Collection, Db } from 'mongodb';
import type { LeaseInfo, LeaseStore } from '../../core/schedule/lock.js';
import { COLLECTIONS } from './client.js';

interface LeaseDoc {
  _id: string;
  owner: string;
  acquiredAt: Date;
  expiresAt: Date;
  heartbeatAt: Date;
  releasedAt?: Date;
}

const toInfo = (d: LeaseDoc): LeaseInfo => {
  const info: LeaseInfo = { name: d._id, owner: d.owner, acquiredAt: d.acquiredAt, expiresAt: d.expiresAt, heartbeatAt: d.heartbeatAt };
  if (d.releasedAt) info.releasedAt = d.releasedAt;
  return info;
};

function isWriteConflict(err: unknown): boolean {
  const e = err as { code?: unknown; codeName?: unknown; message?: unknown };
  // 11000: the upsert's insert hit the existing lease. FerretDB may report a unique violation on
  // an update as a generic error, so any error is followed by a read of the lease (below).
  return e?.code === 11000 || /duplicate key/i.test(String(e?.message ?? ''));
}

export function createMongoLeaseStore(db: Db): LeaseStore {
  const locks: Collection<LeaseDoc> = db.collection<LeaseDoc>(COLLECTIONS.locks);
  const store: LeaseStore = {
    async acquire(name, owner, now, ttlMs) {
      for (let attempt = 0; ; attempt++) {
        try {
          const doc = await locks.findOneAndUpdate(
            { _id: name, $or: [{ expiresAt: { $lt: now } }, { owner }] },
            {
              $set: { owner, acquiredAt: now, expiresAt: new Date(now.getTime() + ttlMs), heartbeatAt: now },
              $unset: { releasedAt: '' },
            },
            { upsert: true, returnDocument: 'after' },
          );
          if (doc && doc.owner === owner) return { ok: true, lease: toInfo(doc) };
        } catch (err) {
          const current = await locks.findOne({ _id: name });
          if (current && current.owner !== owner && current.expiresAt.getTime() >= now.getTime()) return { ok: false, holder: toInfo(current) };
          // The lease expired or was released between our write and the read: try again once.
          if (attempt >= 1 || !isWriteConflict(err)) throw err;
          continue;
        }
        const current = await locks.findOne({ _id: name });
        if (current && current.owner !== owner) return { ok: false, holder: toInfo(current) };
        if (attempt >= 1) throw new Error(`could not take the ${name} lock`);
      }
    },
    async renew(name, owner, now, ttlMs) {
      const r = await locks.updateOne({ _id: name, owner }, { $set: { expiresAt: new Date(now.getTime() + ttlMs), heartbeatAt: now } });
      return r.matchedCount === 1;
    },
    async release(name, owner, now) {
      // Kept, not deleted, so `status` can say who ran last; an expiry in the past frees it.
      await locks.updateOne({ _id: name, owner }, { $set: { expiresAt: new Date(0), releasedAt: now } });
    },
    async read(name) {
      const d = await locks.findOne({ _id: name });
      return d ? toInfo(d) : null;
    },
  };
  return store;
}
