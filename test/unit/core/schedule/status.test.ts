import { describe, expect, it } from 'vitest';
import { createMemoryLedger } from '../../../../src/core/ledger/memory-ledger.js';
import { scheduleStatus } from '../../../../src/core/schedule/status.js';
import { memoryLeases, memoryStore } from './fakes.js';

describe('scheduleStatus', () => {
  it('reports due users, the next due time, ledger counts, the last run and the lock', async () => {
    const at = (s: string) => new Date(s);
    const store = memoryStore([
      { _id: 1, mailcron: { nextAt: at('2025-03-10T08:00:00Z'), scheduleHash: 'h' } },
      { _id: 2, mailcron: { nextAt: at('2025-03-10T09:00:00Z'), scheduleHash: 'h' } },
      { _id: 3, mailcron: { nextAt: at('2025-03-11T08:00:00Z'), scheduleHash: 'h' } },
      { _id: 4 },
    ]);
    const ledger = createMemoryLedger();
    await ledger.claim([{ key: 's:n:1:a', scope: 'schedule', userId: 1 }, { key: 's:n:1:b', scope: 'schedule', userId: 1 }], 'o', at('2025-03-10T08:00:00Z'));
    await ledger.record([{ key: 's:n:1:a', kind: 'missed', at: at('2025-03-10T08:00:00Z'), reason: 'old' }], 'o');
    const leases = memoryLeases();
    await leases.acquire('schedule', 'web-1:42:abcd', at('2025-03-10T09:29:00Z'), 60_000);

    const empty = await scheduleStatus({ store, ledger, leases }, at('2025-03-10T09:30:00Z'));
    expect(empty).toMatchObject({ lastRun: null, dueNow: 2, nextDueAt: at('2025-03-11T08:00:00Z'), ledger: { missed: 1, claimed: 1 } });
    expect(empty.lock).toEqual({ held: true, owner: 'web-1:42:abcd', since: at('2025-03-10T09:29:00Z'), expiresAt: at('2025-03-10T09:30:00Z') });

    await leases.release('schedule', 'web-1:42:abcd', at('2025-03-10T09:31:00Z'));
    await store.saveRun({
      _id: 'r1', kind: 'schedule', owner: 'web-1:42:abcd', now: at('2025-03-10T09:29:00Z'), startedAt: at('2025-03-10T09:29:00Z'), finishedAt: at('2025-03-10T09:30:00Z'),
      dryRun: false, planned: 1, replanned: 0, invalid: 0, dueUsers: 2, deferred: 0, advanced: 2,
      counts: { sent: 2, failed: 0, skipped: 0, missed: 1, uncertain: 0, uncertainResent: 0, alreadyDone: 0, retried: 0, retryable: 0, seen: 3 },
      problems: [], nextDueAt: null, reads: { planning: 1, due: 2, replan: 0 },
    });
    const after = await scheduleStatus({ store, ledger, leases }, at('2025-03-10T09:32:00Z'));
    expect(after.lastRun).toMatchObject({ dueUsers: 2, counts: { sent: 2, missed: 1 } });
    expect(after.lock).toMatchObject({ held: false, releasedAt: at('2025-03-10T09:31:00Z') });
  });
});
