// Two simulated days over the European fall-back (Sunday 26 October 2025, 03:00 CEST → 02:00 CET),
// users in seven zones: a daily 02:30 is sent once on the day the hour repeats; an every-30-minutes
// schedule in that hour sends on both passes (distinct instants). `--now` steps every 3 hours, and
// every 15 minutes through the repeated hour (00:00Z-02:00Z on 26 October).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { expectSlots, merge, steps, walk, type ZoneUser } from './zones.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb('zfall');
});
afterAll(() => t.drop());

const s = (cron: string, timezone: string) => ({ cron, timezone, template: 'digest' });

const users: ZoneUser[] = [
  // 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET) on 26 October: sent once, the first time.
  { id: 'berlin-0230', schedule: s('30 2 * * *', 'Europe/Berlin'), expect: ['2025-10-25T00:30Z', '2025-10-26T00:30Z'] },
  { id: 'london-0130', schedule: s('30 1 * * *', 'Europe/London'), expect: ['2025-10-25T00:30Z', '2025-10-26T00:30Z'] },
  // Interval job: both passes of the repeated hour are distinct slots.
  {
    id: 'berlin-every30-in-2h',
    schedule: s('*/30 2 * * *', 'Europe/Berlin'),
    expect: ['2025-10-25T00:30Z', '2025-10-26T00:00Z', '2025-10-26T00:30Z', '2025-10-26T01:00Z', '2025-10-26T01:30Z'],
  },
  // Weekdays only: Monday 27 October 09:00 Berlin (08:00Z) is after the walk; Friday is before it.
  { id: 'berlin-weekdays', schedule: s('0 9 * * 1-5', 'Europe/Berlin'), expect: [] },
  { id: 'newyork-0130', schedule: s('30 1 * * *', 'America/New_York'), expect: ['2025-10-25T05:30Z', '2025-10-26T05:30Z'] },
  { id: 'lordhowe-0800', schedule: s('0 8 * * *', 'Australia/Lord_Howe'), expect: ['2025-10-25T21:00Z', '2025-10-26T21:00Z'] },
  { id: 'kolkata-9-21', schedule: s('0 9,21 * * *', 'Asia/Kolkata'), expect: ['2025-10-25T03:30Z', '2025-10-25T15:30Z', '2025-10-26T03:30Z', '2025-10-26T15:30Z'] },
  { id: 'chatham-1245', schedule: s('45 12 * * *', 'Pacific/Chatham'), expect: ['2025-10-25T23:00Z', '2025-10-26T23:00Z'] },
  { id: 'utc-noon', schedule: s('0 12 * * *', 'UTC'), expect: ['2025-10-25T12:00Z', '2025-10-26T12:00Z'] },
];

describe('schedule across time zones: fall back', () => {
  it('sends every user exactly its slots over two days, the repeated 02:30 once', { timeout: 180_000 }, async () => {
    const nows = merge(steps('2025-10-25T00:00:00Z', '2025-10-27T00:00:00Z', 180), steps('2025-10-26T00:00:00Z', '2025-10-26T02:00:00Z', 15));
    const { received } = await walk(t, users, nows);
    expectSlots(users, received);
    expect(await t.db.collection('mailcron_deliveries').countDocuments({ status: { $ne: 'sent' } })).toBe(0);
    // The last run records its counts for `status`.
    const last = await t.db.collection('mailcron_runs').find({ kind: 'schedule' }).sort({ startedAt: -1 }).limit(1).next();
    expect(last?.now).toEqual(new Date('2025-10-27T00:00:00Z'));
  });
});
