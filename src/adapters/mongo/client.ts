// One MongoClient per run. Connection failures become FatalError with what to check next.
import { MongoClient, type Collection, type Db, type Document } from 'mongodb';
import type { Config } from '../../core/config.js';
import { FatalError } from '../../core/errors.js';
import { redactSecrets, redactUri } from '../../core/redact.js';

export const COLLECTIONS = {
  deliveries: 'mailcron_deliveries',
  claims: 'mailcron_claims',
  broadcasts: 'mailcron_broadcasts',
  locks: 'mailcron_locks',
  runs: 'mailcron_runs',
} as const;

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  users: Collection<Document>;
  close(): Promise<void>;
}

/**
 * Connects and pings, failing fast (5 s server selection) with a message that names the URI
 * (password hidden) and what to check. Pool size follows the send concurrency: ledger writes are
 * batched, so a few connections beyond it are enough.
 */
export async function connectMongo(config: Config, options: { serverSelectionTimeoutMS?: number } = {}): Promise<MongoHandle> {
  const client = new MongoClient(config.mongodbUri, {
    appName: 'mailcron',
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
    maxPoolSize: Math.max(10, config.concurrency + 5),
    ignoreUndefined: true,
  });
  try {
    await client.connect();
    await client.db(config.dbName).command({ ping: 1 });
  } catch (err) {
    await client.close().catch(() => {});
    throw mongoUnreachable(config, err);
  }
  const db = client.db(config.dbName);
  return {
    client,
    db,
    users: db.collection(config.usersCollection),
    close: () => client.close(),
  };
}

export function mongoUnreachable(config: Config, err: unknown): FatalError {
  const reason = redactSecrets((err as Error)?.message ?? String(err), config.secrets);
  return new FatalError(
    `MongoDB unreachable at ${redactUri(config.mongodbUri)}: ${reason}. Check MONGODB_URI and that the server is running (mailcron doctor).`,
    { cause: err },
  );
}
