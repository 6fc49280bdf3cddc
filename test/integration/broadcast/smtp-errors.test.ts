// SMTP trouble a broadcast must get through: random 451s, rejected recipients, a server that
// caps connections and answers 421 beyond the cap, and too many errors (--max-errors).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMongoLedger } from '../../../src/adapters/mongo/mongo-ledger.js';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import { runCli, seedUsers, summary, templateFile, type SeedSummary } from './helpers.js';

let t: TestDb;
let smtp: TestSmtp | undefined;
let seeded: SeedSummary;
const tpl = templateFile('errors');

beforeAll(async () => {
  t = await openTestDb('bc_smtp');
  seeded = await seedUsers(t.db, 2000);
});
afterEach(async () => {
  await smtp?.stop();
  smtp = undefined;
});
afterAll(() => t?.drop());

const env = (s: TestSmtp) => ({ MONGODB_URI: t.uri, SMTP_URL: s.url });

function duplicates(s: TestSmtp): number {
  return [...s.countByRecipient().values()].reduce((n, c) => n + (c - 1), 0);
}

describe('broadcast against a difficult SMTP server', () => {
  it('10% random 451 replies: everyone delivered, nobody twice', async () => {
    smtp = await startTestSmtp({ random451: 0.1, seed: 42 });
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'r451', '--json'], env(smtp));
    expect(r.code, r.stderr).toBe(0);
    const s = summary(r);
    expect(s.status).toBe('completed');
    expect(s.counts.retried).toBeGreaterThan(0);
    expect(smtp.rejected.filter((x) => x.code === 451).length).toBeGreaterThan(0);
    const counts = smtp.countByRecipient();
    expect([...seeded.expected.keys()].filter((e) => counts.get(e) !== 1)).toEqual([]);
    expect(counts.size).toBe(seeded.expected.size);
  });

  it('550 for some recipients: those recorded failed (not retried), everyone else delivered', async () => {
    const refused = new Set([...seeded.expected.keys()].filter((_, i) => i % 50 === 0));
    smtp = await startTestSmtp({ onRcpt: (addr) => (refused.has(addr) ? { code: 550, message: '5.1.1 no such user' } : null) });
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'r550', '--json'], env(smtp));
    expect(r.code, r.stderr).toBe(0);
    const s = summary(r);
    expect(s).toMatchObject({ status: 'completed', counts: { failed: refused.size, retryable: 0 } });
    const counts = smtp.countByRecipient();
    for (const e of seeded.expected.keys()) expect(counts.get(e), e).toBe(refused.has(e) ? undefined : 1);
    const failed = await t.db.collection('mailcron_deliveries').find({ scope: 'broadcast:r550', status: 'failed' }).toArray();
    expect(new Set(failed.map((d) => d.email))).toEqual(refused);
    expect(failed.every((d) => d.transient === false && d.lastError?.responseCode === 550 && d.attempts === 1)).toBe(true);
    // Each refused recipient was tried once: permanent failures are not retried.
    expect(smtp.rejected.filter((x) => x.code === 550)).toHaveLength(refused.size);
    // A rerun leaves permanent failures alone.
    const again = await runCli(['broadcast', '--template', tpl, '--id', 'r550', '--json'], env(smtp));
    expect(summary(again).counts).toMatchObject({ sent: 0, failed: 0 });
  });

  it('a server that caps connections at 5 and answers 421 beyond: everyone delivered', async () => {
    // 15 concurrent sends want 8 pipelined connections.
    smtp = await startTestSmtp({ maxConnections: 5 });
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'r421', '--json', '--concurrency', '15'], env(smtp));
    expect(r.code, r.stderr).toBe(0);
    expect(summary(r).status).toBe('completed');
    expect(smtp.maxConcurrentConnections()).toBeLessThanOrEqual(5);
    // The pool did try more than 5 connections and was pushed back with 421.
    expect(smtp.rejected.filter((x) => x.stage === 'connect' && x.code === 421).length).toBeGreaterThan(0);
    const counts = smtp.countByRecipient();
    expect([...seeded.expected.keys()].filter((e) => counts.get(e) !== 1)).toEqual([]);
    expect(duplicates(smtp)).toBe(0);
  });

  it('--max-errors stops a run that keeps failing with exit 3; nothing is left claimed', async () => {
    smtp = await startTestSmtp({ onRcpt: (_addr, s) => (s.count % 3 === 0 ? { code: 550, message: 'no' } : null) });
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'rmax', '--json', '--max-errors', '25'], env(smtp));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--max-errors 25/);
    const s = summary(r);
    expect(s).toMatchObject({ status: 'aborted', stopped: { reason: 'max-errors' } });
    expect(s.counts.failed).toBeGreaterThanOrEqual(25);
    expect(s.counts.sent).toBeLessThan(seeded.expected.size);
    expect((await createMongoLedger(t.db).summarize('broadcast:rmax')).claimed).toBe(0);
  });
});
