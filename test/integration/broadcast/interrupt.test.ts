// Runs that stop early and are resumed: the SMTP server goes away (exit 3, then a rerun completes),
// SIGTERM (exit 143 after draining, then a rerun completes without duplicates), bad credentials.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMongoLedger } from '../../../src/adapters/mongo/mongo-ledger.js';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import { runCli, seedUsers, startCli, summary, templateFile, until, type SeedSummary } from './helpers.js';

let t: TestDb;
let smtp: TestSmtp | undefined;
let seeded: SeedSummary;
const tpl = templateFile('interrupt');

beforeAll(async () => {
  t = await openTestDb('bc_interrupt');
  seeded = await seedUsers(t.db, 2000);
});
afterEach(async () => {
  await smtp?.stop();
  smtp = undefined;
});
afterAll(() => t?.drop());

const env = (s: TestSmtp, extra: Record<string, string> = {}) => ({ MONGODB_URI: t.uri, SMTP_URL: s.url, ...extra });

function tally(s: TestSmtp) {
  const counts = s.countByRecipient();
  return {
    missed: [...seeded.expected.keys()].filter((e) => !counts.has(e)),
    duplicates: [...counts.values()].reduce((n, c) => n + (c - 1), 0),
    strangers: [...counts.keys()].filter((e) => !seeded.expected.has(e)),
  };
}

describe('broadcast interrupted and resumed', () => {
  it('SMTP server stopped mid-run: exit 3; rerun once it is back completes', async () => {
    smtp = await startTestSmtp();
    const run = startCli(['broadcast', '--template', tpl, '--id', 'down', '--json'], env(smtp));
    await until(() => smtp!.messages.length >= 400);
    await smtp.stop();
    const r = await run.done;
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/SMTP server unreachable/);
    expect(summary(r)).toMatchObject({ status: 'aborted', stopped: { reason: 'fatal' } });
    // Nothing is left claimed: unsent claims were given back, failed sends recorded as retryable.
    expect((await createMongoLedger(t.db).summarize('broadcast:down')).claimed).toBe(0);

    await smtp.restart();
    const again = await runCli(['broadcast', '--template', tpl, '--id', 'down', '--json'], env(smtp));
    expect(again.code, again.stderr).toBe(0);
    expect(summary(again).status).toBe('completed');
    const { missed, duplicates, strangers } = tally(smtp);
    expect(missed).toEqual([]);
    expect(strangers).toEqual([]);
    // Only a message the server accepted just as it went away (reply lost) can arrive twice.
    expect(duplicates).toBeLessThanOrEqual(15);
  });

  it('SIGTERM mid-run: drains, saves progress, exits 143; rerun completes without duplicates', async () => {
    smtp = await startTestSmtp();
    const run = startCli(['broadcast', '--template', tpl, '--id', 'term', '--json'], env(smtp));
    await until(() => smtp!.messages.length >= 500);
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM: finishing in-flight sends/);
    const s = summary(r);
    expect(s.status).toBe('interrupted');
    expect(s.counts.sent).toBeLessThan(seeded.expected.size);
    // Every send that happened is recorded; nothing is left claimed.
    const deliveries = t.db.collection('mailcron_deliveries');
    expect((await createMongoLedger(t.db).summarize('broadcast:term')).claimed).toBe(0);
    expect(await deliveries.countDocuments({ scope: 'broadcast:term', status: 'sent' })).toBe(smtp.messages.length);

    // The checkpoint: every audience member at or below it has a final outcome in the ledger.
    const bc = await t.db.collection('mailcron_broadcasts').findOne({ _id: 'term' as never });
    expect(bc?.lowWatermark).toBeDefined();
    const below = await t.db.collection('users').find({ active: true, _id: { $lte: bc!.lowWatermark } }, { projection: { _id: 1 } }).toArray();
    expect(below.length).toBeGreaterThan(0);
    const final = await deliveries.countDocuments({ scope: 'broadcast:term', status: { $in: ['sent', 'skipped'] } });
    expect(final).toBeGreaterThanOrEqual(below.length);
    for (const u of below) {
      const rec = await deliveries.findOne({ _id: `b:term:oid:${u._id.toHexString()}` as never });
      expect(['sent', 'skipped'], String(u._id)).toContain(rec?.status);
    }

    const again = await runCli(['broadcast', '--template', tpl, '--id', 'term', '--json'], env(smtp));
    expect(again.code, again.stderr).toBe(0);
    const rerun = summary(again);
    expect(rerun).toMatchObject({ status: 'completed', counts: { uncertain: 0 } });
    // The rerun streamed only the users after the checkpoint.
    expect(rerun.counts.seen).toBe(1800 - below.length);
    expect(tally(smtp)).toEqual({ missed: [], duplicates: 0, strangers: [] });
  });

  it('authentication refused: exit 3 at once, nothing sent, nothing left claimed', async () => {
    smtp = await startTestSmtp({ auth: { user: 'mailer', pass: 's3cret-pass' } });
    const url = smtp.url.replace('smtp://', 'smtp://mailer:wrong-pass@');
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'auth', '--json'], env(smtp, { SMTP_URL: url }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/SMTP/);
    expect(r.stderr + r.stdout).not.toContain('wrong-pass');
    expect(smtp.messages).toHaveLength(0);
    // Only users skipped for a bad address are recorded; the claims that met the refusal were given back.
    const statuses = await t.db.collection('mailcron_deliveries').distinct('status', { scope: 'broadcast:auth' });
    expect(statuses.filter((x) => x !== 'skipped')).toEqual([]);
  });
});
