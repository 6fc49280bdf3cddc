// The schedule store against the real test server (FerretDB by default): one query per pass,
// however many batches; resuming in (nextAt, _id) order; how the server answers the due query; and
// state writes that filter on `_id` alone yet leave a user edited meanwhile to be planned again.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MongoClient, type Collection, type CommandStartedEvent, type Document } from 'mongodb';
import { afterDueKey, createMongoScheduleStore, scheduleQueries } from '../../../../src/adapters/mongo/schedule-store.js';
import { planUsesIndexOn } from '../../../../src/adapters/mongo/sorted-stream.js';
import { ensureIndexes } from '../../../../src/adapters/mongo/indexes.js';
import { scheduleIndexes } from '../../../../src/adapters/mongo/schedule-store.js';
import type { StateUpdate } from '../../../../src/core/schedule/types.js';
import type { UserDoc } from '../../../../src/core/ports.js';
import { openTestDb, testMongoUri, type TestDb } from '../../../helpers/mongo.js';

let t: TestDb;
let client: MongoClient;
let users: Collection<Document>;
let commands: CommandStartedEvent[] = [];
beforeAll(async () => {
  t = await openTestDb('sstore');
  // A client of our own that reports every command it sends.
  client = new MongoClient(testMongoUri(), { monitorCommands: true });
  client.on('commandStarted', (e) => commands.push(e));
  await client.connect();
  users = client.db(t.name).collection('users');
});
afterAll(async () => {
  await client?.close();
  await t.drop();
});
beforeEach(async () => {
  await users.deleteMany({});
  commands = [];
});

