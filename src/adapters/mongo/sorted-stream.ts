// One server cursor over a query sorted by a key, read a batch at a time and re-opened after the
// last key seen when the server loses it (idle cursor timeout, failover). One cursor, not a query
// per batch: on a server without a usable index every query reads the whole collection, so a
// query per batch would multiply that by the number of batches.
import {
  BSON,
  MongoError,
  MongoNetworkError,
  MongoServerSelectionError,
  type Collection,
  type Document,
  type FindOptions,
} from 'mongodb';
import { sleep } from '../../core/clock.js';
import type { UserDoc } from '../../core/ports.js';

// Errors after which the same query, resumed from the last key, can succeed: the cursor is gone
// (idle timeout, killCursors, server restart) or the connection or primary went away.
const RESUMABLE_CODES = new Set([
  43, // CursorNotFound
  237, // CursorKilled
  175, // QueryPlanKilled
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** True for failures a re-query from the last key can get past. */
export function isResumableReadError(err: unknown): boolean {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number' && RESUMABLE_CODES.has(code)) return true;
  return err instanceof MongoError && /not primary|node is recovering/i.test(err.message);
}

/** `filter` narrowed by `cond` (just `cond` when there is no filter). */
function narrowed(filter: Document, cond: Document): Document {
  return Object.keys(filter).length === 0 ? cond : { $and: [filter, cond] };
}

export interface SortedStreamOptions {
  filter: Document;
  /** Must end with `_id` so the order is total (resuming relies on it). */
  sort: Document;
  /** Documents strictly after `last` in `sort` order (ANDed with `filter` on a resume). */
  after: (last: UserDoc) => Document;
  /** Where the first query starts, as a condition like `after` returns. Default: the beginning. */
  start?: Document;
  /** Fields to read (MongoDB projection). Default: the whole document. */
  projection?: Document;
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
    // raw: the driver hands over each document's BSON bytes and they are decoded here. Its own
    // decoding allocates several times more garbage per document, which on a 100,000-user stream
    // shows up as tens of MB of peak RSS.
    const options: FindOptions = { sort: o.sort, batchSize: o.batchSize, raw: true };
    if (o.projection) options.projection = o.projection;
    const from = last ? o.after(last) : o.start;
    const cursor = users.find(from ? narrowed(o.filter, from) : o.filter, options);
    // The next server batch, asked for before a full batch is handed over, so the server reads it
    // while the caller works on this one (a getMore of 500 users takes FerretDB tens of
    // milliseconds: long enough to let a send queue run dry at every batch).
    let ahead: Promise<boolean> | undefined;
    try {
      // hasNext() fetches a server batch; readBufferedDocuments() then takes it without a promise
      // per document, which keeps garbage (and peak memory) low on large streams.
      while (await (ahead ?? cursor.hasNext())) {
        ahead = undefined;
        const raw = cursor.readBufferedDocuments(o.batchSize - batch.length) as unknown as Uint8Array[];
        if (raw.length === 0) continue;
        failures = 0;
        const docs = raw.map((bytes) => BSON.deserialize(bytes) as UserDoc);
        batch.push(...docs);
        last = docs[docs.length - 1];
        if (batch.length >= o.batchSize) {
          const full = batch;
          batch = [];
          ahead = cursor.hasNext();
          ahead.catch(() => {}); // observed by the loop's await; never unhandled if the caller stops
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
      if (ahead) await ahead.catch(() => {});
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
