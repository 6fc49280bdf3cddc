// 50,000 users of whom 100 are due: a run reads only the due users. Asserted on what the server
// returned (counted by a wire-protocol proxy between the CLI and the server), and on what the
// server examined when its explain reports it (real MongoDB; FerretDB v1 has no executionStats).
// On a server without a usable index (FerretDB v1), where every query on users reads all of them,
// it asserts that the run makes one such query.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureIndexes } from '../../../src/adapters/mongo/indexes.js';
import { scheduleIndexes } from '../../../src/adapters/mongo/schedule-store.js';
import { planUsesIndexOn } from '../../../src/adapters/mongo/sorted-stream.js';
import { readSchedule } from '../../../src/core/schedule/slots.js';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import { runJson } from './cli.js';
import { startWireProxy, type WireProxy } from './wire-proxy.js';

let t: TestDb;
let smtp: TestSmtp;
let proxy: WireProxy;
beforeAll(async () => {
  t = await openTestDb('scale');
  smtp = await startTestSmtp();
  proxy = await startWireProxy(t.uri);
});
afterAll(async () => {
  await proxy?.close();
  await smtp?.stop();
  await t.drop();
});

const TOTAL = 50_000;
const DUE = 100;
const SCHEDULED = 30_000; // the rest have no schedule at all
const NEW = 10;
const NOW = new Date('2025-03-10T08:05:00Z'); // Monday; 09:00 Berlin = 08:00Z

const digest = { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' };
const evening = { cron: '0 18 * * *', timezone: 'UTC' };

function user(i: number) {
  const base = { _id: i, name: `User ${i}`, email: `u${i}@example.test`, active: true };
  if (i <= DUE) return { ...base, schedule: digest, mailcron: { nextAt: new Date('2025-03-10T08:00:00Z'), scheduleHash: readSchedule(digest).hash } };
  if (i <= SCHEDULED) return { ...base, schedule: evening, mailcron: { nextAt: new Date('2025-03-10T18:00:00Z'), scheduleHash: readSchedule(evening).hash } };
  return base;
}

/** The explain's documents-examined figure, when the server reports one. */
function examined(explain: Record<string, unknown>): number | undefined {
  const stats = explain.executionStats as { totalDocsExamined?: number } | undefined;
  return typeof stats?.totalDocsExamined === 'number' ? stats.totalDocsExamined : undefined;
}

describe('schedule at scale', () => {
  it('reads only the 100 due users (and the 10 new ones it plans) out of 50,000', async () => {
    const users = t.db.collection('users');
    for (let from = 1; from <= TOTAL; from += 5_000) {
      await users.insertMany(Array.from({ length: 5_000 }, (_, k) => user(from + k)) as never[], { ordered: false });
    }
    // Ten users the application just added: no plan yet.
    await users.insertMany(Array.from({ length: NEW }, (_, k) => ({ _id: TOTAL + 1 + k, email: `n${k}@example.test`, active: true, schedule: digest })) as never[]);
    expect(await users.estimatedDocumentCount()).toBe(TOTAL + NEW);
    for (const spec of scheduleIndexes('schedule')) await ensureIndexes(t.db, { usersCollection: 'users' }, [spec]);

    // Where the server reports what it examined (MongoDB), the due query examines the due users only.
    const explain = (await users.find({ 'mailcron.nextAt': { $lte: NOW } }).sort({ 'mailcron.nextAt': 1, _id: 1 }).limit(250).explain('executionStats')) as Record<string, unknown>;
    const serverExamined = examined(explain);
    if (serverExamined !== undefined) expect(serverExamined).toBe(DUE);
    else expect(explain).toMatchObject({ filterPushdown: false, sortPushdown: false }); // FerretDB v1: every such query reads every user
    const indexed = planUsesIndexOn(explain, 'mailcron.nextAt');

    proxy.reset();
    const env = { MONGODB_URI: proxy.uri(t.name), SMTP_URL: smtp.url, MAILCRON_CONCURRENCY: '15' };
    const { r, json } = await runJson<{ dueUsers: number; planned: number; counts: { sent: number }; reads: Record<string, number>; dueAccess: string; nextDueAt?: string }>(
      ['schedule', '--subject', 'Digest {{name}}', '--text', 'Hi {{name}}', '--now', NOW.toISOString()],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(json).toMatchObject({ dueUsers: DUE, planned: NEW, counts: { sent: DUE }, dueAccess: indexed ? 'index' : 'scan' });
    expect(json.reads).toEqual({ planning: NEW, due: DUE, replan: 0 });

    // What the server returned from the users collection, query by query (a find and its getMores).
    const ns = `${t.name}.users`;
    const kind = (q: { filter: unknown }) => {
      const f = JSON.stringify(q.filter);
      if (f.includes('"$or"') && f.includes('scheduleHash') && f.includes('"mailcron.nextAt":{"$lte"')) return 'pending';
      if (f.includes('scheduleHash')) return 'planning';
      if (f.includes('"mailcron.nextAt":{"$lte"')) return 'due';
      if (f.includes('"mailcron.nextAt":{"$gt"')) return 'next-due';
      return `other ${f}`;
    };
    const byKind: Record<string, number> = {};
    for (const q of proxy.queries(ns)) byKind[kind(q)] = (byKind[kind(q)] ?? 0) + q.returned;
    if (indexed) {
      // By the indexes: the 10 unplanned users, the 100 due ones, and one `nextAt` (projected) for
      // the summary's "next due" — nothing else.
      expect(byKind).toEqual({ planning: NEW, due: DUE, 'next-due': 1 });
      expect(proxy.returned(ns)).toBe(NEW + DUE + 1);
    } else {
      // No usable index (FerretDB v1): each query on users reads all 50,010 of them in the server,
      // so the run makes exactly one — unplanned and due users together — and skips "next due".
      expect(proxy.queries(ns)).toHaveLength(1);
      expect(byKind).toEqual({ pending: NEW + DUE });
      expect(json.nextDueAt).toBeUndefined();
    }

    expect(smtp.messages).toHaveLength(DUE);
    expect(new Set(smtp.messages.map((m) => m.to[0])).size).toBe(DUE);
    expect(await users.countDocuments({ 'mailcron.nextAt': { $lte: NOW } })).toBe(0);
    expect(await users.countDocuments({ 'mailcron.scheduleHash': { $exists: true } })).toBe(SCHEDULED + NEW);
  }, 180_000);
});
