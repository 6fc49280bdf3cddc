// Every index mailcron's queries rely on, in one registry: `doctor` checks them, `doctor --fix`
// and the commands that need them create them. Append an entry when a new query needs one.
import type { Db, Document, IndexDescription } from 'mongodb';
import type { Config } from '../../core/config.js';
import { COLLECTIONS } from './client.js';

export interface IndexSpec {
  /** Collection name; the literal `'users'` means the configured users collection (MAILCRON_USERS). */
  collection: 'users' | (string & {});
  key: Document;
  name: string;
  unique?: boolean;
  partialFilterExpression?: Document;
  /** Why the index exists (shown by doctor). */
  why: string;
  /** The command whose queries need it. */
  command: string;
}

// `users._id` and every collection's `_id` index exist implicitly and are not listed.
export const REQUIRED_INDEXES: IndexSpec[] = [
  {
    collection: 'users',
    key: { 'mailcron.nextAt': 1, _id: 1 },
    name: 'mailcron_nextAt',
    why: 'a schedule run reads only the users that are due, not every user (in nextAt, _id order, by key)',
    command: 'schedule',
  },
  {
    // `schedule` is the default schedule field; `schedule --schedule-field` substitutes its own.
    collection: 'users',
    key: { 'mailcron.scheduleHash': 1, schedule: 1 },
    name: 'mailcron_plan',
    why: 'a schedule run finds users with a schedule but no plan (new or edited) without reading the others',
    command: 'schedule',
  },
  {
    collection: COLLECTIONS.runs,
    key: { kind: 1, startedAt: -1 },
    name: 'mailcron_runs_kind_started',
    why: 'status finds the last schedule run without reading every run',
    command: 'schedule',
  },
  {
    collection: COLLECTIONS.deliveries,
    key: { scope: 1, status: 1, sentAt: 1 },
    name: 'mailcron_scope_status_sent',
    why: 'counts deliveries per broadcast (scope) and status, and finds first/last send, without scanning the ledger',
    command: 'status',
  },
  {
    collection: COLLECTIONS.claims,
    key: { scope: 1, gen: 1 },
    name: 'mailcron_claims_scope_gen',
    why: 'counts deliveries in flight per broadcast (scope), and retries under way, without scanning the claims',
    command: 'status',
  },
  {
    collection: COLLECTIONS.broadcasts,
    key: { startedAt: -1 },
    name: 'mailcron_broadcasts_started',
    why: 'status lists the latest broadcasts first',
    command: 'status',
  },
];

export interface IndexCheck {
  spec: IndexSpec;
  /** Resolved collection name. */
  collection: string;
  present: boolean;
  /** Name of the existing index with the same key, when it was created under another name. */
  existingName?: string;
}

type IndexConfig = Pick<Config, 'usersCollection'>;

export function collectionOf(spec: IndexSpec, config: IndexConfig): string {
  return spec.collection === 'users' ? config.usersCollection : spec.collection;
}

function sameKey(a: Document, b: Document): boolean {
  const ka = Object.entries(a);
  const kb = Object.entries(b);
  return ka.length === kb.length && ka.every(([k, v], i) => kb[i]![0] === k && String(kb[i]![1]) === String(v));
}

async function listIndexes(db: Db, collection: string): Promise<Document[]> {
  try {
    return await db.collection(collection).indexes();
  } catch (err) {
    if ((err as { code?: unknown }).code === 26) return []; // NamespaceNotFound: no collection yet
    throw err;
  }
}

/**
 * Which required indexes exist. An index counts as present when one with the same key (and the
 * same uniqueness) exists, whatever its name, since that is what the query planner uses.
 */
export async function checkIndexes(db: Db, config: IndexConfig, specs: readonly IndexSpec[] = REQUIRED_INDEXES): Promise<IndexCheck[]> {
  const byCollection = new Map<string, Document[]>();
  const out: IndexCheck[] = [];
  for (const spec of specs) {
    const collection = collectionOf(spec, config);
    let existing = byCollection.get(collection);
    if (!existing) {
      existing = await listIndexes(db, collection);
      byCollection.set(collection, existing);
    }
    const match = existing.find((ix) => ix.name === spec.name || (sameKey(ix.key as Document, spec.key) && Boolean(ix.unique) === Boolean(spec.unique)));
    const check: IndexCheck = { spec, collection, present: Boolean(match) };
    if (match && match.name !== spec.name) check.existingName = String(match.name);
    out.push(check);
  }
  return out;
}

/**
 * Creates the required indexes that are missing (createIndexes, which also creates the collection).
 * Idempotent: present indexes, under any name, are left alone. Returns the ones it created.
 * One index per command: FerretDB 1.24 drops the connection when one createIndexes names several
 * indexes that all exist, which two runs starting together would hit.
 */
export async function ensureIndexes(db: Db, config: IndexConfig, specs: readonly IndexSpec[] = REQUIRED_INDEXES): Promise<IndexCheck[]> {
  const missing = (await checkIndexes(db, config, specs)).filter((c) => !c.present);
  for (const { spec, collection } of missing) {
    const d: IndexDescription = { key: spec.key, name: spec.name };
    if (spec.unique) d.unique = true;
    if (spec.partialFilterExpression) d.partialFilterExpression = spec.partialFilterExpression;
    await db.collection(collection).createIndexes([d]);
  }
  return missing.map((c) => ({ ...c, present: true }));
}
