// The DoctorDatabase port over MongoDB: connect with short timeouts, read the server's version,
// look at the users collection and the required indexes, and create missing ones on request.
import { MongoClient, type Document } from 'mongodb';
import type { Config } from '../../core/config.js';
import type { DoctorDatabase, IndexState } from '../../core/doctor.js';
import { redactSecrets, redactUri } from '../../core/redact.js';
import { checkIndexes, ensureIndexes, REQUIRED_INDEXES, type IndexCheck } from './indexes.js';

type DoctorConfig = Pick<Config, 'mongodbUri' | 'dbName' | 'usersCollection' | 'secrets'>;

/**
 * Connects (server selection, connect and every operation bounded by `timeoutMs`, default 5 s).
 * Rejects with a message naming the URI (password hidden) and the reason.
 */
export async function openDoctorDatabase(config: DoctorConfig, options: { timeoutMs?: number } = {}): Promise<DoctorDatabase> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const client = new MongoClient(config.mongodbUri, {
    appName: 'mailcron-doctor',
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    socketTimeoutMS: timeoutMs * 2,
    maxPoolSize: 2,
  });
  try {
    await client.connect();
    await client.db(config.dbName).command({ ping: 1 });
  } catch (err) {
    await client.close().catch(() => {});
    const reason = redactSecrets((err as Error).message, config.secrets);
    throw new Error(`cannot reach ${redactUri(config.mongodbUri)}: ${reason}`, { cause: err });
  }
  const db = client.db(config.dbName);
  const checks = new Map<IndexState, IndexCheck>();
  return {
    async server() {
      const info: Document = await db.command({ buildInfo: 1 });
      const version = String(info.version ?? 'unknown');
      // FerretDB answers with a MongoDB-compatible version and its own in ferretdbVersion.
      if (typeof info.ferretdbVersion === 'string') return { version, product: `FerretDB ${info.ferretdbVersion}` };
      return { version };
    },
    async users() {
      const collections = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => String(c.name)).sort();
      const name = config.usersCollection;
      if (!collections.includes(name)) return { name, exists: false, collections };
      const users = db.collection(name);
      // The estimate reads collection metadata, so doctor stays fast on millions of users.
      const count = await users.estimatedDocumentCount().catch(() => users.countDocuments({}));
      return { name, exists: true, count, collections };
    },
    async indexes() {
      const found = await checkIndexes(db, config);
      return found.map((c) => {
        const state: IndexState = {
          collection: c.collection,
          name: c.spec.name,
          key: c.spec.key,
          present: c.present,
          why: c.spec.why,
          command: c.spec.command,
          onUsers: c.spec.collection === 'users',
        };
        if (c.existingName) state.existingName = c.existingName;
        checks.set(state, c);
        return state;
      });
    },
    async createIndexes(missing) {
      const specs = missing.map((m) => checks.get(m)?.spec ?? REQUIRED_INDEXES.find((s) => s.name === m.name)).filter((s) => s !== undefined);
      await ensureIndexes(db, config, specs);
    },
    close: () => client.close(),
  };
}
