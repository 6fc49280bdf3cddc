// The user source against the real test server (FerretDB by default).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Long, MongoClient, ObjectId, type Collection, type Document } from 'mongodb';
import { createUserSource } from '../../../../src/adapters/mongo/user-source.js';
import { openTestDb, type TestDb } from '../../../helpers/mongo.js';

let t: TestDb;
let users: Collection<Document>;
beforeAll(async () => {
  t = await openTestDb('usrc');
  users = t.db.collection('users');
  const docs: Document[] = Array.from({ length: 1000 }, (_, i) => ({ _id: i + 1, email: `u${i + 1}@example.test`, active: i % 3 !== 0, bio: 'x'.repeat(50) }));
  await users.insertMany(docs);
});
afterAll(() => t.drop());

describe('createUserSource (MongoDB)', () => {
  it('streams 1,000 users in batches of 100, in _id order, each once', async () => {
    const source = createUserSource(users, {});
    expect(await source.count()).toBe(1000);
    const sizes: number[] = [];
    const seen: number[] = [];
    for await (const batch of source.batches({ batchSize: 100 })) {
      sizes.push(batch.length);
      seen.push(...batch.map((u) => u._id as number));
    }
    expect(sizes).toEqual(Array(10).fill(100));
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it('applies the query and the projection, and resumes after `after`', async () => {
    const source = createUserSource(users, { active: true }, { projection: { email: 1 } });
    expect(await source.count()).toBe(666);
    const seen: Document[] = [];
    for await (const batch of source.batches({ after: 900, batchSize: 100 })) seen.push(...batch);
    const expected = Array.from({ length: 100 }, (_, i) => i + 901).filter((id) => (id - 1) % 3 !== 0);
    expect(seen.map((u) => u._id)).toEqual(expected);
    expect(Object.keys(seen[0]!).sort()).toEqual(['_id', 'email']);
  });

  it('re-queries from the last _id when the server cursor is killed mid-iteration', async () => {
    // A client that records the cursor ids the server hands out, so the test can kill them the way
    // a server restart or the 10-minute idle timeout would.
    const client = new MongoClient(t.uri, { monitorCommands: true });
    const open = new Set<unknown>();
    let finds = 0;
    // The source reads ahead, so a getMore may be under way when the test kills the cursor; the
    // server may finish it and keep the cursor. Killing only between commands makes each kill
    // end its cursor for sure.
    let inFlight = 0;
    client.on('commandStarted', (e) => {
      inFlight++;
      if (e.commandName === 'find') finds++;
    });
    client.on('commandSucceeded', (e) => {
      inFlight--;
      const id: unknown = (e.reply as Document)?.cursor?.id;
      if (id !== undefined && String(id) !== '0') open.add(id);
    });
    client.on('commandFailed', () => inFlight--);
    const idle = async () => {
      // A first pause lets a getMore asked for just before the batch was handed over start.
      do await new Promise((r) => setTimeout(r, 5));
      while (inFlight > 0);
    };
    const killedIds = new Set<string>();
    await client.connect();
    try {
      const source = createUserSource(client.db(t.name).collection('users'), {}, { retryDelayMs: 10 });
      const seen: number[] = [];
      let killed = 0;
      for await (const batch of source.batches({ batchSize: 100 })) {
        seen.push(...batch.map((u) => u._id as number));
        if (seen.length === 300 || seen.length === 700) {
          await idle();
          const res = await t.db.command({ killCursors: 'users', cursors: [...open].map((id) => Long.fromString(String(id))) });
          killed += (res.cursorsKilled as unknown[]).length;
          for (const id of res.cursorsKilled as unknown[]) killedIds.add(String(id));
          open.clear();
        }
      }
      expect(killed).toBe(2);
      expect(killedIds.size).toBe(2); // two different cursors: the re-query opened a new one
      expect(finds).toBe(3); // the first query and one re-query per killed cursor
      expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    } finally {
      await client.close();
    }
  });

  it('streams mixed _id types in BSON order and resumes across types', async () => {
    const mixed = t.db.collection('mixed');
    const oids = [new ObjectId('000000000000000000000001'), new ObjectId('000000000000000000000002')];
    await mixed.insertMany([{ _id: 2 }, { _id: 'b' }, { _id: oids[1] } as Document, { _id: 1 }, { _id: 'a' }, { _id: oids[0] } as Document]);
    const all: unknown[] = [];
    for await (const b of createUserSource(mixed, {}).batches({ batchSize: 2 })) all.push(...b.map((u) => u._id));
    expect(all).toEqual([1, 2, 'a', 'b', oids[0], oids[1]]);
    const rest: unknown[] = [];
    for await (const b of createUserSource(mixed, {}).batches({ after: 2, batchSize: 2 })) rest.push(...b.map((u) => u._id));
    expect(rest).toEqual(['a', 'b', oids[0], oids[1]]);
  });
});
