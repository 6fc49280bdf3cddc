// Per-file database on the shared test server: each test file works in a database of its own,
// so files run in parallel without seeing each other's users or ledger.
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { inject } from 'vitest';

export interface TestDb {
  client: MongoClient;
  db: Db;
  /** URI with the database name in the path, for the CLI. */
  uri: string;
  name: string;
  drop(): Promise<void>;
}

export function testMongoUri(): string {
  return inject('mongodbUri');
}

export function withDbName(uri: string, name: string): string {
  const u = new URL(uri);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function openTestDb(prefix = 't'): Promise<TestDb> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const base = testMongoUri();
  const client = new MongoClient(base, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  const db = client.db(name);
  return {
    client,
    db,
    name,
    uri: withDbName(base, name),
    async drop() {
      await db.dropDatabase().catch(() => {});
      await client.close();
    },
  };
}