const NOW = new Date('2025-03-10T08:05:00Z');
const at = (iso: string) => new Date(iso);
const digest = { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' };
const finds = () => commands.filter((c) => c.commandName === 'find' && c.command.find === 'users');
const ids = (batches: UserDoc[][]) => batches.flat().map((d) => d._id);

async function collect(it: AsyncIterable<UserDoc[]>): Promise<UserDoc[][]> {
  const out: UserDoc[][] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('reading', () => {
  it('due: every due user in (nextAt, _id) order, in batches, from one query', async () => {
    // 45 due users over three slot times, inserted out of order, and 20 that are not due.
    const docs = Array.from({ length: 65 }, (_, i) => ({
      _id: 1000 - i,
      schedule: digest,
      mailcron: { nextAt: i < 45 ? at(`2025-03-10T0${6 + (i % 3)}:00:00Z`) : at('2025-03-11T08:00:00Z'), scheduleHash: 'h' },
    }));
    await users.insertMany(docs as Document[]);
    const store = createMongoScheduleStore(client.db(t.name), users);
    commands = [];
    const batches = await collect(store.due(NOW, { batchSize: 10 }));
    expect(batches.map((b) => b.length)).toEqual([10, 10, 10, 10, 5]);
    const expected = docs
      .slice(0, 45)
      .sort((a, b) => a.mailcron.nextAt.getTime() - b.mailcron.nextAt.getTime() || a._id - b._id)
      .map((d) => d._id);
    expect(ids(batches)).toEqual(expected);
    expect(finds()).toHaveLength(1);
    expect(store.reads()).toEqual({ planning: 0, due: 45, replan: 0 });
  });

  it('pending: unplanned users (no nextAt first) and due users from one query, counted apart', async () => {
    await users.insertMany([
      { _id: 1, schedule: digest, mailcron: { nextAt: at('2025-03-10T08:00:00Z'), scheduleHash: 'h' } }, // due
      { _id: 2, schedule: digest }, // new
      { _id: 3, schedule: digest, mailcron: { nextAt: at('2025-03-12T08:00:00Z') } }, // edited under the contract, not due
      { _id: 4, schedule: digest, mailcron: { nextAt: at('2025-03-10T07:00:00Z'), scheduleHash: 'h' } }, // due, older
      { _id: 5, schedule: digest, mailcron: { nextAt: at('2025-03-12T08:00:00Z'), scheduleHash: 'h' } }, // planned, not due
      { _id: 6, mailcron: { nextAt: at('2025-03-10T06:00:00Z'), scheduleHash: 'h' } }, // schedule removed, still due: to unplan
      { _id: 7, name: 'no schedule' },
      { _id: 0, schedule: digest, mailcron: { scheduleHash: null } }, // new
    ] as Document[]);
    const store = createMongoScheduleStore(client.db(t.name), users);
    commands = [];
    const batches = await collect(store.pending(NOW, { batchSize: 3 }));
    expect(ids(batches)).toEqual([0, 2, 6, 4, 1, 3]);
    expect(finds()).toHaveLength(1);
    expect(store.reads()).toEqual({ planning: 3, due: 3, replan: 0 });
  });

  it('afterDueKey resumes right after the last user read, with or without a nextAt', async () => {
    await users.insertMany([
      { _id: 'b', schedule: digest },
      { _id: 'a', schedule: digest },
      { _id: 2, schedule: digest },
      { _id: 'c', schedule: digest, mailcron: { nextAt: at('2025-03-10T07:00:00Z'), scheduleHash: 'h' } },
      { _id: 'a', schedule: digest, mailcron: { nextAt: at('2025-03-10T07:00:00Z'), scheduleHash: 'h' } },
      { _id: 1, schedule: digest, mailcron: { nextAt: at('2025-03-10T08:00:00Z'), scheduleHash: 'h' } },
    ].map((d, i) => (i === 4 ? { ...d, _id: 'a2' } : d)) as Document[]);
    const pending = scheduleQueries('schedule').pending(NOW);
    const rest = async (last: Document) =>
      (await users.find({ $and: [pending, afterDueKey(last as UserDoc)] }, { sort: { 'mailcron.nextAt': 1, _id: 1 } }).toArray()).map((d) => d._id);
    expect((await users.find(pending, { sort: { 'mailcron.nextAt': 1, _id: 1 } }).toArray()).map((d) => d._id)).toEqual([2, 'a', 'b', 'a2', 'c', 1]);
    expect(await rest({ _id: 'a' })).toEqual(['b', 'a2', 'c', 1]);
    expect(await rest({ _id: 'a2', mailcron: { nextAt: at('2025-03-10T07:00:00Z') } })).toEqual(['c', 1]);
    expect(await rest({ _id: 1, mailcron: { nextAt: at('2025-03-10T08:00:00Z') } })).toEqual([]);
  });

  it('dueAccess says whether the due query is answered by an index', async () => {
    await users.insertMany([{ _id: 1, schedule: digest, mailcron: { nextAt: at('2025-03-10T08:00:00Z'), scheduleHash: 'h' } }] as Document[]);
    for (const spec of scheduleIndexes('schedule')) await ensureIndexes(client.db(t.name), { usersCollection: 'users' }, [spec]);
    const store = createMongoScheduleStore(client.db(t.name), users);
    const explain = await users.find(scheduleQueries('schedule').due(NOW)).sort({ 'mailcron.nextAt': 1, _id: 1 }).explain('queryPlanner');
    const access = await store.dueAccess(NOW);
    if (explain.filterPushdown === false) expect(access).toBe('scan'); // FerretDB v1: the index exists, queries never use it
    else expect(access).toBe(planUsesIndexOn(explain, 'mailcron.nextAt') ? 'index' : 'scan');
  });
});

describe('apply', () => {
  const state = (nextAt: Date | null, scheduleHash: string | null) => ({ nextAt, scheduleHash });
  const statements = () =>
    commands.flatMap((c) => {
      if (c.commandName === 'update' && c.command.update === 'users') return (c.command.updates as Document[]).map((u) => ({ op: 'update', q: u.q as Document }));
      if (c.commandName === 'find' && c.command.find === 'users') return [{ op: 'find', q: c.command.filter as Document }];
      if (c.commandName === 'findAndModify') return [{ op: 'findAndModify', q: c.command.query as Document }];
      return [];
    });
  const slot = at('2025-03-10T08:00:00Z');
  const next = at('2025-03-11T08:00:00Z');
  const plan = (userId: unknown, read: StateUpdate['expect']): StateUpdate => ({ userId, expect: read, set: { nextAt: next, scheduleHash: 'digest-hash', plannedAt: NOW, scheduleError: null } });

  it('string and ObjectId ids: one statement per user, filtered on exactly {_id}', async () => {
    await users.insertMany([
      { _id: 'a', schedule: digest, mailcron: { nextAt: slot, scheduleHash: 'h' } },
      { _id: 'b', schedule: digest },
      { _id: 'c', mailcron: { nextAt: slot, scheduleHash: 'h' } },
    ] as Document[]);
    const store = createMongoScheduleStore(client.db(t.name), users);
    commands = [];
    const matched = await store.apply([
      { userId: 'a', expect: state(slot, 'h'), set: { nextAt: next, lastSlot: slot } },
      plan('b', { ...state(null, null), schedule: digest }),
      { userId: 'c', expect: state(slot, 'h'), set: { nextAt: null, scheduleHash: null, scheduleError: null } },
      { userId: 'gone', expect: state(null, null), set: { nextAt: next } }, // deleted meanwhile
    ]);
    expect(matched).toBe(3);
    const st = statements();
    // Three state writes, one planned user read back; nothing but `{_id: <string>}`.
    expect(st.map((x) => x.op).sort()).toEqual(['find', 'update', 'update', 'update', 'update']);
    for (const { q } of st) expect(Object.keys(q)).toEqual(['_id']), expect(typeof q._id).toBe('string');
    const after = await users.find({}, { sort: { _id: 1 } }).toArray();
    expect(after.map((d) => d.mailcron)).toEqual([
      { nextAt: next, scheduleHash: 'h', lastSlot: slot },
      { nextAt: next, scheduleHash: 'digest-hash', plannedAt: NOW },
      {},
    ]);
  });

  it('other ids: one $in statement per distinct update (one scan where neither is indexed)', async () => {
    await users.insertMany(Array.from({ length: 6 }, (_, i) => ({ _id: i + 1, schedule: digest, mailcron: { nextAt: slot, scheduleHash: 'h' } })) as Document[]);
    const store = createMongoScheduleStore(client.db(t.name), users);
    commands = [];
    const advance = (userId: number, to: Date): StateUpdate => ({ userId, expect: state(slot, 'h'), set: { nextAt: to, lastSlot: slot } });
    const later = at('2025-03-12T08:00:00Z');
    expect(await store.apply([advance(1, next), advance(2, next), advance(3, later), advance(4, next), advance(5, later), advance(6, next)])).toBe(6);
    const st = statements();
    expect(st).toEqual([
      { op: 'update', q: { _id: { $in: [1, 2, 4, 6] } } },
      { op: 'update', q: { _id: { $in: [3, 5] } } },
    ]);
    const nextAts = (await users.find({}, { sort: { _id: 1 } }).toArray()).map((d) => (d.mailcron as Document).nextAt);
    expect(nextAts).toEqual([next, next, later, next, later, next]);
  });

  it('leaves a user to be planned again when the application edited its schedule between the read and the write', async () => {
    const evening = { cron: '0 18 * * *', timezone: 'UTC' };
    for (const keyed of [true, false]) {
      await users.deleteMany({});
      const id = (n: number) => (keyed ? `u${n}` : n);
      await users.insertMany([
        // New user whose schedule was changed after the run read it (no hash either way).
        { _id: id(1), schedule: evening },
        // Planned user edited under the contract (hash unset) while the run re-planned it.
        { _id: id(2), schedule: evening, mailcron: { nextAt: slot } },
        // Hash unset by the application with the schedule unchanged: the plan is right as it is.
        { _id: id(3), schedule: digest, mailcron: { nextAt: slot } },
        // Due user edited under the contract while the run sent its slot: the slot update keeps the hash unset.
        { _id: id(4), schedule: evening, mailcron: { nextAt: slot } },
        // Untouched new user.
        { _id: id(5), schedule: digest },
      ] as Document[]);
      const store = createMongoScheduleStore(client.db(t.name), users);
      const matched = await store.apply([
        plan(id(1), { ...state(null, null), schedule: digest }),
        plan(id(2), { ...state(slot, 'old-hash'), schedule: digest }),
        plan(id(3), { ...state(slot, 'old-hash'), schedule: digest }),
        { userId: id(4), expect: state(slot, 'digest-hash'), set: { nextAt: next, lastSlot: slot } },
        plan(id(5), { ...state(null, null), schedule: digest }),
      ]);
      const docs = await users.find({}).toArray();
      const hashOf = (n: number) => ((docs.find((d) => (d._id as unknown) === id(n))!.mailcron as Document | undefined)?.scheduleHash as string | undefined) ?? null;
      const unplanned = (await users.find(scheduleQueries('schedule').unplanned).toArray()).map((d) => d._id);
      if (keyed) {
        // Written by _id and read back: users 1 and 2 have another schedule now, so their hash is
        // unset again; user 3's schedule is the one planned from, so its plan stands.
        expect(matched).toBe(3);
        expect([1, 2, 3, 4, 5].map(hashOf)).toEqual([null, null, 'digest-hash', null, 'digest-hash']);
        expect(unplanned.sort()).toEqual([id(1), id(2), id(4)].sort());
      } else {
        // Compare-and-set (FerretDB scans for these ids anyway): only users still as read are written.
        expect(matched).toBe(2);
        expect([1, 2, 3, 4, 5].map(hashOf)).toEqual([null, null, null, null, 'digest-hash']);
        expect(unplanned.sort()).toEqual([id(1), id(2), id(3), id(4)].sort());
      }
    }
  });

  it('one document that cannot take the update does not lose the others', async () => {
    for (const ids of [['a', 'b', 'c', 'd'], [1, 2, 3, 4]]) {
      await users.deleteMany({});
      await users.insertMany([
        { _id: ids[0], schedule: digest, mailcron: 'not an object' },
        { _id: ids[1], schedule: digest },
        { _id: ids[2], schedule: digest, mailcron: 'not an object' },
        { _id: ids[3], schedule: digest, mailcron: { nextAt: slot, scheduleHash: 'h' } },
      ] as Document[]);
      const store = createMongoScheduleStore(client.db(t.name), users);
      const matched = await store.apply([
        plan(ids[0], { ...state(null, null), schedule: digest }),
        plan(ids[1], { ...state(null, null), schedule: digest }),
        { userId: ids[2], expect: state(null, null), set: { nextAt: next } },
        { userId: ids[3], expect: state(slot, 'h'), set: { nextAt: next } },
      ]);
      expect(matched).toBe(2); // the second user's plan and the last user's nextAt
      const after = await users.find({}, { sort: { _id: 1 } }).toArray();
      expect(after.map((d) => (typeof d.mailcron === 'object' ? (d.mailcron as Document).nextAt : d.mailcron))).toEqual(['not an object', next, 'not an object', next]);
    }
  });
});
