import { describe, expect, it } from 'vitest';
import { isValidTimeZone, nextSlot, parseSchedule, readSchedule, slotsBetween } from '../../../../src/core/schedule/slots.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;
const Z = (s: string) => new Date(s);

/** Every slot in [from, to) as ISO strings. */
function slots(cron: string, tz: string, from: string, to: string): string[] {
  return slotsBetween(cron, tz, new Date(Z(from).getTime() - 1), new Date(Z(to).getTime() - 1), 1000).slots.map((d) => d.toISOString());
}

/** Local wall-clock time of an instant in a zone, `YYYY-MM-DD HH:mm`. */
function local(d: string, tz: string): string {
  return new Date(d).toLocaleString('sv-SE', { timeZone: tz }).slice(0, 16);
}

describe('nextSlot', () => {
  it('is strictly after the reference, at minute precision', () => {
    expect(iso(nextSlot('0 9 * * *', 'UTC', Z('2025-01-01T08:59:59.999Z')))).toBe('2025-01-01T09:00:00.000Z');
    expect(iso(nextSlot('0 9 * * *', 'UTC', Z('2025-01-01T09:00:00.000Z')))).toBe('2025-01-02T09:00:00.000Z');
    expect(iso(nextSlot('0 9 * * *', 'UTC', Z('2025-01-01T09:00:00.500Z')))).toBe('2025-01-02T09:00:00.000Z');
  });

  it('reads the expression in the user zone: Europe/Berlin, America/New_York, Asia/Kolkata (+5:30), Pacific/Chatham (+12:45), UTC', () => {
    const after = Z('2025-06-01T00:00:00Z'); // a Sunday
    expect(iso(nextSlot('0 9 * * *', 'Europe/Berlin', after))).toBe('2025-06-01T07:00:00.000Z');
    expect(iso(nextSlot('0 9 * * *', 'America/New_York', after))).toBe('2025-06-01T13:00:00.000Z');
    expect(iso(nextSlot('0 9 * * *', 'Asia/Kolkata', after))).toBe('2025-06-01T03:30:00.000Z');
    expect(iso(nextSlot('0 9 * * *', 'Pacific/Chatham', after))).toBe('2025-06-01T20:15:00.000Z'); // 09:00 on 2 June, +12:45
    expect(iso(nextSlot('0 9 * * *', 'UTC', after))).toBe('2025-06-01T09:00:00.000Z');
  });

  it('honours weekday expressions: Friday evening → Monday 09:00 local', () => {
    // 2025-03-07 is a Friday.
    expect(iso(nextSlot('0 9 * * 1-5', 'Europe/Berlin', Z('2025-03-07T09:00:00Z')))).toBe('2025-03-10T08:00:00.000Z');
    expect(iso(nextSlot('0 9 * * MON-FRI', 'Asia/Kolkata', Z('2025-03-07T04:00:00Z')))).toBe('2025-03-10T03:30:00.000Z');
    expect(slots('0 9 * * 1-5', 'America/New_York', '2025-03-03T00:00:00Z', '2025-03-17T00:00:00Z')).toHaveLength(10);
  });

  it('returns null for an expression that never fires (30 February)', () => {
    expect(nextSlot('0 0 30 2 *', 'UTC', Z('2025-01-01T00:00:00Z'))).toBeNull();
  });
});

