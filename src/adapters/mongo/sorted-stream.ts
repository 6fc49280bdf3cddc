// One server cursor over a query sorted by a key, read a batch at a time and re-opened after the
// last key seen when the server loses it (idle cursor timeout, failover). One cursor, not a query
// per batch: on a server without a usable index every query reads the whole collection, so a
// query per batch would multiply that by the number of batches.
import { BSON, type Collection, type Document, type FindOptions } from 'mongodb';
import { sleep } from '../../core/clock.js';
import type { UserDoc } from '../../core/ports.js';
import { isResumableReadError } from './user-source.js';

export interface SortedStreamOptions {
  filter: Document;
  /** Must end with `_id` so the order is total (resuming relies on it). */
  sort: Document;
  /** Documents strictly after `last` in `sort` order (ANDed with `filter` on a resume). */
  after: (last: UserDoc) => Document;
  batchSize: number;
  signal?: AbortSignal;
  /** Re-opens in a row without progress before the error is thrown. Default 4. */
  maxRetries?: number;
  /** First backoff before re-opening, doubling on each retry in a row. Default 200 ms. */
  retryDelayMs?: number;
}

/**
 * Batches of at most `batchSize` documents in `sort` order. Memory: one batch plus the driver's
 * buffer. Ends early, without an error, once `signal` is aborted.
 */
export async function* sortedBatches(users: Collection<Document>, o: SortedStreamOptions): AsyncGenerator<UserDoc[]> {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${o.batchSize}`);
  const maxRetries = o.maxRetries ?? 4;
  const retryDelayMs = o.retryDelayMs ?? 200;
  let last: UserDoc | undefined;
  let failures = 0;
  let batch: UserDoc[] = [];
  for (;;) {
    if (o.signal?.aborted) return;
    // raw: decoding here, from the BSON bytes, makes several times less garbage than the driver's
    // own decoding (see user-source.ts).
    const options: FindOptions = { sort: o.sort, batchSize: o.batchSize, raw: true };
    const cursor = users.find(last ? { $and: [o.filter, o.after(last)] } : o.filter, options);
    try {
      while (await cursor.hasNext()) {
        const raw = cursor.readBufferedDocuments(o.batchSize - batch.length) as unknown as Uint8Array[];
        if (raw.length === 0) continue;
        failures = 0;
        const docs = raw.map((bytes) => BSON.deserialize(bytes) as UserDoc);
        batch.push(...docs);
        last = docs[docs.length - 1];
        if (batch.length >= o.batchSize) {
          const full = batch;
          batch = [];
          yield full;
          if (o.signal?.aborted) return;
        }
      }
      if (batch.length > 0) yield batch;
      return;
    } catch (err) {
      if (!isResumableReadError(err) || failures >= maxRetries) throw err;
      failures += 1;
      // Documents already in `batch` are kept: the re-query starts after the last of them.
      try {
        await sleep(retryDelayMs * 2 ** (failures - 1), o.signal);
      } catch {
        return;
      }
    } finally {
      await cursor.close().catch(() => {});
    }
  }
}

/**
 * True when the explained plan reads `field` through an index (an IXSCAN whose key starts with
 * it), in the winning plan of MongoDB's explain, sharded or not. FerretDB v1 reports a SQLite plan
 * with `filterPushdown: false` instead: no IXSCAN, so false.
 */
export function planUsesIndexOn(explain: Document, field: string): boolean {
  const planner = (explain.queryPlanner ?? explain) as Document;
  const seen = new Set<unknown>();
  const walk = (node: unknown): boolean => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return false;
    seen.add(node);
    if (Array.isArray(node)) return node.some(walk);
    const n = node as Document;
    if (typeof n.stage === 'string' && /IXSCAN/.test(n.stage) && n.keyPattern && Object.keys(n.keyPattern as Document)[0] === field) return true;
    // Only what runs: rejected plans are not what the server does.
    return Object.entries(n).some(([k, v]) => k !== 'rejectedPlans' && walk(v));
  };
  return walk(planner.winningPlan ?? planner);
}
