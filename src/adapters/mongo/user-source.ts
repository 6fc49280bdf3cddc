// The UserSource port over a MongoDB collection: one cursor sorted by `_id`, read a batch at a
// time, re-opened from the last `_id` seen when the server loses it. Never skip/limit: a skip
// rescans everything before it, and users inserted or deleted between pages shift the window, so
// some are seen twice and others never.
import type { Collection, Document } from 'mongodb';
import type { UserSource } from '../../core/ports.js';
import { sortedBatches } from './sorted-stream.js';

// Where a lost cursor counts as resumable lives with the stream that resumes it.
export { isResumableReadError } from './sorted-stream.js';

export interface UserSourceOptions {
  /** Fields to read (MongoDB projection). Default: the whole document. */
  projection?: Document;
  /** Re-opens allowed in a row without progress before the error is thrown. Default 4. */
  maxRetries?: number;
  /** First backoff before re-opening; doubles on each retry in a row. Default 200 ms. */
  retryDelayMs?: number;
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

/**
 * Users matching `query`, streamed in ascending `_id` order. Memory holds at most one batch plus
 * the driver's buffer (about 2 × batchSize documents). Iteration ends early, without an error,
 * once `signal` is aborted; the caller decides what an interruption means.
 */
export function createUserSource(users: Collection<Document>, query: Document, options: UserSourceOptions = {}): UserSource {
  const { projection, ...retry } = options;
  return {
    count: () => users.countDocuments(query),
    batches({ after, batchSize, signal }) {
      return sortedBatches(users, {
        filter: query,
        sort: { _id: 1 },
        after: (last) => afterCondition(last._id),
        ...(after !== undefined ? { start: afterCondition(after) } : {}),
        ...(projection ? { projection: { ...projection, _id: 1 } } : {}),
        batchSize,
        ...(signal ? { signal } : {}),
        ...retry,
      });
    },
  };
}
