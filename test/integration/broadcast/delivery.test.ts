// A broadcast to 2,000 users through a real SMTP server: each active user with a valid email gets
// exactly one message carrying their own fields; nobody else gets anything; reruns send nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import { runCli, seedUsers, summary, templateFile, type SeedSummary } from './helpers.js';

let t: TestDb;
let smtp: TestSmtp;
let seeded: SeedSummary;
let env: Record<string, string>;
const tpl = templateFile();
const unsub = ['--unsubscribe-url', 'https://example.test/u?id={{_id}}'];

beforeAll(async () => {
  t = await openTestDb('bc_delivery');
  smtp = await startTestSmtp();
  seeded = await seedUsers(t.db, 2000);
  env = { MONGODB_URI: t.uri, SMTP_URL: smtp.url };
});
afterAll(async () => {
  await smtp?.stop();
  await t?.drop();
});

describe('mailcron broadcast', () => {
  it('--dry-run counts what it would send and neither sends nor writes', async () => {
    const r = await runCli(['broadcast', '--template', tpl, '--dry-run', '--json'], env);
    expect(r.code).toBe(0);
    const s = summary(r);
    expect(s.status).toBe('dry-run');
    expect(s.counts.sent).toBe(seeded.expected.size);
    expect(smtp.messages).toHaveLength(0);
    const names = (await t.db.listCollections().toArray()).map((c) => c.name);
    expect(names).not.toContain('mailcron_deliveries');
    expect(names).not.toContain('mailcron_broadcasts');
  });

  it('--test-to sends the first rendered message only to that address and records nothing', async () => {
    const r = await runCli(['broadcast', '--template', tpl, '--test-to', 'me@example.test', '--json'], env);
    expect(r.code).toBe(0);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.to).toEqual(['me@example.test']);
    expect(smtp.messages[0]!.subject).toMatch(/^Hello User \d+$/);
    expect(await t.db.collection('mailcron_deliveries').countDocuments()).toBe(0);
    smtp.reset();
  });

  it('delivers exactly one message to each active user with a valid email, with their own fields', async () => {
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'welcome', '--json', ...unsub], env);
    expect(r.code, r.stderr).toBe(0);
    const s = summary(r);
    expect(s).toMatchObject({ id: 'welcome', status: 'completed' });
    expect(s.counts.sent).toBe(seeded.expected.size);
    expect(s.counts.failed).toBe(0);

    const counts = smtp.countByRecipient();
    expect(counts.size).toBe(seeded.expected.size);
    for (const [email, user] of seeded.expected) {
      expect(counts.get(email), email).toBe(1);
    }
    for (const m of smtp.messages) {
      const user = seeded.expected.get(m.to[0]!)!;
      expect(m.subject).toBe(`Hello ${user.name}`);
      expect(m.raw).toContain(`your code is ${user.code}.`);
      expect(m.headers['list-unsubscribe']).toMatch(/^<https:\/\/example\.test\/u\?id=/);
    }
    // Invalid and missing emails of active users are recorded skipped with the reason.
    const skipped = await t.db.collection('mailcron_deliveries').find({ status: 'skipped' }).toArray();
    expect(skipped.length).toBe(s.counts.skipped);
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped.every((d) => typeof d.reason === 'string' && /email/.test(d.reason))).toBe(true);
    // The ledger keeps each delivery's Message-ID, the one the server received.
    const sample = smtp.messages[17]!;
    const rec = await t.db.collection('mailcron_deliveries').findOne({ email: sample.to[0], status: 'sent' });
    expect(rec?.messageId).toBe(sample.messageId);
  });

  it('a rerun of the same broadcast sends nothing and reports it complete', async () => {
    const before = smtp.messages.length;
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'welcome', '--json', ...unsub], env);
    expect(r.code, r.stderr).toBe(0);
    expect(summary(r)).toMatchObject({ status: 'completed', counts: { sent: 0 } });
    expect(smtp.messages.length).toBe(before);
  });

  it('refuses to reuse an --id with another message unless --force', async () => {
    // Same template without the unsubscribe header: a different message.
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'welcome'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/different message.*--force/);
  });

  it('status shows the broadcast from the ledger', async () => {
    const r = await runCli(['status', '--id', 'welcome', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { broadcasts: Array<Record<string, unknown>> };
    expect(s.broadcasts).toHaveLength(1);
    expect(s.broadcasts[0]).toMatchObject({
      id: 'welcome',
      status: 'completed',
      sent: seeded.expected.size,
      failed: 0,
      uncertain: 0,
      pending: 0,
      audience: 1800,
    });
    expect(s.broadcasts[0]!.firstSentAt).toEqual(expect.any(String));
    const human = await runCli(['status'], env);
    expect(human.stdout).toMatch(/welcome\s+completed/);
  });
});
