// The UserSource port over a MongoDB collection: one cursor sorted by `_id`, read a batch at a
// time, re-opened from the last `_id` seen when the server loses it. Never skip/limit: a skip
// rescans everything before it, and users inserted or deleted between pages shift the window, so
// some are seen twice and others never.
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
import type { UserDoc, UserSource } from '../../core/ports.js';

export interface UserSourceOptions {
  /** Fields to read (MongoDB projection). Default: the whole document. */
  projection?: Document;
  /** Re-opens allowed in a row without progress before the error is thrown. Default 4. */
  maxRetries?: number;
  /** First backoff before re-opening; doubles on each retry in a row. Default 200 ms. */
  retryDelayMs?: number;
}

// Errors after which the same query, resumed from the last `_id`, can succeed: the cursor is gone
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

/** True for failures a re-query from the last `_id` can get past. */
export function isResumableReadError(err: unknown): boolean {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number' && RESUMABLE_CODES.has(code)) return true;
  return err instanceof MongoError && /not primary|node is recovering/i.test(err.message);
}

// MongoDB sorts values of different BSON types by type first (numbers < strings < objects <
// binData < ObjectId < booleans < dates < timestamps < regexes), but `$gt` only matches values of
// the same type as its operand. So resuming after an `_id` also asks for every later type, or a
// collection with mixed `_id` types would silently lose users after a resume.
const TYPE_ORDER = ['minKey', 'null', 'number', 'string', 'object', 'binData', 'objectId', 'bool', 'date', 'timestamp', 'regex', 'maxKey'] as const;

function typeBracket(v: unknown): (typeof TYPE_ORDER)[number] | undefined {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Date) return 'date';
  if (v instanceof RegExp) return 'regex';
  const bsontype = (v as { _bsontype?: unknown })._bsontype;
  switch (bsontype) {
    case 'Int32':
    case 'Double':
    case 'Long':
    case 'Decimal128':
      return 'number';
    case 'BSONSymbol':
      return 'string';
    case 'Binary':
      return 'binData';
    case 'ObjectId':
      return 'objectId';
    case 'Timestamp':
      return 'timestamp';
    case 'BSONRegExp':
      return 'regex';
    case 'MinKey':
      return 'minKey';
    case 'MaxKey':
      return 'maxKey';
    case undefined:
      return typeof v === 'object' ? 'object' : undefined;
    default:
      return undefined;
  }
}

/** `_id` strictly after `after` in MongoDB's sort order, across BSON types. */
export function afterCondition(after: unknown): Document {
  const gt = { _id: { $gt: after } };
  const bracket = typeBracket(after);
  // minKey/maxKey `_id`s are left out: nobody uses them and FerretDB rejects the aliases.
  const later = bracket === undefined ? [] : TYPE_ORDER.slice(TYPE_ORDER.indexOf(bracket) + 1).filter((t) => t !== 'maxKey');
  if (later.length === 0) return gt;
  return { $or: [gt, { _id: { $type: [...later] } }] };
}

function withAfter(query: Document, after: unknown, hasAfter: boolean): Document {
  if (!hasAfter) return query;
  const cond = afterCondition(after);
  return Object.keys(query).length === 0 ? cond : { $and: [query, cond] };
}

/**
 * Users matching `query`, streamed in ascending `_id` order. Memory holds at most one batch plus
 * the driver's buffer (about 2 × batchSize documents). Iteration ends early, without an error,
 * once `signal` is aborted; the caller decides what an interruption means.
 */
export function createUserSource(users: Collection<Document>, query: Document, options: UserSourceOptions = {}): UserSource {
  const maxRetries = options.maxRetries ?? 4;
  const retryDelayMs = options.retryDelayMs ?? 200;
  return {
    count: () => users.countDocuments(query),
    async *batches({ after, batchSize, signal }) {
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
      let last = after;
      let hasLast = after !== undefined;
      let failures = 0;
      let batch: UserDoc[] = [];
      for (;;) {
        if (signal?.aborted) return;
        // raw: the driver hands over each document's BSON bytes and we decode them here. Its own
        // decoding allocates several times more garbage per document, which on a 100,000-user
        // stream shows up as tens of MB of peak RSS.
        const findOptions: FindOptions = { sort: { _id: 1 }, batchSize, raw: true };
        if (options.projection) findOptions.projection = { ...options.projection, _id: 1 };
        const cursor = users.find(withAfter(query, last, hasLast), findOptions);
        // The next server batch, asked for before a full batch is handed over, so the server reads
        // it while the caller claims and sends this one (a getMore of 500 users takes FerretDB tens
        // of milliseconds: long enough to let the send queue run dry at every batch).
        let ahead: Promise<boolean> | undefined;
        try {
          // hasNext() fetches a server batch; readBufferedDocuments() then takes it without a
          // promise per document, which keeps garbage (and peak memory) low on large streams.
          while (await (ahead ?? cursor.hasNext())) {
            ahead = undefined;
            const raw = cursor.readBufferedDocuments(batchSize - batch.length) as unknown as Uint8Array[];
            if (raw.length === 0) continue;
            failures = 0;
            const docs = raw.map((bytes) => BSON.deserialize(bytes) as UserDoc);
            batch.push(...docs);
            last = docs[docs.length - 1]!._id;
            hasLast = true;
            if (batch.length >= batchSize) {
              const full = batch;
              batch = [];
              ahead = cursor.hasNext();
              ahead.catch(() => {}); // observed by the loop's await; never unhandled if the caller stops
              yield full;
              if (signal?.aborted) return;
            }
          }
          if (batch.length > 0) yield batch;
          return;
        } catch (err) {
          if (!isResumableReadError(err) || failures >= maxRetries) throw err;
          failures += 1;
          // Documents already in `batch` are kept: the re-query starts after the last of them.
          try {
            await sleep(retryDelayMs * 2 ** (failures - 1), signal);
          } catch {
            return;
          }
        } finally {
          if (ahead) await ahead.catch(() => {});
          await cursor.close().catch(() => {});
        }
      }
    },
  };
}
