// The schedule command's surface: bad flags exit 2 with one line, --env-file (as cron uses it)
// with a custom schedule field, template problems that leave users due, dry runs, missed slots
// and the schedule section of `mailcron status`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import { runCli, runJson } from './cli.js';

let t: TestDb;
let smtp: TestSmtp;
let dir: string;
beforeAll(async () => {
  t = await openTestDb('schedcli');
  smtp = await startTestSmtp();
  dir = mkdtempSync(join(tmpdir(), 'mailcron-sched-'));
});
afterAll(async () => {
  await smtp.stop();
  await t.drop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  smtp.reset();
  await t.db.dropDatabase();
});

const env = () => ({ MONGODB_URI: t.uri, SMTP_URL: smtp.url });
const digest = (template = 'digest') => ({ cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', template });

describe('schedule flags', () => {
  it.each([
    [[], /schedule needs a message: --template-dir <dir>/],
    [['--text', 'x', '--catch-up', '6'], /--catch-up must be a duration with a unit, e\.g\. 90s, 4m, 6h or 1d/],
    [['--text', 'x', '--max-runtime', 'soon'], /--max-runtime must be a duration/],
    [['--text', 'x', '--now', '2025-03-10'], /--now must be an ISO 8601 date-time with a zone/],
    [['--text', 'x', '--schedule-field', 'mailcron.x'], /--schedule-field must be a field path/],
    [['--template', 'a.txt', '--subject', 'b'], /--template cannot be combined with --subject/],
    [['--template-dir', '/nonexistent/templates'], /--template-dir: \/nonexistent\/templates is not a directory/],
    [['--text', 'x', '--uncertain', 'maybe'], /--uncertain/],
  ])('%j exits 2 with one line', async (args, message) => {
    const r = await runCli(['schedule', ...args], env());
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});

describe('schedule from cron', () => {
  it('reads everything from --env-file, with a custom schedule field', async () => {
    const envFile = join(dir, 'mailcron.env');
    writeFileSync(
      envFile,
      [`MONGODB_URI=${t.uri}`, `SMTP_URL=${smtp.url}`, 'MAIL_FROM=Digest <digest@example.test>', 'MAILCRON_SCHEDULE_FIELD=prefs.mail'].join('\n'),
    );
    await t.db.collection('users').insertMany([
      { _id: 'a' as never, name: 'Ada', email: 'ada@example.test', active: true, prefs: { mail: { cron: '0 9 * * *', timezone: 'Asia/Kolkata' } } },
      { _id: 'b' as never, name: 'Bob', email: 'bob@example.test', active: true, schedule: { cron: '0 9 * * *', timezone: 'Asia/Kolkata' } },
    ]);
    const args = ['schedule', '--env-file', envFile, '--subject', 'Hi {{name}}', '--text', 'Digest', '--max-runtime', '4m'];
    const plan = await runCli([...args, '--now', '2025-03-10T03:00:00Z'], { PATH: process.env.PATH ?? '' });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stderr).toMatch(/1 planned/);
    const send = await runCli([...args, '--now', '2025-03-10T03:31:00Z'], { PATH: process.env.PATH ?? '' });
    expect(send.code, send.stderr).toBe(0);
    expect(smtp.messages.map((m) => [m.to[0], m.from, m.subject])).toEqual([['ada@example.test', 'digest@example.test', 'Hi Ada']]);
    const ada = await t.db.collection('users').findOne({ _id: 'a' as never });
    expect(ada?.mailcron).toMatchObject({ nextAt: new Date('2025-03-11T03:30:00Z'), lastSlot: new Date('2025-03-10T03:30:00Z') });
  });

  it('leaves users due while their template is missing, says why, and sends once it exists', async () => {
    const tpl = mkdtempSync(join(dir, 'tpl-'));
    writeFileSync(join(tpl, 'digest.txt'), 'subject: Digest {{name}}\n---- text\nHello\n');
    await t.db.collection('users').insertMany([
      { _id: 1 as never, name: 'One', email: 'one@example.test', active: true, schedule: digest() },
      { _id: 2 as never, name: 'Two', email: 'two@example.test', active: true, schedule: digest('weekly') },
    ]);
    const args = ['schedule', '--template-dir', tpl];
    expect((await runCli([...args, '--now', '2025-03-10T07:00:00Z'], env())).code).toBe(0);
    const r = await runCli([...args, '--now', '2025-03-10T08:01:00Z'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1 user left due: template "weekly" not found in .*tpl-/);
    expect(smtp.messages.map((m) => m.subject)).toEqual(['Digest One']);
    writeFileSync(join(tpl, 'weekly'), 'subject: Weekly {{name}}\n---- text\nHello\n');
    const fixed = await runJson<{ counts: { sent: number } }>([...args, '--now', '2025-03-10T09:00:00Z'], env());
    expect(fixed.json.counts.sent).toBe(1);
    expect(smtp.messages.map((m) => m.subject)).toEqual(['Digest One', 'Weekly Two']);
  });

  it('--dry-run counts what it would do and writes nothing', async () => {
    await t.db.collection('users').insertOne({ _id: 1 as never, email: 'one@example.test', active: true, schedule: digest() });
    const plan = await runJson<{ planned: number; dryRun: boolean }>(['schedule', '--text', 'x', '--subject', 's', '--dry-run', '--now', '2025-03-10T07:00:00Z'], env());
    expect(plan.r.code).toBe(0);
    expect(plan.json).toMatchObject({ planned: 1, dryRun: true });
    expect((await t.db.collection('users').findOne({ _id: 1 as never }))?.mailcron).toBeUndefined();
    expect(await t.db.collection('mailcron_runs').countDocuments()).toBe(0);
    expect(smtp.messages).toHaveLength(0);
  });
});

describe('status', () => {
  it('shows the last schedule run and its counts, users due now, next due time and missed slots', async () => {
    await t.db.collection('users').insertMany([
      { _id: 1 as never, email: 'one@example.test', active: true, schedule: digest() },
      { _id: 2 as never, email: 'two@example.test', active: true, schedule: { cron: '0 6 * * *', timezone: 'UTC' } },
    ]);
    const args = ['schedule', '--subject', 'S', '--text', 'T'];
    // Simulated dates lie in the future, so `status` (which uses the real clock) sees nothing due yet.
    await runCli([...args, '--now', '2099-03-06T05:00:00Z'], env()); // Friday: plan
    // Monday 08:30Z with a 1h catch-up: Friday's and the weekend's slots are missed, Monday's 09:00 Berlin sent.
    const run = await runJson<{ counts: { sent: number; missed: number } }>([...args, '--catch-up', '1h', '--now', '2099-03-09T08:30:00Z'], env());
    expect(run.json.counts).toMatchObject({ sent: 1, missed: 5 });

    const s = await runJson<{ schedule: Record<string, unknown> }>(['status'], env());
    expect(s.r.code, s.r.stderr).toBe(0);
    expect(s.json.schedule).toMatchObject({
      lastRun: { now: '2099-03-09T08:30:00.000Z', counts: { sent: 1, missed: 5 }, dueUsers: 2 },
      dueNow: 0,
      nextDueAt: '2099-03-10T06:00:00.000Z',
      ledger: { sent: 1, missed: 5 },
      lock: { held: false },
    });
    const text = await runCli(['status'], env());
    expect(text.stdout).toMatch(/^schedule$/m);
    expect(text.stdout).toMatch(/last run .*\(now 2099-03-09T08:30:00\.000Z\): sent 1 .*missed 5/);
    expect(text.stdout).toMatch(/due now 0 {2}next due 2099-03-10T06:00:00\.000Z/);
    expect(text.stdout).toMatch(/lock free \(last held by .*, released /);
  });
});
