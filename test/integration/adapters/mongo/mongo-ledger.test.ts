// The MongoDB ledger and broadcast store against the real test server (FerretDB by default).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBroadcastStore } from '../../../../src/adapters/mongo/broadcast-store.js';
import { createMongoLedger } from '../../../../src/adapters/mongo/mongo-ledger.js';
import type { ClaimRequest } from '../../../../src/core/ledger/ledger.js';
import { openTestDb, type TestDb } from '../../../helpers/mongo.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb('ledger');
});
afterAll(() => t?.drop());

const now = new Date('2025-03-01T10:00:00Z');
const reqs = (scope: string, n: number, from = 0): ClaimRequest[] =>
  Array.from({ length: n }, (_, i) => ({ key: `b:${scope}:n:${from + i}`, scope: `broadcast:${scope}`, userId: from + i, email: `u${from + i}@example.test`, messageId: `<m${i}@x>` }));

describe('mongo ledger', () => {
  it('claims new keys in bulk and decides duplicates: done, retry, uncertain, busy', async () => {
    const l = createMongoLedger(t.db);
    const r = reqs('a', 5);
    expect((await l.claim(r, 'run1', now)).map((x) => x.outcome)).toEqual(['new', 'new', 'new', 'new', 'new']);
    await l.record(
      [
        { key: r[0]!.key, kind: 'sent', at: now, attempts: 1, messageId: '<m0@x>', response: '250 ok' },
        { key: r[1]!.key, kind: 'failed', at: now, attempts: 5, transient: true, error: { responseCode: 451, message: '451 later' } },
        { key: r[2]!.key, kind: 'failed', at: now, attempts: 1, transient: false, error: { responseCode: 550, message: '550 no' } },
        { key: r[3]!.key, kind: 'skipped', at: now, reason: 'missing email' },
      ],
      'run1',
    );
    const again = await l.claim([...r, ...reqs('a', 1, 5)], 'run2', now);
    expect(again.map((x) => x.outcome)).toEqual(['done', 'retry', 'done', 'done', 'uncertain', 'new']);
    expect(again[4]).toMatchObject({ previousOwner: 'run1' });
    expect(again[1]).toMatchObject({ outcome: 'retry', attempts: 5 });
    expect((await l.claim([r[4]!], 'run2', now))[0]!.outcome).toBe('busy');
    // The retry's claim is newer than its record: in flight again, counted as claimed, not retryable.
    expect(await t.db.collection('mailcron_claims').findOne({ _id: r[1]!.key as never })).toMatchObject({ claimedBy: 'run2', gen: 1 });
    expect(await t.db.collection('mailcron_deliveries').findOne({ _id: r[1]!.key as never })).toMatchObject({ status: 'failed', attempts: 5, gen: 0 });
    expect(await l.summarize('broadcast:a')).toMatchObject({ sent: 1, failed: 1, retryable: 0, skipped: 1, claimed: 3, uncertain: 1 });
    expect((await l.lookup([r[1]!.key])).get(r[1]!.key)).toMatchObject({ status: 'claimed', claimedBy: 'run2' });
    await l.record([{ key: r[1]!.key, kind: 'sent', at: now, attempts: 1, messageId: '<m1@x>' }], 'run2');
    expect(await t.db.collection('mailcron_deliveries').findOne({ _id: r[1]!.key as never })).toMatchObject({ status: 'sent', attempts: 6, gen: 1 });
    const retried = await t.db.collection('mailcron_deliveries').findOne({ _id: r[1]!.key as never });
    expect(retried).not.toHaveProperty('transient');
    expect(retried).not.toHaveProperty('lastError');
    expect((await l.claim([r[1]!], 'run3', now))[0]).toMatchObject({ outcome: 'done', status: 'sent' });
  });

  it('writes the record of a fresh delivery by insert, with what the claim carried', async () => {
    const l = createMongoLedger(t.db);
    const [q] = [{ ...reqs('shape', 1)[0]!, data: { template: 'digest' }, slot: now }];
    await l.claim([q], 'run1', now);
    expect(await t.db.collection('mailcron_deliveries').countDocuments({ scope: 'broadcast:shape' })).toBe(0);
    expect(await l.summarize('broadcast:shape')).toMatchObject({ claimed: 1, sent: 0 });
    // A second ledger object (another part of the same run) records it: the claim is read back.
    await createMongoLedger(t.db).record([{ key: q.key, kind: 'skipped', at: now, reason: 'invalid email' }], 'run1');
    expect(await t.db.collection('mailcron_deliveries').findOne({ _id: q.key as never })).toMatchObject({
      status: 'skipped', reason: 'invalid email', scope: 'broadcast:shape', userId: 0, email: q.email, slot: now, data: { template: 'digest' }, claimedBy: 'run1', gen: 0, attempts: 0,
    });
    expect(await l.summarize('broadcast:shape')).toMatchObject({ claimed: 0, skipped: 1 });
  });

  it('gives each new key to exactly one of two runs claiming at once', async () => {
    const l = createMongoLedger(t.db);
    const r = reqs('race', 120);
    const [x, y] = await Promise.all([l.claim(r, 'runX', now), l.claim(r, 'runY', now)]);
    for (let i = 0; i < r.length; i++) {
      expect([x[i]!.outcome, y[i]!.outcome].filter((o) => o === 'new'), r[i]!.key).toHaveLength(1);
    }
  });

  it('takes over a record again and again as runs die, counting each takeover', async () => {
    const l = createMongoLedger(t.db);
    const [q] = reqs('chain', 1);
    await l.claim([q!], 'run1', now);
    for (const owner of ['run2', 'run3', 'run4']) expect((await l.claim([q!], owner, now))[0]).toMatchObject({ outcome: 'uncertain' });
    expect(await t.db.collection('mailcron_claims').findOne({ _id: q!.key as never })).toMatchObject({ claimedBy: 'run4', uncertain: true, gen: 3 });
    await l.record([{ key: q!.key, kind: 'sent', at: now, attempts: 1, messageId: '<c@x>', uncertain: true }], 'run4');
    expect(await t.db.collection('mailcron_deliveries').findOne({ _id: q!.key as never })).toMatchObject({ status: 'sent', claimedBy: 'run4', uncertain: true, gen: 3, email: q!.email });
    expect(await l.summarize('broadcast:chain')).toMatchObject({ sent: 1, claimed: 0, uncertain: 1 });
  });

  it('records more than 100 outcomes in one call and summarises the scope', async () => {
    const l = createMongoLedger(t.db);
    const r = reqs('bulk', 260);
    await l.claim(r.slice(0, 130), 'run', now);
    await l.claim(r.slice(130), 'run', now);
    const t0 = new Date('2025-03-01T10:00:00Z');
    await l.record(
      r.map((q, i) =>
        i % 26 === 0
          ? { key: q.key, kind: 'failed' as const, at: t0, attempts: 1, transient: false, error: { message: '550' } }
          : { key: q.key, kind: 'sent' as const, at: new Date(t0.getTime() + i * 1000), attempts: 1, messageId: `<${i}@x>` },
      ),
      'run',
    );
    const s = await l.summarize('broadcast:bulk');
    expect(s).toMatchObject({ sent: 250, failed: 10, retryable: 0, claimed: 0, uncertain: 0 });
    expect(s.firstSentAt?.toISOString()).toBe('2025-03-01T10:00:01.000Z');
    expect(s.lastSentAt?.toISOString()).toBe('2025-03-01T10:04:19.000Z');
    const found = await l.lookup([r[0]!.key, r[1]!.key, 'b:bulk:n:none']);
    expect(found.get(r[0]!.key)?.status).toBe('failed');
    expect(found.get(r[1]!.key)?.status).toBe('sent');
    expect(found.has('b:bulk:n:none')).toBe(false);
  });

  it('gives claims back: new ones deleted, reclaimed transient failures failed again', async () => {
    const l = createMongoLedger(t.db);
    const r = reqs('rel', 2);
    await l.claim(r, 'a', now);
    await l.record([{ key: r[1]!.key, kind: 'failed', at: now, attempts: 1, transient: true, error: { message: '451' } }], 'a');
    expect((await l.claim([r[1]!], 'b', now))[0]!.outcome).toBe('retry');
    await l.record([{ key: r[0]!.key, kind: 'release', restore: 'delete' }, { key: r[1]!.key, kind: 'release', restore: 'failed' }], 'b');
    const docs = await t.db.collection('mailcron_deliveries').find({ scope: 'broadcast:rel' }).toArray();
    expect(docs.map((d) => [d._id, d.status, d.transient])).toEqual([[r[1]!.key, 'failed', true]]);
    expect(await t.db.collection('mailcron_claims').countDocuments({ scope: 'broadcast:rel' })).toBe(1);
    expect(await l.summarize('broadcast:rel')).toMatchObject({ retryable: 1, claimed: 0 });
    expect((await l.claim([r[0]!], 'c', now))[0]!.outcome).toBe('new');
    expect((await l.claim([r[1]!], 'c', now))[0]!.outcome).toBe('retry');
  });
});

