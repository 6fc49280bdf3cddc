// Overlaps and crashes with the real CLI, FerretDB and a real SMTP server: a second run exits 75
// naming the holder; a run killed with SIGKILL mid-way is taken over once its lease expires, and
// the rerun misses no slot and sends none twice beyond the uncertain ones it reports.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMongoLedger } from '../../../src/adapters/mongo/mongo-ledger.js';
import { readSchedule } from '../../../src/core/schedule/slots.js';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import { runCli, runJson, spawnCli } from './cli.js';

let t: TestDb;
let smtp: TestSmtp | undefined;
beforeAll(async () => {
  t = await openTestDb('lockcrash');
});
afterAll(() => t.drop());
afterEach(async () => {
  await smtp?.stop();
  smtp = undefined;
  await t.db.dropDatabase();
});

const SLOT = new Date('2025-03-10T08:00:00Z'); // Monday 09:00 Berlin
const NOW = '2025-03-10T08:02:00Z';
const digest = { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' };

/** `n` planned users, all due at SLOT. */
async function seedDue(n: number): Promise<void> {
  const hash = readSchedule(digest).hash;
  await t.db.collection('users').insertMany(
    Array.from({ length: n }, (_, i) => ({
      _id: `u${String(i).padStart(4, '0')}` as never,
      name: `User ${i}`,
      email: `u${i}@example.test`,
      active: true,
      schedule: digest,
      mailcron: { nextAt: SLOT, scheduleHash: hash },
    })),
  );
}

const message = ['--subject', 'Digest for {{name}}', '--text', 'Hello {{name}}'];
const env = (s: TestSmtp, extra: Record<string, string> = {}) => ({ MONGODB_URI: t.uri, SMTP_URL: s.url, MAILCRON_CONCURRENCY: '4', ...extra });

async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const leaseHeld = async () => {
  const lock = await t.db.collection('mailcron_locks').findOne({ _id: 'schedule' as never });
  return !!lock && lock.expiresAt > new Date();
};

describe('schedule lock', () => {
  it('a second run started meanwhile exits 75 with one line naming the holder; nothing is sent twice', async () => {
    smtp = await startTestSmtp({ stallMs: 40 });
    await seedDue(80);
    const first = spawnCli(['schedule', ...message, '--now', NOW], env(smtp));
    await until(leaseHeld, 'the first run to take the lock');
    const second = await runCli(['schedule', ...message, '--now', NOW], env(smtp));
    expect(second.code).toBe(75);
    expect(second.stdout).toBe('');
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mailcron: another run holds the schedule lock: [^:\s]+:\d+:[0-9a-f]{8}, since \d{4}-\d\d-\d\dT[\d:.]+Z \(lease expires /);
    const holder = await t.db.collection('mailcron_locks').findOne({ _id: 'schedule' as never });
    expect(lines[0]).toContain(String(holder!.owner));
    expect(lines[0]).toContain(holder!.acquiredAt.toISOString());

    const done = await first.result;
    expect(done.code, done.stderr).toBe(0);
    expect(smtp.messages).toHaveLength(80);
    expect([...smtp.countByRecipient().values()].every((n) => n === 1)).toBe(true);
    // The lock is free again, and a later run finds nothing left to send.
    const again = await runJson<{ counts: { sent: number }; dueUsers: number }>(['schedule', ...message, '--now', NOW], env(smtp));
    expect(again.r.code).toBe(0);
    expect(again.json).toMatchObject({ dueUsers: 0, counts: { sent: 0 } });
  });

  it('runs started together: one takes the lock, the others exit 75, no duplicates', async () => {
    smtp = await startTestSmtp({ stallMs: 20 });
    await seedDue(40);
    const runs = await Promise.all([0, 1, 2].map(() => runCli(['schedule', ...message, '--now', NOW], env(smtp!))));
    const codes = runs.map((r) => r.code).sort();
    expect(codes.filter((c) => c === 0).length).toBeGreaterThanOrEqual(1);
    expect(codes.every((c) => c === 0 || c === 75), runs.map((r) => r.stderr).join('\n')).toBe(true);
    expect(codes).toContain(75);
    expect(smtp.messages).toHaveLength(40);
    expect(new Set(smtp.messages.map((m) => m.to[0])).size).toBe(40);
  });
});

describe('crash recovery', () => {
  it('after kill -9 mid-run the lease expires, the rerun takes over: no slot missed, none sent twice beyond the uncertain', async () => {
    smtp = await startTestSmtp({ stallMs: 30 });
    const N = 150;
    await seedDue(N);
    const e = env(smtp, { MAILCRON_CONCURRENCY: '3' });
    const victim = spawnCli(['schedule', ...message, '--now', NOW, '--lock-ttl', '2s'], e);
    await until(() => smtp!.messages.length >= 40, 'the first run to send some messages');
    victim.kill('SIGKILL');
    const killed = await victim.result;
    expect(killed.signal).toBe('SIGKILL');
    const sentBefore = smtp.messages.length;
    expect(sentBefore).toBeLessThan(N);

    // Straight away the crashed run's lease still stands.
    const blocked = await runCli(['schedule', ...message, '--now', NOW, '--lock-ttl', '2s'], e);
    expect(blocked.code).toBe(75);
    // Once it has expired, the next run takes over.
    await until(async () => !(await leaseHeld()), 'the crashed lease to expire', 10_000);
    const rerun = await runJson<{ counts: { sent: number; uncertain: number; uncertainResent: number; alreadyDone: number; missed: number } }>(
      ['schedule', ...message, '--now', '2025-03-10T08:04:00Z', '--lock-ttl', '2s'],
      e,
    );
    expect(rerun.r.code, rerun.r.stderr).toBe(0);
    const c = rerun.json.counts;
    expect(c.missed).toBe(0);

    // Every user got its slot; duplicates only among the uncertain ones the rerun reported.
    const perUser = smtp.countByRecipient();
    expect(perUser.size).toBe(N);
    const extra = [...perUser.values()].reduce((a, n) => a + (n - 1), 0);
    expect(extra).toBeLessThanOrEqual(c.uncertain);
    // A resent slot carries the same Message-ID, so the receiver can drop the copy.
    const ids = new Map<string, Set<string>>();
    for (const m of smtp.messages) ids.set(m.to[0]!, (ids.get(m.to[0]!) ?? new Set()).add(m.messageId));
    expect([...ids.values()].every((s) => s.size === 1)).toBe(true);

    // The ledger agrees: one sent record per user, nothing left claimed, nobody still due.
    const d = t.db.collection('mailcron_deliveries');
    expect(await d.countDocuments({ scope: 'schedule', status: 'sent' })).toBe(N);
    expect((await createMongoLedger(t.db).summarize('schedule')).claimed).toBe(0);
    expect(await t.db.collection('users').countDocuments({ 'mailcron.nextAt': { $lte: new Date('2025-03-10T08:04:00Z') } })).toBe(0);
    expect(c.sent + c.alreadyDone).toBe(N);
  });
});
