// The operator's listing of users: one page by number (as the backend's admin endpoint did), one
// page by key (`--after`), or everything streamed in `_id` order with bounded memory.
import type { UserDoc, UserSource } from './ports.js';

/** Users matching one audience, in `_id` order. The adapter fixes the query and projection. */
export interface UserQuery {
  count(): Promise<number>;
  /** One page by position: `skip` users, then up to `limit`. Fine for one page; never used to stream. */
  page(skip: number, limit: number): Promise<UserDoc[]>;
  /** Up to `limit` users with `_id` after `after` (keyset). */
  after(after: unknown, limit: number): Promise<UserDoc[]>;
  /** Everything, a batch at a time (the same source broadcasts use). */
  source: UserSource;
}

/** Largest `--limit`: a page is held in memory and printed at once. */
export const MAX_PAGE_LIMIT = 1000;
/** Default `--limit`, as the backend's admin endpoint. */
export const DEFAULT_PAGE_LIMIT = 50;

export interface UserPage {
  users: UserDoc[];
  total: number;
  page: number;
  limit: number;
  total_pages: number;
}

/** Page `page` (1-based) of `limit` users, with the total, as `{ users, total, page, limit, total_pages }`. */
export async function listPage(q: UserQuery, options: { page: number; limit: number }): Promise<UserPage> {
  const { page, limit } = options;
  const [total, users] = await Promise.all([q.count(), q.page((page - 1) * limit, limit)]);
  return { users, total, page, limit, total_pages: Math.ceil(total / limit) };
}

export interface UserKeyPage {
  users: UserDoc[];
  total: number;
  limit: number;
  /** The `_id` the page started after (undefined for the first page). */
  after: unknown;
  /** Pass as `--after` for the next page; null when this page is the last. */
  next_after: unknown;
}

/**
 * Up to `limit` users after `after` (from the start when undefined). Reads one extra user to know
 * whether another page follows, so `next_after` is null exactly on the last page.
 */
export async function listAfter(q: UserQuery, options: { after?: unknown; limit: number }): Promise<UserKeyPage> {
  const { after, limit } = options;
  const [total, read] = await Promise.all([
    q.count(),
    after === undefined ? q.page(0, limit + 1) : q.after(after, limit + 1),
  ]);
  const users = read.slice(0, limit);
  const next_after = read.length > limit ? users[users.length - 1]!._id : null;
  return { users, total, limit, after, next_after };
}

export interface StreamResult {
  /** Users written. */
  count: number;
  /** True when the signal stopped the stream before the end. */
  interrupted: boolean;
}

/**
 * Streams every user to `write`, a batch at a time, waiting for each write (back-pressure) before
 * reading on. Memory stays at about two batches whatever the collection size. Default batch 500.
 */
export async function streamUsers(
  source: UserSource,
  write: (users: UserDoc[]) => Promise<void> | void,
  options: { batchSize?: number; signal?: AbortSignal } = {},
): Promise<StreamResult> {
  let count = 0;
  const batchSize = options.batchSize ?? 500;
  for await (const batch of source.batches({ batchSize, signal: options.signal })) {
    await write(batch);
    count += batch.length;
  }
  return { count, interrupted: Boolean(options.signal?.aborted) };
}