describe('broadcast store', () => {
  it('creates a broadcast, holds its lease, checkpoints and releases it', async () => {
    const s = createBroadcastStore(t.db);
    const definition = { messageHash: 'h', subject: 'Hi', audience: '{}', collection: 'x.users' };
    const begin = (owner: string, takeOverFrom: string | null) =>
      s.begin({ id: 'news', definition, owner: { id: owner, host: 'h', pid: 1 }, now, leaseMs: 60_000, audienceCount: 10, takeOverFrom, redefine: false });
    expect(await begin('one', null)).toMatchObject({ _id: 'news', status: 'running', runs: 1, lease: { id: 'one' } });
    expect(await begin('two', null)).toBeNull();
    expect(await s.heartbeat('news', 'two', new Date())).toBe(false);
    expect(await s.heartbeat('news', 'one', new Date(now.getTime() + 120_000))).toBe(true);
    await s.checkpoint('news', 'one', 42);
    await s.checkpoint('news', 'two', 99);
    expect((await s.get('news'))?.lowWatermark).toBe(42);
    expect(await begin('three', 'one')).toMatchObject({ runs: 2, lease: { id: 'three' } });
    await s.finish('news', 'three', { status: 'completed', finishedAt: now, counts: {} as never, lowWatermark: 50 });
    expect(await s.get('news')).toMatchObject({ status: 'completed', lease: null, lowWatermark: 50 });
    expect(await begin('four', null)).toMatchObject({ runs: 3 });
    expect((await s.list(5)).map((d) => d._id)).toEqual(['news']);
  });
});
