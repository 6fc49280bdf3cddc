// The sorted stream's resume logic against an in-memory collection whose cursors can be made to
// fail mid-stream, and the reading of explain output (MongoDB shapes and FerretDB v1's).
import { describe, expect, it } from 'vitest';
import { MongoServerError, type Collection, type Document } from 'mongodb';
import { planUsesIndexOn, sortedBatches } from '../../../../src/adapters/mongo/sorted-stream.js';
import type { UserDoc } from '../../../../src/core/ports.js';
import { fakeRawCursor } from './fake-raw-cursor.js';

// Documents sorted by `k` then `_id`; the test's `after` condition is {after: [k, _id]}.
const docs = Array.from({ length: 23 }, (_, i) => ({ _id: i, k: Math.floor(i / 5) }));
const key = (d: { _id: number; k: number }) => d.k * 1000 + d._id;

function fakeCollection(failAfter: number[]) {
  const queries: Document[] = [];
  let closed = 0;
  const fails = [...failAfter];
  const coll = {
    find(filter: Document, options: Document) {
      queries.push({ filter, options });
      const after = (filter.$and as Document[] | undefined)?.[1]?.after as [number, number] | undefined;
      const list = docs.filter((d) => !after || key(d) > after[0] * 1000 + after[1]);
      const fail = fails.shift();
      // Server batches of three documents.
      return fakeRawCursor(list, {
        perBatch: 3,
        ...(fail !== undefined ? { failAt: fail } : {}),
        error: () => new MongoServerError({ message: 'cursor id 1 not found', code: 43, codeName: 'CursorNotFound' }),
        onClose: () => closed++,
      });
    },
  };
  return { coll: coll as unknown as Collection<Document>, queries, closed: () => closed };
}

const after = (last: UserDoc) => ({ after: [last.k, last._id] });

describe('sortedBatches', () => {
  it('reads one cursor to the end, in batches of batchSize', async () => {
    const { coll, queries, closed } = fakeCollection([]);
    const batches: unknown[][] = [];
    for await (const b of sortedBatches(coll, { filter: { x: 1 }, sort: { k: 1, _id: 1 }, after, batchSize: 10 })) batches.push(b.map((d) => d._id));
    expect(batches.map((b) => b.length)).toEqual([10, 10, 3]);
    expect(batches.flat()).toEqual(docs.map((d) => d._id));
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatchObject({ filter: { x: 1 }, options: { sort: { k: 1, _id: 1 }, batchSize: 10, raw: true } });
    expect(closed()).toBe(1);
  });

  it('re-opens after the last key read when the server loses the cursor, each document once', async () => {
    const { coll, queries } = fakeCollection([9, 6]);
    const seen: unknown[] = [];
    for await (const b of sortedBatches(coll, { filter: { x: 1 }, sort: { k: 1, _id: 1 }, after, batchSize: 4, retryDelayMs: 1 })) seen.push(...b.map((d) => d._id));
    expect(seen).toEqual(docs.map((d) => d._id));
    expect(queries).toHaveLength(3);
    expect(queries[1]!.filter).toEqual({ $and: [{ x: 1 }, { after: [1, 8] }] });
    expect(queries[2]!.filter).toEqual({ $and: [{ x: 1 }, { after: [2, 14] }] });
  });

  it('stops without an error once the signal is aborted', async () => {
    const { coll, closed } = fakeCollection([]);
    const ac = new AbortController();
    let n = 0;
    for await (const b of sortedBatches(coll, { filter: {}, sort: { k: 1, _id: 1 }, after, batchSize: 5, signal: ac.signal })) {
      n += b.length;
      ac.abort();
    }
    expect(n).toBe(5);
    expect(closed()).toBe(1);
  });
});

describe('planUsesIndexOn', () => {
  const ixscan = (key: Document) => ({ stage: 'FETCH', inputStage: { stage: 'IXSCAN', keyPattern: key, indexName: 'x' } });

  it('finds an index scan on the field in the winning plan (classic, SBE, sharded)', () => {
    expect(planUsesIndexOn({ queryPlanner: { winningPlan: ixscan({ 'mailcron.nextAt': 1 }) } }, 'mailcron.nextAt')).toBe(true);
    expect(planUsesIndexOn({ queryPlanner: { winningPlan: { queryPlan: ixscan({ 'mailcron.nextAt': 1, _id: 1 }), slotBasedPlan: {} } } }, 'mailcron.nextAt')).toBe(true);
    const sharded = { queryPlanner: { winningPlan: { stage: 'SHARD_MERGE_SORT', shards: [{ shardName: 'a', winningPlan: ixscan({ 'mailcron.nextAt': 1 }) }] } } };
    expect(planUsesIndexOn(sharded, 'mailcron.nextAt')).toBe(true);
  });

  it('is false for a collection scan, another index, an index only in rejected plans, and FerretDB v1', () => {
    expect(planUsesIndexOn({ queryPlanner: { winningPlan: { stage: 'SORT', inputStage: { stage: 'COLLSCAN' } } } }, 'mailcron.nextAt')).toBe(false);
    expect(planUsesIndexOn({ queryPlanner: { winningPlan: ixscan({ _id: 1 }) } }, 'mailcron.nextAt')).toBe(false);
    expect(
      planUsesIndexOn({ queryPlanner: { winningPlan: { stage: 'COLLSCAN' }, rejectedPlans: [ixscan({ 'mailcron.nextAt': 1 })] } }, 'mailcron.nextAt'),
    ).toBe(false);
    const ferret = { queryPlanner: { Plan: ['id=2 parent=0 notused=0 detail=SCAN users_5e7cc513'] }, filterPushdown: false, sortPushdown: false, limitPushdown: false };
    expect(planUsesIndexOn(ferret, 'mailcron.nextAt')).toBe(false);
  });
});
