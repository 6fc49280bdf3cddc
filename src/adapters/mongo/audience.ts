// Which users a command addresses: the activity condition plus an optional --filter in
// MongoDB extended JSON (so ObjectId, dates and numbers survive the shell).
import { BSON, type Document } from 'mongodb';
import { UsageError } from '../../core/errors.js';

export type Activity = 'active' | 'inactive' | 'any';

/** Parses `--filter` text as extended JSON; a malformed filter is a UsageError naming the problem. */
export function parseFilter(text: string | undefined): Document {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = BSON.EJSON.parse(text, { relaxed: true });
  } catch (err) {
    throw new UsageError(`--filter: not valid extended JSON (${(err as Error).message}); e.g. --filter '{"plan":"pro"}'`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`--filter: must be a JSON object, e.g. --filter '{"plan":"pro"}'`);
  }
  if (JSON.stringify(value).includes('"$where"')) {
    throw new UsageError('--filter: $where is not allowed (server-side JavaScript); use query operators');
  }
  return value as Document;
}

/**
 * The query for an audience. `active` (the default) means `active: true`; `inactive` means
 * anything else (false or missing); `any` adds no condition. The filter is ANDed on top.
 */
export function audienceQuery(activity: Activity, filter: Document = {}): Document {
  const parts: Document[] = [];
  if (activity === 'active') parts.push({ active: true });
  if (activity === 'inactive') parts.push({ active: { $ne: true } });
  if (Object.keys(filter).length > 0) parts.push(filter);
  if (parts.length === 0) return {};
  return parts.length === 1 ? parts[0]! : { $and: parts };
}
