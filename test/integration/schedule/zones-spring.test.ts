// Two simulated days over the European spring-forward (Sunday 30 March 2025), users in eight
// zones (half-hour and 45-minute offsets, southern hemisphere DST, none): each user receives
// exactly the expected slots, once, with `--now` stepped through the real CLI every 3 hours, and
// every 20 minutes across the night of the change (slots found up to 3 hours late are still sent:
// the catch-up is 6 hours).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoLedger } from '../../../src/adapters/mongo/mongo-ledger.js';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { expectSlots, merge, steps, walk, type ZoneUser } from './zones.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb('zspring');
});
afterAll(() => t.drop());

const s = (cron: string, timezone: string) => ({ cron, timezone, template: 'digest' });

const users: ZoneUser[] = [
  // 02:30 does not exist in Berlin on 30 March (02:00 → 03:00): sent once, at 03:00 CEST (01:00Z).
  { id: 'berlin-0230', schedule: s('30 2 * * *', 'Europe/Berlin'), expect: ['2025-03-29T01:30Z', '2025-03-30T01:00Z'] },
  // London jumps 01:00 → 02:00: 01:30 runs at 02:00 BST (01:00Z).
  { id: 'london-0130', schedule: s('30 1 * * *', 'Europe/London'), expect: ['2025-03-29T01:30Z', '2025-03-30T01:00Z'] },
  { id: 'newyork-0900', schedule: s('0 9 * * *', 'America/New_York'), expect: ['2025-03-29T13:00Z', '2025-03-30T13:00Z'] },
  { id: 'kolkata-9-21', schedule: s('0 9,21 * * *', 'Asia/Kolkata'), expect: ['2025-03-29T03:30Z', '2025-03-29T15:30Z', '2025-03-30T03:30Z', '2025-03-30T15:30Z'] },
  { id: 'lordhowe-0800', schedule: s('0 8 * * *', 'Australia/Lord_Howe'), expect: ['2025-03-29T21:00Z', '2025-03-30T21:00Z'] },
  { id: 'chatham-1245', schedule: s('45 12 * * *', 'Pacific/Chatham'), expect: ['2025-03-29T23:00Z', '2025-03-30T23:00Z'] },
  { id: 'saopaulo-0700', schedule: s('0 7 * * *', 'America/Sao_Paulo'), expect: ['2025-03-29T10:00Z', '2025-03-30T10:00Z'] },
  {
    id: 'utc-6h',
    schedule: s('0 */6 * * *', 'UTC'),
    expect: ['2025-03-29T06:00Z', '2025-03-29T12:00Z', '2025-03-29T18:00Z', '2025-03-30T00:00Z', '2025-03-30T06:00Z', '2025-03-30T12:00Z', '2025-03-30T18:00Z', '2025-03-31T00:00Z'],
  },
  // The default schedule (weekdays 09:00 Berlin): nothing on a weekend.
  { id: 'berlin-weekdays', schedule: s('0 9 * * 1-5', 'Europe/Berlin'), expect: [] },
  { id: 'inactive', schedule: s('30 2 * * *', 'Europe/Berlin'), active: false, expect: [] },
  { id: 'bad-zone', schedule: s('0 9 * * *', 'Mars/Olympus_Mons'), expect: [] },
  { id: 'bad-cron', schedule: s('0 25 * * *', 'UTC'), expect: [] },
  { id: 'no-schedule', expect: [] },
];

describe('schedule across time zones: spring forward', () => {
  it('sends every user exactly its slots over two days', { timeout: 180_000 }, async () => {
    const nows = merge(steps('2025-03-29T00:00:00Z', '2025-03-31T00:00:00Z', 180), steps('2025-03-30T00:20:00Z', '2025-03-30T02:00:00Z', 20));
    const { received } = await walk(t, users, nows);
    expectSlots(users, received);

    // Invalid schedules were recorded skipped once each, with the reason; the run went on.
    const skipped = await t.db.collection('mailcron_deliveries').find({ scope: 'schedule', status: 'skipped' }).sort({ userId: 1 }).toArray();
    expect(skipped.map((d) => [d.userId, d.reason])).toEqual([
      ['bad-cron', expect.stringMatching(/schedule.cron: invalid expression "0 25 \* \* \*"/)],
      ['bad-zone', expect.stringMatching(/unknown time zone "Mars\/Olympus_Mons"/)],
    ]);
    const badZone = await t.db.collection('users').findOne({ _id: 'bad-zone' as never });
    expect(badZone?.mailcron?.scheduleError).toMatch(/unknown time zone/);
    // Nothing missed, nothing left claimed.
    expect(await t.db.collection('mailcron_deliveries').countDocuments({ status: { $in: ['missed', 'failed'] } })).toBe(0);
    expect((await createMongoLedger(t.db).summarize('schedule')).claimed).toBe(0);
    // Each user's next slot is planned after the last run.
    const berlin = await t.db.collection('users').findOne({ _id: 'berlin-0230' as never });
    expect(berlin?.mailcron?.nextAt).toEqual(new Date('2025-03-31T00:30:00Z'));
  });
});
