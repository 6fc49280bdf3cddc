// How many queries on users a schedule run makes. On a server that answers the due query by an
// index: one for the unplanned users, one cursor for the due users however many batches, and one
// for "next due". On a server that would scan the collection for each (FerretDB v1): a single
// pass for unplanned and due users together, with the same outcome, and no "next due" lookup.
import { describe, expect, it } from 'vitest';
import { sleep } from '../../../../src/core/clock.js';
import { createMemoryLedger } from '../../../../src/core/ledger/memory-ledger.js';
import { createScheduleMessages } from '../../../../src/core/schedule/messages.js';
import { runSchedule, type RunScheduleOptions } from '../../../../src/core/schedule/run-schedule.js';
import { readSchedule } from '../../../../src/core/schedule/slots.js';
import type { DueAccess } from '../../../../src/core/schedule/types.js';
import type { Clock } from '../../../../src/core/ports.js';
import { memoryLeases, memoryMailer, memoryStore } from './fakes.js';

const FROM = 'News <news@example.test>';
const fixed = (iso: string): Clock => ({ now: () => new Date(iso), sleep });
const berlin = { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' };
const SLOT = new Date('2025-03-10T08:00:00Z'); // Monday 09:00 Berlin
const NEXT = new Date('2025-03-11T08:00:00Z');
const hash = readSchedule(berlin).hash;

/** `due` planned users due at SLOT, `later` planned users not due, `fresh` new users (no plan). */
function users(due: number, later: number, fresh: number) {
  const out: Record<string, unknown>[] = [];
  let id = 0;
  const base = () => ({ _id: ++id, name: `U${id}`, email: `u${id}@example.test`, active: true, schedule: berlin });
  for (let i = 0; i < due; i++) out.push({ ...base(), mailcron: { nextAt: SLOT, scheduleHash: hash } });
  for (let i = 0; i < later; i++) out.push({ ...base(), mailcron: { nextAt: NEXT, scheduleHash: hash } });
  for (let i = 0; i < fresh; i++) out.push(base());
  // Interleave by _id, so new users are not all at the end (11 is prime to the sizes used).
  const mixed = out.map((u, i, all) => ({ ...u, _id: (i * 11) % all.length }));
  if (new Set(mixed.map((u) => u._id)).size !== mixed.length) throw new Error('duplicate _id: pick other sizes');
  return mixed;
}

function setup(docs: Record<string, unknown>[], access: DueAccess) {
  const store = memoryStore(docs as never, 'schedule', { access });
  const ledger = createMemoryLedger();
  const mailer = memoryMailer();
  const run = (now: string, more: Partial<RunScheduleOptions> = {}) =>
    runSchedule({
      store,
      ledger,
      leases: memoryLeases(),
      mailer,
      messages: createScheduleMessages({ flags: { subject: 'Digest {{name}}', text: 'Hi' }, compile: { from: FROM } }),
      clock: fixed(now),
      owner: `test:${now}`,
      from: FROM,
      batchSize: { due: 7, planning: 7 },
      ...more,
    });
  return { store, ledger, mailer, run };
}

describe('queries per run', () => {
  it('index: one query for unplanned users, one cursor for 30 due users in 5 batches, one for next due', async () => {
    const { store, mailer, run } = setup(users(30, 20, 9), 'index');
    const r = await run('2025-03-10T08:05:00Z');
    expect(r.record).toMatchObject({ planned: 9, dueUsers: 30, advanced: 39, counts: { sent: 30 }, dueAccess: 'index', nextDueAt: NEXT });
    expect(store.queries).toEqual({ unplanned: 1, due: 1, pending: 0, nextDue: 1 });
    expect(mailer.sent).toHaveLength(30);
  });

  it('scan: one pass plans and sends the same, and skips next due', async () => {
    const { store, mailer, ledger, run } = setup(users(30, 20, 9), 'scan');
    const r = await run('2025-03-10T08:05:00Z');
    expect(r.record).toMatchObject({ planned: 9, dueUsers: 30, advanced: 39, counts: { sent: 30 }, dueAccess: 'scan', reads: { planning: 9, due: 30, replan: 0 } });
    expect(r.record.nextDueAt).toBeUndefined();
    expect(store.queries).toEqual({ unplanned: 0, due: 0, pending: 1, nextDue: 0 });
    expect(mailer.sent).toHaveLength(30);
    expect(ledger.records.size).toBe(30);
    // Everyone is planned for the next slot; a second run finds nothing due and nobody to plan.
    expect(store.docs.every((d) => d.mailcron?.nextAt?.getTime() === NEXT.getTime() && d.mailcron.scheduleHash === hash)).toBe(true);
    const again = await run('2025-03-10T08:10:00Z');
    expect(again.record).toMatchObject({ planned: 0, dueUsers: 0, counts: { sent: 0 } });
  });

  it('scan: --max limits due users only; every unplanned user is still planned', async () => {
    const docs = users(30, 0, 12);
    // Three of the unplanned users were edited under the contract and keep an old nextAt after
    // now: the pass reaches them after every due user.
    for (const d of docs.filter((u) => !('mailcron' in u)).slice(0, 3)) Object.assign(d, { mailcron: { nextAt: NEXT } });
    const { store, mailer, run } = setup(docs, 'scan');
    const r = await run('2025-03-10T08:05:00Z', { maxUsers: 10 });
    expect(r.record).toMatchObject({ stopped: 'max', planned: 12, dueUsers: 10, counts: { sent: 10 } });
    expect(mailer.sent).toHaveLength(10);
    expect(store.docs.filter((d) => d.mailcron?.nextAt?.getTime() === SLOT.getTime())).toHaveLength(20);
    expect(store.docs.filter((d) => d.mailcron?.scheduleHash === undefined)).toHaveLength(0);
  });

  it('scan: a schedule edited under the contract with an old nextAt already due is planned, not sent', async () => {
    const docs = users(3, 0, 0);
    // The application changed user 0's schedule and unset the hash; its old nextAt is due.
    Object.assign(docs[0]!, { schedule: { cron: '0 7 * * *', timezone: 'UTC' }, mailcron: { nextAt: SLOT } });
    const { store, mailer, run } = setup(docs, 'scan');
    const r = await run('2025-03-10T08:05:00Z');
    expect(r.record).toMatchObject({ planned: 1, dueUsers: 2, counts: { sent: 2 } });
    expect(mailer.sent.map((m) => m.to)).not.toContain(`u${docs[0]!._id}@example.test`);
    expect(store.docs.find((d) => d._id === docs[0]!._id)!.mailcron!.nextAt).toEqual(new Date('2025-03-11T07:00:00Z'));
  });

  it.each(['index', 'scan'] as const)('%s: a new user whose schedule the application edits during the run is planned from the new one', async (access) => {
    const docs = users(0, 0, 3);
    const { store, run } = setup(docs, access);
    const apply = store.apply.bind(store);
    const evening = { cron: '0 18 * * *', timezone: 'UTC' };
    // The edit lands between the run's read and its write (under the contract: hash unset, here absent already).
    store.apply = async (updates) => {
      store.docs.find((d) => d._id === 0)!.schedule = evening;
      return apply(updates);
    };
    const first = await run('2025-03-10T07:00:00Z');
    expect(first.record).toMatchObject({ planned: 3, advanced: 2 });
    expect(store.docs.find((d) => d._id === 0)!.mailcron?.scheduleHash).toBeUndefined();
    store.apply = apply;
    const second = await run('2025-03-10T07:05:00Z');
    expect(second.record).toMatchObject({ planned: 1, advanced: 1 });
    expect(store.docs.find((d) => d._id === 0)!.mailcron).toMatchObject({ nextAt: new Date('2025-03-10T18:00:00Z'), scheduleHash: readSchedule(evening).hash });
  });

  it('scan: --max-runtime stops planning and sending alike', async () => {
    const { run } = setup(users(30, 0, 9), 'scan');
    let wall = Date.parse('2030-01-01T00:00:00Z');
    const r = await run('2025-03-10T08:05:00Z', { wallNow: () => new Date((wall += 10_000)), maxRuntimeMs: 60_000 });
    expect(r.record.stopped).toBe('max-runtime');
    expect(r.record.planned + r.record.dueUsers).toBeLessThan(39);
    expect(r.record.planned + r.record.dueUsers).toBeGreaterThan(0);
  });
});
