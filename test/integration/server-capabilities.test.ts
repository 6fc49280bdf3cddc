// The MongoDB features mailcron relies on, checked against whatever server the tests run on
// (FerretDB v1.24.2 by default). If one of these fails, the server cannot run mailcron.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoBulkWriteError } from 'mongodb';
import { openTestDb, type TestDb } from '../helpers/mongo.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb('caps');
});
afterAll(() => t.drop());

describe('server capabilities', () => {
  it('streams a cursor with getMore in batches, in _id order', async () => {
    const users = t.db.collection<{ _id: number; n: number }>('users');
    await users.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i + 1, n: i })));
    const seen: number[] = [];
    for await (const u of users.find({ _id: { $gt: 0 } }).sort({ _id: 1 }).batchSize(40)) seen.push(u._id);
    expect(seen).toHaveLength(250);
    expect(seen[0]).toBe(1);
    expect(seen[249]).toBe(250);
    expect(seen.every((v, i) => i === 0 || v > seen[i - 1]!)).toBe(true);
  });

  it('reports duplicate keys from an unordered insertMany and still inserts the rest', async () => {
    const c = t.db.collection<{ _id: string }>('dups');
    await c.insertOne({ _id: 'b' });
    let err: unknown;
    try {
      await c.insertMany([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }], { ordered: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bulk = err as MongoBulkWriteError;
    const codes = (Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors]).map((w) => w.code);
    expect(codes).toEqual([11000]);
    expect(await c.countDocuments()).toBe(3);
  });

  it('upserts with findOneAndUpdate and returns the new document', async () => {
    const c = t.db.collection<{ _id: string; owner?: string; n?: number }>('locks');
    const first = await c.findOneAndUpdate(
      { _id: 'lock' },
      { $set: { owner: 'a' }, $inc: { n: 1 } },
      { upsert: true, returnDocument: 'after' },
    );
    expect(first).toMatchObject({ _id: 'lock', owner: 'a', n: 1 });
    const second = await c.findOneAndUpdate({ _id: 'lock', owner: 'a' }, { $inc: { n: 1 } }, { returnDocument: 'after' });
    expect(second?.n).toBe(2);
    const miss = await c.findOneAndUpdate({ _id: 'lock', owner: 'z' }, { $inc: { n: 1 } }, { returnDocument: 'after' });
    expect(miss).toBeNull();
  });

  it('creates a unique index that rejects duplicates', async () => {
    const c = t.db.collection('uniq');
    await c.createIndexes([{ key: { email: 1 }, name: 'email_1', unique: true }]);
    const idx = await c.indexes();
    expect(idx.find((i) => i.name === 'email_1')?.unique).toBe(true);
    await c.insertOne({ email: 'x@example.test' });
    await expect(c.insertOne({ email: 'x@example.test' })).rejects.toMatchObject({ code: 11000 });
  });
});