describe('daylight-saving changes (fixed-time slots)', () => {
  it('Europe/Berlin spring forward: 02:30 does not exist on 30 March, sent once at 03:00 CEST that day', () => {
    const s = slots('30 2 * * *', 'Europe/Berlin', '2025-03-29T00:00:00Z', '2025-04-01T00:00:00Z');
    expect(s).toEqual(['2025-03-29T01:30:00.000Z', '2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z']);
    expect(local(s[1]!, 'Europe/Berlin')).toBe('2025-03-30 03:00');
  });

  it('Europe/Berlin fall back: 02:30 happens twice on 26 October, sent once (first occurrence, CEST)', () => {
    const s = slots('30 2 * * *', 'Europe/Berlin', '2025-10-25T00:00:00Z', '2025-10-28T00:00:00Z');
    expect(s).toEqual(['2025-10-25T00:30:00.000Z', '2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']);
    // Asking again from just after the first occurrence does not produce the second one.
    expect(iso(nextSlot('30 2 * * *', 'Europe/Berlin', Z('2025-10-26T00:30:00Z')))).toBe('2025-10-27T01:30:00.000Z');
  });

  it('America/New_York: 02:30 on 9 March → 03:00 EDT; 01:30 on 2 November sent once', () => {
    expect(slots('30 2 * * *', 'America/New_York', '2025-03-08T00:00:00Z', '2025-03-11T00:00:00Z')).toEqual([
      '2025-03-08T07:30:00.000Z',
      '2025-03-09T07:00:00.000Z',
      '2025-03-10T06:30:00.000Z',
    ]);
    const fall = slots('30 1 * * *', 'America/New_York', '2025-11-01T00:00:00Z', '2025-11-04T00:00:00Z');
    expect(fall).toEqual(['2025-11-01T05:30:00.000Z', '2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z']);
  });

  it('Australia/Lord_Howe (30-minute DST): 02:15 in the 02:00→02:30 gap runs at 02:30; 01:45 repeated on 6 April runs once', () => {
    const spring = slots('15 2 * * *', 'Australia/Lord_Howe', '2025-10-03T12:00:00Z', '2025-10-06T12:00:00Z');
    expect(spring).toEqual(['2025-10-03T15:45:00.000Z', '2025-10-04T15:30:00.000Z', '2025-10-05T15:15:00.000Z']);
    expect(local(spring[1]!, 'Australia/Lord_Howe')).toBe('2025-10-05 02:30');
    const fall = slots('45 1 * * *', 'Australia/Lord_Howe', '2025-04-04T12:00:00Z', '2025-04-07T12:00:00Z');
    expect(fall).toHaveLength(3);
    expect(fall.map((d) => local(d, 'Australia/Lord_Howe'))).toEqual(['2025-04-05 01:45', '2025-04-06 01:45', '2025-04-07 01:45']);
    // First occurrence of the repeated 01:45 is at +11:00.
    expect(fall[1]).toBe('2025-04-05T14:45:00.000Z');
  });

  it('Pacific/Chatham (+12:45/+13:45): 03:00 in the September gap runs at 03:45; repeated 03:00 in April runs once', () => {
    const spring = slots('0 3 * * *', 'Pacific/Chatham', '2025-09-26T00:00:00Z', '2025-09-29T00:00:00Z');
    expect(spring.map((d) => local(d, 'Pacific/Chatham'))).toEqual(['2025-09-27 03:00', '2025-09-28 03:45', '2025-09-29 03:00']);
    const fall = slots('0 3 * * *', 'Pacific/Chatham', '2025-04-04T00:00:00Z', '2025-04-07T00:00:00Z');
    expect(fall.map((d) => local(d, 'Pacific/Chatham'))).toEqual(['2025-04-05 03:00', '2025-04-06 03:00', '2025-04-07 03:00']);
  });

  it('America/Sao_Paulo (2018, DST started at midnight): 00:00 on 4 November runs at 01:00', () => {
    const s = slots('0 0 * * *', 'America/Sao_Paulo', '2018-11-03T00:00:00Z', '2018-11-06T00:00:00Z');
    expect(s.map((d) => local(d, 'America/Sao_Paulo'))).toEqual(['2018-11-03 00:00', '2018-11-04 01:00', '2018-11-05 00:00']);
  });

  it('a list of hours counts as fixed-time (Vixie cron): 1:30 and 13:30 are each sent once on the fall-back day', () => {
    const s = slots('30 1,13 * * *', 'America/New_York', '2025-11-02T00:00:00Z', '2025-11-03T00:00:00Z');
    expect(s).toEqual(['2025-11-02T05:30:00.000Z', '2025-11-02T18:30:00.000Z']);
  });

  it('interval expressions run on both passes of a repeated hour (distinct instants) and skip the gap', () => {
    const fall = slots('*/30 1 * * *', 'America/New_York', '2025-11-02T04:00:00Z', '2025-11-02T08:00:00Z');
    expect(fall).toEqual(['2025-11-02T05:00:00.000Z', '2025-11-02T05:30:00.000Z', '2025-11-02T06:00:00.000Z', '2025-11-02T06:30:00.000Z']);
    const spring = slots('*/30 2 * * *', 'Europe/Berlin', '2025-03-30T00:00:00Z', '2025-03-30T03:00:00Z');
    expect(spring).toEqual([]);
  });

  it('a whole DST year in Europe/Berlin: exactly one daily 02:30 slot per local day', () => {
    const s = slots('30 2 * * *', 'Europe/Berlin', '2024-12-31T23:00:00Z', '2025-12-31T23:00:00Z');
    expect(s).toHaveLength(365);
    const days = new Set(s.map((d) => local(d, 'Europe/Berlin').slice(0, 10)));
    expect(days.size).toBe(365);
  });
});

