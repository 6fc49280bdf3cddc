// The schedule run over in-memory ports: planning, due slots, ledger keys, nextAt advances,
// crash recovery, transient failures, template problems and the lock.
import { describe, expect, it } from 'vitest';
import { sleep } from '../../../../src/core/clock.js';
import { LockHeldError } from '../../../../src/core/errors.js';
import { createMemoryLedger } from '../../../../src/core/ledger/memory-ledger.js';
import { createScheduleMessages } from '../../../../src/core/schedule/messages.js';
import { runSchedule, type RunScheduleOptions } from '../../../../src/core/schedule/run-schedule.js';
import { readSchedule } from '../../../../src/core/schedule/slots.js';
import type { Clock } from '../../../../src/core/ports.js';
import { memoryLeases, memoryMailer, memoryStore } from './fakes.js';

const fixed = (iso: string): Clock => ({ now: () => new Date(iso), sleep });
const FROM = 'News <news@example.test>';
const digest = 'subject: Digest for {{name}}\n---- text\nHello {{name}}\n';
const weekly = 'subject: Weekly {{name}}\n---- text\nWeek\n';

function setup(users: Record<string, unknown>[], over: Partial<RunScheduleOptions> = {}) {
  const store = memoryStore(users as never);
  const ledger = createMemoryLedger();
  const leases = memoryLeases();
  const mailer = memoryMailer();
  const templates: Record<string, string> = { digest, weekly };
  // One per run, as in the CLI: templates are read once per run.
  const messages = () =>
    createScheduleMessages({
      templateDir: '/t',
      readTemplate: async (name) => (templates[name] ? { source: templates[name]!, fileName: `${name}.txt` } : null),
      compile: { from: FROM },
    });
  const run = (now: string, more: Partial<RunScheduleOptions> = {}) =>
    runSchedule({ store, ledger, leases, mailer, messages: messages(), clock: fixed(now), owner: `test:${now}`, from: FROM, retry: { baseMs: 1, maxMs: 2 }, ...over, ...more });
  return { store, ledger, leases, mailer, run, templates };
}

