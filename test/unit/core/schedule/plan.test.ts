import { describe, expect, it } from 'vitest';
import { decideDue, decidePlan, valueAt, type DecideContext } from '../../../../src/core/schedule/plan.js';
import { readSchedule } from '../../../../src/core/schedule/slots.js';

const H = 3_600_000;
const at = (s: string) => new Date(s);

function ctx(now: string, over: Partial<DecideContext> = {}): DecideContext {
  return { now: at(now), field: 'schedule', defaults: {}, catchUpMs: 6 * H, recheckMs: 24 * H, maxMissedRecords: 50, maxSendsPerUser: 50, ...over };
}

const berlin = { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', template: 'digest' };
const hashOf = (s: unknown) => readSchedule(s).hash;

/** A planned, active user due at `nextAt`. */
function user(schedule: unknown, nextAt: string | null, extra: Record<string, unknown> = {}) {
  return { _id: 1, email: 'a@example.test', active: true, schedule, mailcron: { nextAt: nextAt ? at(nextAt) : undefined, scheduleHash: hashOf(schedule) }, ...extra };
}

describe('decidePlan', () => {
  it('plans a new user from the first slot after now (never a past one)', () => {
    // 2025-03-10 is a Monday; 09:00 Berlin = 08:00Z has just passed.
    const d = decidePlan({ _id: 1, active: true, schedule: berlin }, ctx('2025-03-10T08:00:30Z'));
    expect(d).toEqual({ kind: 'plan', hash: hashOf(berlin), nextAt: at('2025-03-11T08:00:00Z'), replanned: false });
  });

  it('plans inactive users too (their slots pass silently until they are active again)', () => {
    expect(decidePlan({ _id: 1, active: false, schedule: berlin }, ctx('2025-03-10T07:00:00Z'))).toMatchObject({ kind: 'plan', nextAt: at('2025-03-10T08:00:00Z') });
  });

  it('reports an invalid schedule with its reason and a recheck time', () => {
    const d = decidePlan({ _id: 1, schedule: { cron: '0 25 * * *', timezone: 'UTC' } }, ctx('2025-03-10T07:00:00Z'));
    expect(d).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/schedule.cron: invalid expression/), recheckAt: at('2025-03-11T07:00:00Z') });
    const tz = decidePlan({ _id: 1, schedule: { cron: '0 9 * * *', timezone: 'Europe/Berln' } }, ctx('2025-03-10T07:00:00Z'));
    expect(tz).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/unknown time zone "Europe\/Berln"/) });
    const never = decidePlan({ _id: 1, schedule: { cron: '0 0 30 2 *' } }, ctx('2025-03-10T07:00:00Z'));
    expect(never).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/never matches/) });
  });

  it('reads the schedule from a configured (dotted) field', () => {
    const doc = { _id: 1, prefs: { mail: { cron: '0 12 * * *', timezone: 'UTC' } } };
    expect(valueAt(doc, 'prefs.mail')).toEqual({ cron: '0 12 * * *', timezone: 'UTC' });
    expect(decidePlan(doc, ctx('2025-03-10T07:00:00Z', { field: 'prefs.mail' }))).toMatchObject({ kind: 'plan', nextAt: at('2025-03-10T12:00:00Z') });
  });

  it('under --replan: leaves unchanged plans alone, re-plans edited ones, forgets removed ones', () => {
    const c = ctx('2025-03-10T07:00:00Z');
    expect(decidePlan(user(berlin, '2025-03-10T08:00:00Z'), c, { replan: true })).toEqual({ kind: 'none' });
    const edited = { ...user(berlin, '2025-03-10T08:00:00Z'), schedule: { ...berlin, cron: '0 7 * * *' } };
    expect(decidePlan(edited, c, { replan: true })).toMatchObject({ kind: 'plan', replanned: true, nextAt: at('2025-03-11T06:00:00Z') });
    const removed = { ...user(berlin, '2025-03-10T08:00:00Z'), schedule: undefined };
    expect(decidePlan(removed, c, { replan: true })).toEqual({ kind: 'unplan' });
    expect(decidePlan({ _id: 2 }, c, { replan: true })).toEqual({ kind: 'none' });
  });
});