describe('slotsBetween', () => {
  it('stops at the limit and says the range was truncated', () => {
    const r = slotsBetween('* * * * *', 'UTC', Z('2025-01-01T00:00:00Z'), Z('2025-01-01T10:00:00Z'), 5);
    expect(r.slots.map(iso)).toEqual([
      '2025-01-01T00:01:00.000Z',
      '2025-01-01T00:02:00.000Z',
      '2025-01-01T00:03:00.000Z',
      '2025-01-01T00:04:00.000Z',
      '2025-01-01T00:05:00.000Z',
    ]);
    expect(r.truncated).toBe(true);
    const all = slotsBetween('0 * * * *', 'UTC', Z('2025-01-01T00:00:00Z'), Z('2025-01-01T03:00:00Z'), 5);
    expect(all.slots).toHaveLength(3);
    expect(all.truncated).toBe(false);
  });

  it('includes a slot exactly at `until`', () => {
    expect(slotsBetween('0 9 * * *', 'UTC', Z('2025-01-01T00:00:00Z'), Z('2025-01-01T09:00:00Z')).slots.map(iso)).toEqual([
      '2025-01-01T09:00:00.000Z',
    ]);
  });
});

describe('parseSchedule', () => {
  it('accepts the default shape and normalises spaces', () => {
    expect(parseSchedule({ cron: ' 0  9 * * 1-5 ', timezone: 'Europe/Berlin', template: 'digest' })).toEqual({
      ok: true,
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
      template: 'digest',
    });
  });

  it('defaults the zone to UTC (or the given default) and leaves the template out', () => {
    expect(parseSchedule({ cron: '@daily' })).toEqual({ ok: true, cron: '@daily', timezone: 'UTC' });
    expect(parseSchedule({ cron: '0 8 * * *', timezone: null }, { timezone: 'Asia/Kolkata' })).toMatchObject({ timezone: 'Asia/Kolkata' });
  });

  it.each([
    [null, /must be an object/],
    ['0 9 * * *', /must be an object/],
    [[], /must be an object/],
    [{}, /schedule.cron must be a cron expression/],
    [{ cron: 9 }, /schedule.cron must be/],
    [{ cron: '61 9 * * *' }, /schedule.cron: invalid expression "61 9 \* \* \*" \(Invalid value for minute: 61\)/],
    [{ cron: '0 9 * *' }, /invalid expression/],
    [{ cron: '0 0 9 * * 1-5' }, /invalid expression/],
    [{ cron: 'every day' }, /invalid expression/],
    [{ cron: '0 9 * * *', timezone: 'Mars/Olympus_Mons' }, /unknown time zone "Mars\/Olympus_Mons"/],
    [{ cron: '0 9 * * *', timezone: 2 }, /unknown time zone 2/],
    [{ cron: '0 9 * * *', timezone: '' }, /unknown time zone ""/],
    [{ cron: '0 9 * * *', template: '../../etc/passwd' }, /is not a template name/],
    [{ cron: '0 9 * * *', template: 'a/b' }, /is not a template name/],
    [{ cron: '0 9 * * *', template: 7 }, /is not a template name/],
  ])('rejects %j with a reason', (value, reason) => {
    const r = parseSchedule(value);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(reason);
  });

  it('validates zones with Intl', () => {
    expect(isValidTimeZone('Australia/Lord_Howe')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Europe/Berln')).toBe(false);
  });
});

describe('readSchedule fingerprint', () => {
  it('changes with the expression, the zone or the template, not with spacing', () => {
    const base = readSchedule({ cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', template: 'digest' }).hash;
    expect(readSchedule({ cron: '0  9 * * 1-5', timezone: 'Europe/Berlin', template: 'digest' }).hash).toBe(base);
    expect(readSchedule({ template: 'digest', timezone: 'Europe/Berlin', cron: '0 9 * * 1-5' }).hash).toBe(base);
    expect(readSchedule({ cron: '0 10 * * 1-5', timezone: 'Europe/Berlin', template: 'digest' }).hash).not.toBe(base);
    expect(readSchedule({ cron: '0 9 * * 1-5', timezone: 'Europe/Paris', template: 'digest' }).hash).not.toBe(base);
    expect(readSchedule({ cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', template: 'weekly' }).hash).not.toBe(base);
  });

  it('hashes invalid values raw and stably, regardless of key order', () => {
    const a = readSchedule({ cron: 'bad', timezone: 'X' });
    const b = readSchedule({ timezone: 'X', cron: 'bad' });
    expect(a.parsed.ok).toBe(false);
    expect(a.hash).toBe(b.hash);
    expect(readSchedule({ cron: 'worse', timezone: 'X' }).hash).not.toBe(a.hash);
  });
});
