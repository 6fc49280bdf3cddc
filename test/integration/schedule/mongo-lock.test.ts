// The schedule lease against the real test server: exclusion, expiry take-over, heartbeat, release.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMongoLeaseStore } from '../../../src/adapters/mongo/mongo-lock.js';
import { LockHeldError } from '../../../src/core/errors.js';
import { acquireLease } from '../../../src/core/schedule/lock.js';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb('lock');
});
afterAll(() => t.drop());
beforeEach(async () => {
  await t.db.collection('mailcron_locks').deleteMany({});
});

const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s));

describe('mongo lease store', () => {
  it('gives the lease to one owner and reports the holder to the next', async () => {
    const store = createMongoLeaseStore(t.db);
    const a = await store.acquire('schedule', 'host-a:1:x', at(0), 60_000);
    expect(a.ok).toBe(true);
    const b = await store.acquire('schedule', 'host-b:2:y', at(10), 60_000);
    expect(b).toMatchObject({ ok: false, holder: { owner: 'host-a:1:x', acquiredAt: at(0), expiresAt: at(60) } });
    // The holder itself may take it again (idempotent).
    expect((await store.acquire('schedule', 'host-a:1:x', at(20), 60_000)).ok).toBe(true);
  });

  it('lets the next owner take an expired lease; the old owner can no longer renew it', async () => {
    const store = createMongoLeaseStore(t.db);
    expect((await store.acquire('schedule', 'old', at(0), 5_000)).ok).toBe(true);
    expect((await store.acquire('schedule', 'new', at(4), 5_000)).ok).toBe(false);
    const taken = await store.acquire('schedule', 'new', at(6), 5_000);
    expect(taken).toMatchObject({ ok: true, lease: { owner: 'new', acquiredAt: at(6) } });
    expect(await store.renew('schedule', 'old', at(7), 5_000)).toBe(false);
    expect(await store.renew('schedule', 'new', at(7), 5_000)).toBe(true);
    expect((await store.read('schedule'))?.expiresAt).toEqual(at(12));
  });

  it('frees the lease on release and keeps who held it', async () => {
    const store = createMongoLeaseStore(t.db);
    await store.acquire('schedule', 'a', at(0), 60_000);
    await store.release('schedule', 'b', at(1)); // not the holder: no effect
    expect((await store.acquire('schedule', 'c', at(2), 60_000)).ok).toBe(false);
    await store.release('schedule', 'a', at(3));
    const info = await store.read('schedule');
    expect(info).toMatchObject({ owner: 'a', releasedAt: at(3) });
    expect((await store.acquire('schedule', 'c', at(4), 60_000)).ok).toBe(true);
  });

  it('lets exactly one of many simultaneous acquirers win', async () => {
    const store = createMongoLeaseStore(t.db);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.acquire('race', `o${i}`, at(0), 60_000)));
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const owner = (winners[0] as { lease: { owner: string } }).lease.owner;
    for (const r of results) if (!r.ok) expect(r.holder.owner).toBe(owner);
  });
});

describe('acquireLease', () => {
  it('throws LockHeldError naming the holder and since when', async () => {
    const store = createMongoLeaseStore(t.db);
    const first = await acquireLease(store, { name: 'schedule', owner: 'web-1:42:abc', ttlMs: 60_000 });
    const err = await acquireLease(store, { name: 'schedule', owner: 'web-2:7:def', ttlMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as Error).message).toMatch(/another run holds the schedule lock: web-1:42:abc, since \d{4}-\d\d-\d\dT/);
    await first.release();
    const second = await acquireLease(store, { name: 'schedule', owner: 'web-2:7:def', ttlMs: 60_000 });
    await second.release();
  });

  it('heartbeats keep a short lease alive past its ttl', async () => {
    const store = createMongoLeaseStore(t.db);
    const lease = await acquireLease(store, { name: 'schedule', owner: 'beat', ttlMs: 600 });
    const firstExpiry = lease.info.expiresAt.getTime();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(lease.lost.aborted).toBe(false);
    const info = await store.read('schedule');
    expect(info!.expiresAt.getTime()).toBeGreaterThan(firstExpiry);
    await expect(acquireLease(store, { name: 'schedule', owner: 'other', ttlMs: 600 })).rejects.toBeInstanceOf(LockHeldError);
    await lease.release();
  });

  it('signals a lost lease when another run has taken it', async () => {
    const store = createMongoLeaseStore(t.db);
    const lease = await acquireLease(store, { name: 'schedule', owner: 'slow', ttlMs: 900 });
    // Someone takes the lease over (as if ours had expired while we were stalled).
    await t.db.collection('mailcron_locks').updateOne({ _id: 'schedule' as never }, { $set: { owner: 'thief' } });
    await new Promise<void>((resolve) => lease.lost.addEventListener('abort', () => resolve(), { once: true }));
    expect(String(lease.lost.reason)).toMatch(/lost the schedule lock/);
    await lease.release();
    expect((await store.read('schedule'))?.owner).toBe('thief');
  });
});
