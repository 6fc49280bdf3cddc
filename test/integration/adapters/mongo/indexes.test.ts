// The index registry against the real test server: check, create once, accept other names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkIndexes, ensureIndexes, REQUIRED_INDEXES } from '../../../../src/adapters/mongo/indexes.js';
import { openTestDb, type TestDb } from '../../../helpers/mongo.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb('idx');
});
afterAll(() => t.drop());

describe('indexes', () => {
  it('reports missing indexes, creates them once, and then reports them present', async () => {
    const config = { usersCollection: 'users' };
    const before = await checkIndexes(t.db, config);
    expect(before).toHaveLength(REQUIRED_INDEXES.length);
    expect(before.find((c) => c.spec.name === 'mailcron_nextAt')).toMatchObject({ collection: 'users', present: false });
    expect(before.find((c) => c.spec.name === 'mailcron_run_status')).toMatchObject({ collection: 'mailcron_deliveries', present: false });

    const created = await ensureIndexes(t.db, config);
    expect(created.map((c) => c.spec.name).sort()).toEqual(['mailcron_nextAt', 'mailcron_run_status']);
    expect((await checkIndexes(t.db, config)).every((c) => c.present)).toBe(true);
    expect(await ensureIndexes(t.db, config)).toEqual([]);
    const names = (await t.db.collection('mailcron_deliveries').indexes()).map((i) => i.name);
    expect(names).toContain('mailcron_run_status');
  });

  it('counts an index with the same key under another name as present', async () => {
    await t.db.collection('people').createIndex({ 'mailcron.nextAt': 1 }, { name: 'theirs' });
    const checks = await checkIndexes(t.db, { usersCollection: 'people' });
    expect(checks.find((c) => c.spec.name === 'mailcron_nextAt')).toMatchObject({ present: true, existingName: 'theirs', collection: 'people' });
    expect(await ensureIndexes(t.db, { usersCollection: 'people' })).toEqual([]);
  });
});