describe('decideDue', () => {
  it('sends the due slot and moves nextAt to the first slot after now', () => {
    const d = decideDue(user(berlin, '2025-03-10T08:00:00Z'), ctx('2025-03-10T08:03:00Z'));
    expect(d).toEqual({
      kind: 'slots',
      schedule: berlin,
      missed: [],
      send: [at('2025-03-10T08:00:00Z')],
      nextAt: at('2025-03-11T08:00:00Z'),
      lastSlot: at('2025-03-10T08:00:00Z'),
    });
  });

  it('records slots older than --catch-up as missed and sends the ones inside it', () => {
    // Due since Friday 09:00; now is Monday 12:00 Berlin (11:00Z) with a 6 h catch-up: Friday missed, Monday sent.
    const d = decideDue(user(berlin, '2025-03-07T08:00:00Z'), ctx('2025-03-10T11:00:00Z'));
    expect(d).toMatchObject({ kind: 'slots', missed: [at('2025-03-07T08:00:00Z')], send: [at('2025-03-10T08:00:00Z')], nextAt: at('2025-03-11T08:00:00Z') });
    // A slot exactly at the catch-up boundary is still sent.
    const edge = decideDue(user(berlin, '2025-03-10T08:00:00Z'), ctx('2025-03-10T14:00:00Z'));
    expect(edge).toMatchObject({ missed: [], send: [at('2025-03-10T08:00:00Z')] });
    const late = decideDue(user(berlin, '2025-03-10T08:00:00Z'), ctx('2025-03-10T14:00:00.001Z'));
    expect(late).toMatchObject({ missed: [at('2025-03-10T08:00:00Z')], send: [] });
  });

  it('covers a long outage with a bounded number of missed records plus one range', () => {
    const every = { cron: '*/5 * * * *', timezone: 'UTC' };
    const d = decideDue(user(every, '2025-03-01T00:00:00Z'), ctx('2025-03-10T12:00:00Z', { maxMissedRecords: 3, catchUpMs: 10 * 60_000 }));
    if (d.kind !== 'slots') throw new Error(d.kind);
    expect(d.missed.map((x) => x.toISOString())).toEqual(['2025-03-01T00:00:00.000Z', '2025-03-01T00:05:00.000Z', '2025-03-01T00:10:00.000Z']);
    expect(d.missedRange).toEqual({ from: at('2025-03-01T00:15:00Z'), before: at('2025-03-10T11:50:00Z') });
    expect(d.send.map((x) => x.toISOString())).toEqual(['2025-03-10T11:50:00.000Z', '2025-03-10T11:55:00.000Z', '2025-03-10T12:00:00.000Z']);
    expect(d.nextAt).toEqual(at('2025-03-10T12:05:00Z'));
  });

  it('caps sends per user and run, leaving the user due at the next unsent slot', () => {
    const every = { cron: '* * * * *', timezone: 'UTC' };
    const d = decideDue(user(every, '2025-03-10T11:00:00Z'), ctx('2025-03-10T12:00:00Z', { maxSendsPerUser: 10 }));
    if (d.kind !== 'slots') throw new Error(d.kind);
    expect(d.send).toHaveLength(10);
    expect(d.send[9]).toEqual(at('2025-03-10T11:09:00Z'));
    expect(d.nextAt).toEqual(at('2025-03-10T11:10:00Z'));
  });

  it('sends the spring-forward 02:30 slot once (at 03:00 CEST) and the fall-back one once', () => {
    const s = { cron: '30 2 * * *', timezone: 'Europe/Berlin' };
    const spring = decideDue(user(s, '2025-03-30T01:00:00Z'), ctx('2025-03-30T01:05:00Z'));
    expect(spring).toMatchObject({ send: [at('2025-03-30T01:00:00Z')], nextAt: at('2025-03-31T00:30:00Z') });
    // Fall back: the first 02:30 (CEST) is the slot; an hour later, 02:30 CET comes again and is not a slot.
    const fall = decideDue(user(s, '2025-10-26T00:30:00Z'), ctx('2025-10-26T01:35:00Z'));
    expect(fall).toMatchObject({ send: [at('2025-10-26T00:30:00Z')], nextAt: at('2025-10-27T01:30:00Z') });
  });

  it('lets inactive users pass their slots without sending', () => {
    expect(decideDue(user(berlin, '2025-03-10T08:00:00Z', { active: false }), ctx('2025-03-10T08:01:00Z'))).toEqual({ kind: 'inactive', nextAt: at('2025-03-11T08:00:00Z') });
  });

  it('re-plans a schedule edited since it was planned instead of sending the old slot', () => {
    const doc = { ...user(berlin, '2025-03-10T08:00:00Z'), schedule: { ...berlin, cron: '0 18 * * *' } };
    expect(decideDue(doc, ctx('2025-03-10T08:01:00Z'))).toMatchObject({ kind: 'plan', replanned: true, nextAt: at('2025-03-10T17:00:00Z') });
  });

  it('forgets users whose schedule was removed, and rechecks unchanged invalid ones later', () => {
    expect(decideDue({ ...user(berlin, '2025-03-10T08:00:00Z'), schedule: null }, ctx('2025-03-10T08:01:00Z'))).toEqual({ kind: 'unplan' });
    const bad = { cron: 'nope' };
    expect(decideDue(user(bad, '2025-03-10T08:00:00Z'), ctx('2025-03-10T08:01:00Z'))).toEqual({ kind: 'recheck', nextAt: at('2025-03-11T08:01:00Z') });
  });

  it('does nothing for a user that is not due after all', () => {
    expect(decideDue(user(berlin, '2025-03-11T08:00:00Z'), ctx('2025-03-10T08:01:00Z'))).toEqual({ kind: 'none' });
  });
});
