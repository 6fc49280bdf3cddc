// A MongoDB wire-protocol proxy on loopback that counts the documents the server returns from
// each collection (cursor firstBatch/nextBatch of OP_MSG replies). Tests point the CLI at it to
// assert what a run read, independently of the CLI's own counters — and on servers such as
// FerretDB v1, whose explain has no executionStats.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { BSON } from 'mongodb';

const OP_MSG = 2013;
const QUERY_COMMANDS = new Set(['find', 'aggregate']);

interface Query {
  command: string;
  filter: unknown;
  limit?: unknown;
  returned: number;
}

export interface WireProxy {
  port: number;
  /** URI for the CLI: the proxy, with the database name and a direct connection. */
  uri(dbName: string): string;
  /** Documents returned by queries (find, getMore, aggregate) on `db.collection`, since start or the last reset. */
  returned(ns: string): number;
  /** Per query on `db.collection` (a find and its getMores): its filter and the documents returned. */
  queries(ns: string): { command: string; filter: unknown; limit?: unknown; returned: number }[];
  /** Commands sent by clients, by name (`find`, `getMore`, `update`, …), with their namespaces. */
  commands(): { name: string; collection: unknown; filter?: unknown; ms?: number }[];
  reset(): void;
  close(): Promise<void>;
}

/** Splits a byte stream into wire messages and calls `onMessage` for each complete one. */
function framer(onMessage: (msg: Buffer) => void) {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4) {
      const len = pending.readInt32LE(0);
      if (pending.length < len) break;
      onMessage(pending.subarray(0, len));
      pending = pending.subarray(len);
    }
  };
}

/** The body (section kind 0) of an OP_MSG, or undefined for other messages. */
function opMsgBody(msg: Buffer): BSON.Document | undefined {
  if (msg.readInt32LE(12) !== OP_MSG) return undefined;
  const flags = msg.readUInt32LE(16);
  const end = flags & 1 ? msg.length - 4 : msg.length; // checksumPresent
  let off = 20;
  while (off < end) {
    const kind = msg[off]!;
    off += 1;
    const size = msg.readInt32LE(off);
    if (kind === 0) return BSON.deserialize(msg.subarray(off, off + size));
    off += size;
  }
  return undefined;
}

export async function startWireProxy(upstreamUri: string): Promise<WireProxy> {
  const up = new URL(upstreamUri);
  const upHost = up.hostname;
  const upPort = Number(up.port || 27017);
  const counts = new Map<string, number>();
  // requestID → the query it carries; cursor id → that query (for getMore).
  const requests = new Map<number, Query>();
  const cursors = new Map<string, Query>();
  let queries: (Query & { ns: string })[] = [];
  let commands: { name: string; collection: unknown; filter?: unknown; ms?: number; at?: number }[] = [];
  const pendingCommands = new Map<number, { ms?: number; at?: number }>();
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: upHost, port: upPort });
    sockets.add(client);
    sockets.add(upstream);
    // Cursor replies name their namespace; getMore replies do too.
    upstream.on(
      'data',
      framer((msg) => {
        try {
          const body = opMsgBody(msg);
          const cmd = pendingCommands.get(msg.readInt32LE(8));
          if (cmd?.at !== undefined) {
            cmd.ms = Date.now() - cmd.at;
            pendingCommands.delete(msg.readInt32LE(8));
          }
          const query = requests.get(msg.readInt32LE(8)); // responseTo
          requests.delete(msg.readInt32LE(8));
          const cursor = body?.cursor as { ns?: string; id?: unknown; firstBatch?: unknown[]; nextBatch?: unknown[] } | undefined;
          // Only query results count: listIndexes and other cursors name the collection too.
          if (query && cursor?.ns) {
            const n = (cursor.firstBatch ?? cursor.nextBatch ?? []).length;
            counts.set(cursor.ns, (counts.get(cursor.ns) ?? 0) + n);
            query.returned += n;
            if (cursor.firstBatch) queries.push(Object.assign(query, { ns: cursor.ns }));
            if (cursor.id !== undefined && String(cursor.id) !== '0') cursors.set(String(cursor.id), query);
          }
        } catch {
          // Not a message we understand: forwarded untouched all the same.
        }
        client.write(msg);
      }),
    );
    client.on(
      'data',
      framer((msg) => {
        try {
          const body = opMsgBody(msg);
          if (body) {
            const name = Object.keys(body)[0]!;
            const requestId = msg.readInt32LE(4);
            const entry = { name, collection: body[name], ...(body.filter !== undefined ? { filter: body.filter } : {}), at: Date.now() };
            commands.push(entry);
            pendingCommands.set(requestId, entry);
            if (QUERY_COMMANDS.has(name)) {
              requests.set(requestId, { command: name, filter: body.filter ?? body.pipeline, ...(body.limit !== undefined ? { limit: body.limit } : {}), returned: 0 });
            } else if (name === 'getMore') {
              const q = cursors.get(String(body.getMore));
              if (q) requests.set(requestId, q);
            }
          }
        } catch {
          // ignore
        }
        upstream.write(msg);
      }),
    );
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    uri: (dbName) => `mongodb://127.0.0.1:${port}/${dbName}?directConnection=true`,
    returned: (ns) => counts.get(ns) ?? 0,
    queries: (ns) => queries.filter((q) => q.ns === ns).map(({ ns: _ns, ...q }) => q),
    commands: () => commands.map(({ at: _at, ...c }) => c),
    reset() {
      counts.clear();
      commands = [];
      queries = [];
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
