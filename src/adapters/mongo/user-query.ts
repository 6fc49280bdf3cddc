// The listing port over MongoDB: page by position, page by key, or stream, all sorted by `_id`.
import { ObjectId, type Collection, type Document } from 'mongodb';
import type { UserDoc } from '../../core/ports.js';
import type { UserQuery } from '../../core/list-users.js';
import { afterCondition, createUserSource } from './user-source.js';

/**
 * `--after` text as an `_id`: 24 hex digits → ObjectId, an integer → number, text in double
 * quotes → that string (for string ids that look like numbers), anything else → the string itself.
 */
export function parseAfterId(text: string): unknown {
  if (/^[0-9a-fA-F]{24}$/.test(text)) return new ObjectId(text);
  if (/^-?\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) return text.slice(1, -1);
  return text;
}

/**
 * A projection for dotted field names. `_id` is always read (keyset paging needs it); a path
 * under another requested path is dropped, since MongoDB rejects the pair as a path collision.
 */
export function projectionFor(fields: readonly string[]): Document {
  const projection: Document = { _id: 1 };
  for (const f of fields) {
    if (fields.some((g) => g !== f && f.startsWith(`${g}.`))) continue;
    if (f === '_id' || f.startsWith('_id.')) continue;
    projection[f] = 1;
  }
  return projection;
}

export function createUserQuery(users: Collection<Document>, query: Document, options: { projection?: Document } = {}): UserQuery {
  const { projection } = options;
  const find = (filter: Document, skip: number, limit: number) =>
    users.find(filter, { sort: { _id: 1 }, skip, limit, ...(projection ? { projection } : {}) }).toArray() as Promise<UserDoc[]>;
  return {
    count: () => users.countDocuments(query),
    page: (skip, limit) => find(query, skip, limit),
    after: (after, limit) => {
      const cond = afterCondition(after);
      return find(Object.keys(query).length === 0 ? cond : { $and: [query, cond] }, 0, limit);
    },
    source: createUserSource(users, query, projection ? { projection } : {}),
  };
}
