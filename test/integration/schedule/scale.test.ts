// 50,000 users of whom 100 are due: a run reads only the due users. Asserted on what the server
// returned (counted by a wire-protocol proxy between the CLI and the server), and on what the
// server examined when its explain reports it (real MongoDB; FerretDB v1 has no executionStats).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  it('reads only the 100 due users out of 50,000', async () => {
    const users = t.db.collection('users');
    for (let from = 1; from <= TOTAL; from += 5_000) {
      await users.insertMany(Array.from({ length: 5_000 }, (_, k) => user(from + k)) as never[], { ordered: false });
    }
    expect(await users.estimatedDocumentCount()).toBe(TOTAL);
    const env = { MONGODB_URI: proxy.uri(t.name), SMTP_URL: smtp.url, MAILCRON_CONCURRENCY: '15' };

    // Create the indexes first (a dry run creates none), then explain the due query where the server can.
    const warm = await runJson(['schedule', '--subject', 'Digest {{name}}', '--text', 'Hi', '--now', '2025-03-10T07:00:00Z'], env);
    expect(warm.r.code, warm.r.stderr).toBe(0);
    expect(warm.json).toMatchObject({ dueUsers: 0, planned: 0, reads: { planning: 0, due: 0 } });
    const explain = (await users.find({ 'mailcron.nextAt': { $lte: NOW } }).sort({ 'mailcron.nextAt': 1, _id: 1 }).limit(DUE).explain('executionStats')) as Record<string, unknown>;
    const serverExamined = examined(explain);
    if (serverExamined !== undefined) expect(serverExamined).toBe(DUE); // MongoDB: the index bounds hold exactly the due users
    else expect(JSON.stringify(explain)).toMatch(/ferretdb|SCAN/i); // FerretDB v1: filters run in the server, no pushdown to report

    proxy.reset();
    const { r, json } = await runJson<{ dueUsers: number; counts: { sent: number }; reads: Record<string, number> }>(
      ['schedule', '--subject', 'Digest {{name}}', '--text', 'Hi {{name}}', '--now', NOW.toISOString()],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(json.dueUsers).toBe(DUE);
    expect(json.counts.sent).toBe(DUE);
    expect(json.reads).toEqual({ planning: 0, due: DUE, replan: 0 });
    // What the server returned from the users collection, query by query: the due users, and
    // one `nextAt` (projected) for the summary's "next due" — nothing else.
    const ns = `${t.name}.users`;
    const queries = proxy.queries(ns);
    const kind = (q: { filter: unknown }) => {
      const f = JSON.stringify(q.filter);
      if (f.includes('scheduleHash')) return 'planning';
      if (f.includes('"mailcron.nextAt":{"$lte"')) return 'due';
      if (f.includes('"mailcron.nextAt":{"$gt"')) return 'next-due';
      return `other ${f}`;
    };
    const byKind: Record<string, number> = {};
    for (const q of queries) byKind[kind(q)] = (byKind[kind(q)] ?? 0) + q.returned;
    expect(byKind).toEqual({ planning: 0, due: DUE, 'next-due': 1 });
    expect(proxy.returned(ns)).toBe(DUE + 1);
    expect(smtp.messages).toHaveLength(DUE);
    expect(new Set(smtp.messages.map((m) => m.to[0])).size).toBe(DUE);
    expect(await users.countDocuments({ 'mailcron.nextAt': { $lte: NOW } })).toBe(0);

    // New users are planned by the planning query alone: 10 new → 10 read.
    await users.insertMany(Array.from({ length: 10 }, (_, k) => ({ _id: TOTAL + 1 + k, email: `n${k}@example.test`, active: true, schedule: digest })) as never[]);
    proxy.reset();
    const next = await runJson<{ planned: number; reads: Record<string, number> }>(['schedule', '--subject', 'Digest', '--text', 'Hi', '--now', '2025-03-10T08:10:00Z'], env);
    expect(next.r.code, next.r.stderr).toBe(0);
    expect(next.json.planned).toBe(10);
    expect(next.json.reads).toEqual({ planning: 10, due: 0, replan: 0 });
    expect(proxy.returned(`${t.name}.users`)).toBe(10 + 1);
  }, 120_000);
});