const berlin = { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', template: 'digest' };
const user = (id: number, schedule: unknown = berlin, extra: Record<string, unknown> = {}) => ({ _id: id, name: `U${id}`, email: `u${id}@example.test`, active: true, schedule, ...extra });

describe('runSchedule', () => {
  it('plans new users, then sends each due slot once and moves nextAt on', async () => {
    const { store, ledger, mailer, run } = setup([user(1), user(2, { cron: '30 8 * * *', timezone: 'Asia/Kolkata', template: 'weekly' }), { _id: 3, email: 'x@example.test' }]);
    // Monday 2025-03-10, 07:00Z: plan.
    const first = await run('2025-03-10T07:00:00Z');
    expect(first.record).toMatchObject({ planned: 2, dueUsers: 0, counts: { sent: 0 } });
    expect(store.docs[0]!.mailcron).toMatchObject({ nextAt: new Date('2025-03-10T08:00:00Z'), scheduleHash: readSchedule(berlin).hash });
    expect(store.docs[1]!.mailcron?.nextAt).toEqual(new Date('2025-03-11T03:00:00Z'));
    expect(store.docs[2]!.mailcron).toBeUndefined();

    const second = await run('2025-03-10T08:05:00Z');
    expect(second.record).toMatchObject({ planned: 0, dueUsers: 1, advanced: 1, counts: { sent: 1 } });
    expect(mailer.sent.map((m) => [m.to, m.subject])).toEqual([['u1@example.test', 'Digest for U1']]);
    expect([...ledger.records.keys()]).toEqual(['s:n:1:2025-03-10T08:00:00.000Z']);
    expect(ledger.records.get('s:n:1:2025-03-10T08:00:00.000Z')).toMatchObject({ scope: 'schedule', status: 'sent', slot: new Date('2025-03-10T08:00:00Z'), data: { template: 'digest' } });
    expect(store.docs[0]!.mailcron).toMatchObject({ nextAt: new Date('2025-03-11T08:00:00Z'), lastSlot: new Date('2025-03-10T08:00:00Z') });

    const again = await run('2025-03-10T08:10:00Z');
    expect(again.record).toMatchObject({ dueUsers: 0, counts: { sent: 0 } });
    expect(mailer.sent).toHaveLength(1);
    expect(store.runs).toHaveLength(3);
    expect(again.record.nextDueAt).toEqual(new Date('2025-03-11T03:00:00Z'));
  });

  it('after a crash between send and nextAt update, a rerun finds the slot done and only advances', async () => {
    const { store, ledger, mailer, run } = setup([user(1)]);
    await run('2025-03-10T07:00:00Z');
    await run('2025-03-10T08:01:00Z');
    // Simulate the crash: nextAt back where it was before the run.
    store.docs[0]!.mailcron!.nextAt = new Date('2025-03-10T08:00:00Z');
    const rerun = await run('2025-03-10T08:06:00Z');
    expect(rerun.record.counts).toMatchObject({ sent: 0, alreadyDone: 1 });
    expect(mailer.sent).toHaveLength(1);
    expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-11T08:00:00Z'));
    expect(ledger.records.size).toBe(1);
  });

  it('resends a slot left claimed by a crashed run as uncertain, or skips it with --uncertain skip', async () => {
    for (const uncertain of ['resend', 'skip'] as const) {
      const { store, ledger, mailer, run } = setup([user(1)]);
      await run('2025-03-10T07:00:00Z');
      const key = 's:n:1:2025-03-10T08:00:00.000Z';
      await ledger.claim([{ key, scope: 'schedule', userId: 1, slot: new Date('2025-03-10T08:00:00Z') }], 'dead:1:x', new Date('2025-03-10T08:00:10Z'));
      const r = await run('2025-03-10T08:05:00Z', { uncertain });
      expect(r.record.counts.uncertain).toBe(1);
      expect(mailer.sent).toHaveLength(uncertain === 'resend' ? 1 : 0);
      expect(ledger.records.get(key)).toMatchObject({ status: uncertain === 'resend' ? 'sent' : 'skipped', uncertain: true });
      expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-11T08:00:00Z'));
    }
  });

  it('records slots older than --catch-up as missed and sends the recent one', async () => {
    const { store, ledger, mailer, run } = setup([user(1)]);
    await run('2025-03-06T07:00:00Z'); // Thursday: next slot Thursday 08:00Z
    const r = await run('2025-03-10T08:30:00Z', { catchUpMs: 3_600_000 }); // Monday, an hour's catch-up
    expect(r.record.counts).toMatchObject({ sent: 1, missed: 2 });
    expect([...ledger.records.values()].map((x) => [x._id.split(':').slice(3).join(':'), x.status])).toEqual([
      ['2025-03-06T08:00:00.000Z', 'missed'],
      ['2025-03-07T08:00:00.000Z', 'missed'],
      ['2025-03-10T08:00:00.000Z', 'sent'],
    ]);
    expect(ledger.records.get('s:n:1:2025-03-06T08:00:00.000Z')!.reason).toMatch(/older than --catch-up 1h/);
    expect(mailer.sent).toHaveLength(1);
    expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-11T08:00:00Z'));
  });

  it('keeps nextAt on a slot whose send failed transiently, so the next run retries it', async () => {
    const { store, ledger, run } = setup([user(1), user(2)]);
    await run('2025-03-10T07:00:00Z');
    const flaky = memoryMailer((m) => (m.to === 'u1@example.test' ? Object.assign(new Error('try later'), { responseCode: 451 }) : undefined));
    const r = await run('2025-03-10T08:01:00Z', { mailer: flaky, retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 } });
    expect(r.record.counts).toMatchObject({ sent: 1, failed: 1, retryable: 1 });
    expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-10T08:00:00Z'));
    expect(store.docs[1]!.mailcron!.nextAt).toEqual(new Date('2025-03-11T08:00:00Z'));
    const ok = memoryMailer();
    const retry = await run('2025-03-10T08:06:00Z', { mailer: ok });
    expect(retry.record.counts).toMatchObject({ sent: 1 });
    expect(ok.sent.map((m) => m.to)).toEqual(['u1@example.test']);
    expect(ledger.records.get('s:n:1:2025-03-10T08:00:00.000Z')!.status).toBe('sent');
    expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-11T08:00:00Z'));
  });

  it('records an invalid schedule as skipped once, with the reason, and goes on with the others', async () => {
    const { store, ledger, mailer, run } = setup([user(1, { cron: '0 9 * * 1-5', timezone: 'Mars/Base' }), user(2)]);
    const r = await run('2025-03-10T07:00:00Z');
    expect(r.record).toMatchObject({ planned: 1, invalid: 1, counts: { skipped: 1 } });
    const rec = [...ledger.records.values()][0]!;
    expect(rec).toMatchObject({ status: 'skipped', userId: 1 });
    expect(rec.reason).toMatch(/unknown time zone "Mars\/Base"/);
    expect(store.docs[0]!.mailcron).toMatchObject({ scheduleError: rec.reason, nextAt: new Date('2025-03-11T07:00:00Z') });
    // Next day: rechecked, still the same invalid value, nothing new recorded; user 2 got their slot.
    const later = await run('2025-03-11T08:01:00Z');
    // User 2: Monday's slot is past the catch-up (missed), Tuesday's is sent.
    expect(later.record.counts).toMatchObject({ skipped: 0, sent: 1, missed: 1 });
    expect(ledger.records.size).toBe(3);
    expect(mailer.sent.map((m) => m.to)).toEqual(['u2@example.test']);
    // Fixed by the application (without the contract): picked up at the recheck.
    store.docs[0]!.schedule = { cron: '0 9 * * *', timezone: 'Europe/Berlin', template: 'digest' };
    const fixedRun = await run('2025-03-12T08:02:00Z');
    expect(fixedRun.record).toMatchObject({ replanned: 1 });
    expect(store.docs[0]!.mailcron).toMatchObject({ nextAt: new Date('2025-03-13T08:00:00Z') });
    expect(store.docs[0]!.mailcron!.scheduleError).toBeUndefined();
  });

  it('leaves users due when their template is missing, and sends once it is there', async () => {
    const { store, mailer, run, templates } = setup([user(1, { ...berlin, template: 'monthly' }), user(2)]);
    await run('2025-03-10T07:00:00Z');
    const r = await run('2025-03-10T08:01:00Z');
    expect(r.record).toMatchObject({ deferred: 1, counts: { sent: 1 } });
    expect(r.record.problems).toEqual([{ reason: expect.stringMatching(/template "monthly" not found in \/t/), users: 1 }]);
    expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-10T08:00:00Z'));
    templates.monthly = 'subject: Monthly\n---- text\nM\n';
    const fixed2 = await run('2025-03-10T09:00:00Z');
    expect(fixed2.record.counts.sent).toBe(1);
    expect(mailer.sent.map((m) => m.subject)).toEqual(['Digest for U2', 'Monthly']);
  });

  it('picks up a schedule edited under the contract (mailcron.scheduleHash unset) before its old slot', async () => {
    const { store, mailer, run } = setup([user(1)]);
    await run('2025-03-10T07:00:00Z');
    store.docs[0]!.schedule = { cron: '0 7 * * *', timezone: 'UTC', template: 'weekly' };
    delete store.docs[0]!.mailcron!.scheduleHash;
    const r = await run('2025-03-10T07:30:00Z');
    expect(r.record).toMatchObject({ planned: 1, replanned: 0 });
    expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-11T07:00:00Z'));
    await run('2025-03-10T08:05:00Z');
    expect(mailer.sent).toHaveLength(0);
  });

  it('stops at --max users and leaves the rest due', async () => {
    const { store, mailer, run } = setup([user(1), user(2), user(3)]);
    await run('2025-03-10T07:00:00Z');
    const r = await run('2025-03-10T08:01:00Z', { maxUsers: 2 });
    expect(r.record).toMatchObject({ stopped: 'max', dueUsers: 2, counts: { sent: 2 } });
    expect(store.docs.filter((d) => d.mailcron!.nextAt!.getTime() <= Date.parse('2025-03-10T08:01:00Z'))).toHaveLength(1);
    await run('2025-03-10T08:02:00Z');
    expect(mailer.sent).toHaveLength(3);
  });

  it('writes nothing in a dry run but counts what it would do', async () => {
    const { store, ledger, mailer, run } = setup([user(1), user(2)]);
    const r = await run('2025-03-10T07:00:00Z', { dryRun: true });
    expect(r.record.planned).toBe(2);
    expect(store.docs[0]!.mailcron).toBeUndefined();
    await run('2025-03-10T07:00:00Z');
    const d = await run('2025-03-10T08:01:00Z', { dryRun: true });
    expect(d.record.counts.sent).toBe(2);
    expect(mailer.sent).toHaveLength(0);
    expect(ledger.records.size).toBe(0);
    expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-10T08:00:00Z'));
    expect(store.runs).toHaveLength(1);
  });

  it('refuses to run while another run holds the lock', async () => {
    const { leases, run } = setup([user(1)]);
    await leases.acquire('schedule', 'other:9:z', new Date(), 60_000);
    await expect(run('2025-03-10T07:00:00Z')).rejects.toBeInstanceOf(LockHeldError);
  });

  it('reads only due users from the store once everyone is planned', async () => {
    const users = Array.from({ length: 300 }, (_, i) => user(i + 1, i % 30 === 0 ? berlin : { ...berlin, cron: '0 9 * * 6' }));
    const { store, run } = setup(users);
    await run('2025-03-10T07:00:00Z');
    const before = store.reads();
    const r = await run('2025-03-10T08:01:00Z');
    const after = store.reads();
    expect(r.record.counts.sent).toBe(10);
    expect(after.due - before.due).toBe(10);
    expect(after.planning - before.planning).toBe(0);
  });

  it('stops taking users at --max-runtime and leaves the rest due', async () => {
    const { store, run } = setup(Array.from({ length: 250 }, (_, i) => user(i + 1)));
    await run('2025-03-10T07:00:00Z');
    let wall = Date.parse('2030-01-01T00:00:00Z');
    // Each look at the wall clock moves it 10 s on: the 60 s budget runs out during the first batches.
    const r = await run('2025-03-10T08:01:00Z', { wallNow: () => new Date((wall += 10_000)), maxRuntimeMs: 60_000, batchSize: { due: 10 } });
    expect(r.record.stopped).toBe('max-runtime');
    expect(r.record.dueUsers).toBeGreaterThan(0);
    expect(r.record.dueUsers).toBeLessThan(250);
    expect(r.pipelineStop).toBeUndefined();
    const stillDue = store.docs.filter((d) => d.mailcron!.nextAt!.getTime() === Date.parse('2025-03-10T08:00:00Z')).length;
    expect(stillDue).toBe(250 - r.record.counts.sent);
  });

  it('stops taking users when the lease is lost, and says so as an abort', async () => {
    const users = Array.from({ length: 30 }, (_, i) => user(i + 1));
    const { leases, run } = setup(users);
    await run('2025-03-10T07:00:00Z');
    const slow = memoryMailer();
    const send = slow.send.bind(slow);
    let stolen = false;
    slow.send = async (m) => {
      if (!stolen) {
        stolen = true;
        leases.docs.get('schedule')!.owner = 'thief:1:z';
      }
      await sleep(30);
      return send(m);
    };
    const r = await run('2025-03-10T08:01:00Z', { mailer: slow, lockTtlMs: 150, concurrency: 1, batchSize: { due: 5 } });
    expect(r.record.stopped).toBe('lock-lost');
    expect(r.pipelineStop?.error?.message).toMatch(/lost the schedule lock/);
    expect(r.record.counts.sent).toBeLessThan(30);
    // The thief's lease is left alone.
    expect(leases.docs.get('schedule')!.owner).toBe('thief:1:z');
  });

  it('--replan compares every planned user and re-plans the ones edited without the contract', async () => {
    const { store, run } = setup([user(1), user(2), user(3)]);
    await run('2025-03-10T06:00:00Z');
    store.docs[1]!.schedule = { cron: '30 7 * * *', timezone: 'UTC', template: 'digest' };
    delete store.docs[2]!.schedule;
    const r = await run('2025-03-10T07:00:00Z', { replan: true });
    expect(r.record).toMatchObject({ planned: 1, replanned: 1 });
    expect(store.reads().replan).toBe(3);
    expect(store.docs[0]!.mailcron!.nextAt).toEqual(new Date('2025-03-10T08:00:00Z'));
    expect(store.docs[1]!.mailcron!.nextAt).toEqual(new Date('2025-03-10T07:30:00Z'));
    expect(store.docs[2]!.mailcron!.nextAt).toBeUndefined();
    expect(store.docs[2]!.mailcron!.scheduleHash).toBeUndefined();
  });
});

