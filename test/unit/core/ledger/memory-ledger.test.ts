import { describe, expect, it } from 'vitest';
import { broadcastDeliveryKey, userKey } from '../../../../src/core/ledger/keys.js';
import { createMemoryLedger } from '../../../../src/core/ledger/memory-ledger.js';

const now = new Date('2025-01-01T00:00:00Z');
const req = (key: string) => ({ key, scope: 's', userId: key });

describe('memory ledger', () => {
  it('decides claims like the MongoDB one: new, done, retry, uncertain, busy', async () => {
    const l = createMemoryLedger();
    expect((await l.claim(['a', 'b', 'c', 'd', 'e'].map(req), 'old', now)).map((r) => r.outcome)).toEqual(['new', 'new', 'new', 'new', 'new']);
    await l.record(
      [
        { key: 'a', kind: 'sent', at: now, attempts: 1, messageId: 'm' },
        { key: 'b', kind: 'failed', at: now, attempts: 5, transient: true, error: { message: '451' } },
        { key: 'c', kind: 'failed', at: now, attempts: 1, transient: false, error: { message: '550' } },
        { key: 'e', kind: 'skipped', at: now, reason: 'invalid email' },
      ],
      'old',
    );
    const r = await l.claim(['a', 'b', 'c', 'd', 'e', 'f'].map(req), 'new', now);
    expect(r.map((x) => x.outcome)).toEqual(['done', 'retry', 'done', 'uncertain', 'done', 'new']);
    expect((await l.claim([req('d')], 'new', now))[0]!.outcome).toBe('busy');
    const s = await l.summarize('s');
    expect(s).toMatchObject({ sent: 1, failed: 1, retryable: 0, skipped: 1, claimed: 3, uncertain: 1 });
  });

  it('gives claims back: new ones deleted, retried ones failed again', async () => {
    const l = createMemoryLedger();
    await l.claim([req('a'), req('b')], 'x', now);
    await l.record([{ key: 'b', kind: 'failed', at: now, attempts: 1, transient: true, error: { message: 't' } }], 'x');
    await l.claim([req('b')], 'y', now);
    await l.record([{ key: 'a', kind: 'release', restore: 'delete' }], 'x');
    await l.record([{ key: 'b', kind: 'release', restore: 'failed' }], 'y');
    expect(l.records.has('a')).toBe(false);
    expect(l.records.get('b')).toMatchObject({ status: 'failed', transient: true });
  });
});

describe('delivery keys', () => {
  it('keeps BSON types apart', () => {
    expect(userKey('42')).toBe('s:42');
    expect(userKey(42)).toBe('n:42');
    expect(userKey({ toHexString: () => 'ab12' })).toBe('oid:ab12');
    expect(broadcastDeliveryKey('news', 7)).toBe('b:news:n:7');
  });
});
