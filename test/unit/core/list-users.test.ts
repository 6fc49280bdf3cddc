// Paging arithmetic and streaming of the listing core, over an in-memory UserQuery.
import { describe, expect, it } from 'vitest';
import { listAfter, listPage, streamUsers, type UserQuery } from '../../../src/core/list-users.js';
import type { UserDoc } from '../../../src/core/ports.js';

function memoryQuery(n: number): UserQuery & { reads: number[] } {
  const users: UserDoc[] = Array.from({ length: n }, (_, i) => ({ _id: i + 1 }));
  const reads: number[] = [];
  return {
    reads,
    count: async () => users.length,
    page: async (skip, limit) => users.slice(skip, skip + limit),
    after: async (after, limit) => users.filter((u) => (u._id as number) > (after as number)).slice(0, limit),
    source: {
      count: async () => users.length,
      async *batches({ after, batchSize }) {
        const rest = users.filter((u) => after === undefined || (u._id as number) > (after as number));
        for (let i = 0; i < rest.length; i += batchSize) {
          reads.push(i);
          yield rest.slice(i, i + batchSize);
        }
      },
    },
  };
}

describe('listPage', () => {
  it('answers like the admin endpoint: users 11-20 of 1000 on page 2 of 10', async () => {
    const r = await listPage(memoryQuery(1000), { page: 2, limit: 10 });
    expect(r.users.map((u) => u._id)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(r).toMatchObject({ total: 1000, page: 2, limit: 10, total_pages: 100 });
  });

  it('rounds total_pages up and returns an empty page past the end', async () => {
    expect((await listPage(memoryQuery(101), { page: 1, limit: 50 })).total_pages).toBe(3);
    const past = await listPage(memoryQuery(5), { page: 3, limit: 10 });
    expect(past.users).toEqual([]);
    expect(past.total_pages).toBe(1);
    expect((await listPage(memoryQuery(0), { page: 1, limit: 10 })).total_pages).toBe(0);
  });
});

describe('listAfter', () => {
  it('pages by key and gives next_after until the last page', async () => {
    const q = memoryQuery(25);
    const first = await listAfter(q, { limit: 10 });
    expect(first.users.map((u) => u._id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(first.next_after).toBe(10);
    const second = await listAfter(q, { after: 20, limit: 5 });
    expect(second.users.map((u) => u._id)).toEqual([21, 22, 23, 24, 25]);
    expect(second.next_after).toBeNull();
    expect(second.total).toBe(25);
  });
});

describe('streamUsers', () => {
  it('writes every user once, in order, a batch at a time', async () => {
    const seen: unknown[] = [];
    const sizes: number[] = [];
    const r = await streamUsers(memoryQuery(1234).source, (batch) => {
      sizes.push(batch.length);
      seen.push(...batch.map((u) => u._id));
    }, { batchSize: 500 });
    expect(r).toEqual({ count: 1234, interrupted: false });
    expect(sizes).toEqual([500, 500, 234]);
    expect(seen).toEqual(Array.from({ length: 1234 }, (_, i) => i + 1));
  });

  it('reports an interruption when the signal is aborted', async () => {
    const ac = new AbortController();
    const r = await streamUsers(memoryQuery(100).source, () => ac.abort(), { batchSize: 10, signal: ac.signal });
    // The in-memory source ignores the signal; streamUsers still reports it.
    expect(r.interrupted).toBe(true);
  });
});
