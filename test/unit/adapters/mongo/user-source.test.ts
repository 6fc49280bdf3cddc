// The resume logic of the user source against an in-memory collection whose cursors can be made to
// fail mid-stream, the way a killed or timed-out server cursor does.
import { describe, expect, it } from 'vitest';
import { MongoServerError, ObjectId, type Collection, type Document } from 'mongodb';
import { afterCondition, createUserSource, isResumableReadError } from '../../../../src/adapters/mongo/user-source.js';
import { fakeRawCursor } from './fake-raw-cursor.js';

interface FakeOptions {
  /** Throw this error after the cursor has produced this many documents (per cursor, in order). */
  failures?: Array<{ after: number; error: unknown }>;
}

function gtOf(query: Document): number | undefined {
  // The source sends `{$or: [{_id: {$gt: n}}, …]}` or `{$and: [q, that]}` when resuming.
  const json = JSON.stringify(query);
  const m = /"\$gt":(-?\d+)/.exec(json);
  return m ? Number(m[1]) : undefined;
}

function fakeCollection(ids: number[], opts: FakeOptions = {}) {
  const queries: Document[] = [];
  let closed = 0;
  const failures = [...(opts.failures ?? [])];
  const coll = {
    countDocuments: async () => ids.length,
    find(query: Document) {
      queries.push(query);
      const gt = gtOf(query);
      const docs = ids.filter((id) => gt === undefined || id > gt).map((id) => ({ _id: id, email: `u${id}@example.test` }));
      const failure = failures.shift();
      // Server batches of one document each, failing on the fetch after `failure.after` documents.
      return fakeRawCursor(docs, {
        perBatch: 1,
        ...(failure ? { failAt: failure.after, error: () => failure.error } : {}),
        onClose: () => closed++,
      });
    },
  };
  return { coll: coll as unknown as Collection<Document>, queries, closed: () => closed };
}

const cursorNotFound = () => new MongoServerError({ message: 'cursor id 1 not found', code: 43, codeName: 'CursorNotFound' });

async function collect(it: AsyncIterable<Array<{ _id: unknown }>>) {
  const batches: unknown[][] = [];
  for await (const b of it) batches.push(b.map((d) => d._id));
  return batches;
}

describe('createUserSource', () => {
  const ids = Array.from({ length: 25 }, (_, i) => i + 1);

  it('yields batches of batchSize in _id order and a short last batch', async () => {
    const { coll } = fakeCollection(ids);
    const batches = await collect(createUserSource(coll, {}).batches({ batchSize: 10 }));
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(batches.flat()).toEqual(ids);
  });

  it('starts after `after`', async () => {
    const { coll, queries } = fakeCollection(ids);
    const batches = await collect(createUserSource(coll, { active: true }).batches({ after: 20, batchSize: 10 }));
    expect(batches.flat()).toEqual([21, 22, 23, 24, 25]);
    expect(queries[0]).toEqual({ $and: [{ active: true }, afterCondition(20)] });
  });

  it('re-queries from the last _id when the cursor is lost, yielding each user exactly once', async () => {
    const { coll, queries, closed } = fakeCollection(ids, {
      failures: [
        { after: 13, error: cursorNotFound() },
        { after: 4, error: cursorNotFound() },
      ],
    });
    const batches = await collect(createUserSource(coll, {}, { retryDelayMs: 1 }).batches({ batchSize: 10 }));
    expect(batches.flat()).toEqual(ids);
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(queries).toHaveLength(3);
    expect(gtOf(queries[1]!)).toBe(13);
    expect(gtOf(queries[2]!)).toBe(17);
    expect(closed()).toBe(3);
  });

  it('gives up after maxRetries failures without progress', async () => {
    const failures = Array.from({ length: 5 }, () => ({ after: 0, error: cursorNotFound() }));
    const { coll, queries } = fakeCollection(ids, { failures });
    await expect(collect(createUserSource(coll, {}, { retryDelayMs: 1, maxRetries: 2 }).batches({ batchSize: 10 }))).rejects.toMatchObject({
      code: 43,
    });
    expect(queries).toHaveLength(3);
  });

  it('does not retry errors a re-query cannot fix', async () => {
    const bad = new MongoServerError({ message: 'unknown operator: $foo', code: 2, codeName: 'BadValue' });
    const { coll, queries } = fakeCollection(ids, { failures: [{ after: 3, error: bad }] });
    await expect(collect(createUserSource(coll, {}, { retryDelayMs: 1 }).batches({ batchSize: 10 }))).rejects.toBe(bad);
    expect(queries).toHaveLength(1);
  });

  it('stops without an error once the signal is aborted, closing the cursor', async () => {
    const { coll, closed } = fakeCollection(ids);
    const ac = new AbortController();
    const seen: unknown[] = [];
    for await (const b of createUserSource(coll, {}).batches({ batchSize: 10, signal: ac.signal })) {
      seen.push(...b.map((d) => d._id));
      ac.abort();
    }
    expect(seen).toHaveLength(10);
    expect(closed()).toBe(1);
  });

  it('rejects a batch size that is not a positive integer', async () => {
    const { coll } = fakeCollection(ids);
    await expect(collect(createUserSource(coll, {}).batches({ batchSize: 0 }))).rejects.toThrow(/batchSize/);
  });
});

describe('isResumableReadError', () => {
  it('accepts lost cursors and network trouble, rejects query errors', () => {
    expect(isResumableReadError(cursorNotFound())).toBe(true);
    expect(isResumableReadError(new MongoServerError({ message: 'x', code: 11600 }))).toBe(true);
    expect(isResumableReadError(new MongoServerError({ message: 'bad', code: 2 }))).toBe(false);
    expect(isResumableReadError(new Error('boom'))).toBe(false);
  });
});

describe('afterCondition', () => {
  it('also asks for later BSON types, so mixed _id types survive a resume', () => {
    expect(afterCondition(5)).toEqual({ $or: [{ _id: { $gt: 5 } }, { _id: { $type: ['string', 'object', 'binData', 'objectId', 'bool', 'date', 'timestamp', 'regex'] } }] });
    const oid = new ObjectId();
    expect(afterCondition(oid)).toEqual({ $or: [{ _id: { $gt: oid } }, { _id: { $type: ['bool', 'date', 'timestamp', 'regex'] } }] });
  });
});
