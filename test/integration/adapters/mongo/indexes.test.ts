// The index registry against the real test server: check, create once, accept other names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkIndexes, ensureIndexes, REQUIRED_INDEXES, type IndexSpec } from '../../../../src/adapters/mongo/indexes.js';
import { openTestDb, type TestDb } from '../../../helpers/mongo.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb('idx');
});
afterAll(() => t.drop());

describe('indexes', () => {
  it('reports missing indexes, creates them once, and then reports them present', async () => {
    const config = { usersCollection: 'people' };
    const before = await checkIndexes(t.db, config);
    expect(before).toHaveLength(REQUIRED_INDEXES.length);
    expect(before.every((c) => !c.present)).toBe(true);
    // 'users' in the registry means the configured users collection.
    for (const c of before) expect(c.collection).toBe(c.spec.collection === 'users' ? 'people' : c.spec.collection);

    const created = await ensureIndexes(t.db, config);
    expect(created.map((c) => c.spec.name).sort()).toEqual(REQUIRED_INDEXES.map((s) => s.name).sort());
    expect((await checkIndexes(t.db, config)).every((c) => c.present)).toBe(true);
    expect(await ensureIndexes(t.db, config)).toEqual([]);
    for (const c of before) {
      const names = (await t.db.collection(c.collection).indexes()).map((i) => i.name);
      expect(names).toContain(c.spec.name);
    }
  });

  it('counts an index with the same key under another name as present, and creates only what is missing', async () => {
    const specs: IndexSpec[] = [
      { collection: 'users', key: { a: 1, b: -1 }, name: 'mine_ab', why: 'test', command: 'test' },
      { collection: 'other', key: { c: 1 }, name: 'mine_c', unique: true, why: 'test', command: 'test' },
    ];
    await t.db.collection('crowd').createIndex({ a: 1, b: -1 }, { name: 'theirs' });
    const checks = await checkIndexes(t.db, { usersCollection: 'crowd' }, specs);
    expect(checks[0]).toMatchObject({ present: true, existingName: 'theirs', collection: 'crowd' });
    expect(checks[1]).toMatchObject({ present: false, collection: 'other' });
    expect((await ensureIndexes(t.db, { usersCollection: 'crowd' }, specs)).map((c) => c.spec.name)).toEqual(['mine_c']);
    const created = (await t.db.collection('other').indexes()).find((i) => i.name === 'mine_c');
    expect(created?.unique).toBe(true);
  });
});
