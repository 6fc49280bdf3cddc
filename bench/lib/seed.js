// Inserts N users fast: insertMany in unordered batches of 5,000, ObjectIds made in order so the
// stored order is the _id order. Schedule datasets carry a schedule and mailcron's own state
// (`mailcron.nextAt` + `mailcron.scheduleHash`, computed with mailcron's code from dist/), as a
// previous run would have left them, with `due` of them spread evenly and due at SCHEDULE_NOW.
import { ObjectId } from 'mongodb';
import { userFields } from './message.js';

const BATCH = 5000;

/** Monday 2025-03-03 09:01 in Berlin (CET, UTC+1): the instant `mailcron schedule --now` runs at. */
export const SCHEDULE_NOW = '2025-03-03T08:01:00Z';
const DUE_SCHEDULE = { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' };
const DUE_AT = new Date('2025-03-03T08:00:00Z'); // 09:00 Berlin, one minute before now
const LATER_SCHEDULE = { cron: '0 18 * * 1-5', timezone: 'Europe/Berlin' };
const LATER_AT = new Date('2025-03-03T17:00:00Z'); // 18:00 Berlin the same day: planned, not due

/** Loads mailcron's schedule fingerprint, or returns the reason it cannot. */
export async function loadScheduleHash() {
  try {
    const { readSchedule } = await import('../../dist/core/schedule/slots.js');
    return { hash: (schedule) => readSchedule(schedule).hash };
  } catch (err) {
    return { reason: `dist/core/schedule/slots.js not loadable (${err.code ?? err.message})` };
  }
}

/**
 * Seeds `db.users` with n active users (drops the database first). With `schedule: { due, hash }`,
 * every user has a planned schedule and `due` of them are due at SCHEDULE_NOW.
 * Returns the seconds it took.
 */
export async function seedUsers(client, dbName, n, { schedule } = {}) {
  const db = client.db(dbName);
  await db.dropDatabase();
  const users = db.collection('users');
  const every = schedule ? Math.max(1, Math.floor(n / schedule.due)) : 0;
  const dueHash = schedule?.hash(DUE_SCHEDULE);
  const laterHash = schedule?.hash(LATER_SCHEDULE);
  let dueCount = 0;
  const t0 = performance.now();
  for (let start = 0; start < n; start += BATCH) {
    const docs = [];
    for (let i = start; i < Math.min(n, start + BATCH); i++) {
      const doc = { _id: new ObjectId(), ...userFields(i) };
      if (schedule) {
        const due = i % every === 0 && dueCount < schedule.due;
        if (due) dueCount++;
        doc.schedule = due ? DUE_SCHEDULE : LATER_SCHEDULE;
        doc.mailcron = { nextAt: due ? DUE_AT : LATER_AT, scheduleHash: due ? dueHash : laterHash };
      }
      docs.push(doc);
    }
    await users.insertMany(docs, { ordered: false });
  }
  return { seconds: (performance.now() - t0) / 1000, due: dueCount };
}
