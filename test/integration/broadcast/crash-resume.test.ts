// kill -9 of the CLI at random points, then rerun: nobody is missed, and the only duplicates are
// deliveries the rerun reported as uncertain (in flight when the process died).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import { runCli, seedUsers, startCli, summary, templateFile, until, type SeedSummary } from './helpers.js';

let t: TestDb;
let smtp: TestSmtp;
let seeded: SeedSummary;
let env: Record<string, string>;
const tpl = templateFile('crash');

beforeAll(async () => {
  t = await openTestDb('bc_crash');
  smtp = await startTestSmtp();
  seeded = await seedUsers(t.db, 2000);
  env = { MONGODB_URI: t.uri, SMTP_URL: smtp.url };
});
afterAll(async () => {
  await smtp?.stop();
  await t?.drop();
});

/** Starts a run and SIGKILLs it once the server has accepted `atMessages` messages in total. */
async function killAt(id: string, atMessages: number): Promise<void> {
  const run = startCli(['broadcast', '--template', tpl, '--id', id, '--json'], env);
  let exited = false;
  void run.done.then(() => (exited = true));
  await until(() => smtp.messages.length >= atMessages || exited, 45_000);
  run.child.kill('SIGKILL');
  const r = await run.done;
  expect(r.signal, `run ended before the kill point ${atMessages}: ${r.stderr}`).toBe('SIGKILL');
}

function check(label: string) {
  const counts = smtp.countByRecipient();
  const missed = [...seeded.expected.keys()].filter((e) => !counts.has(e));
  const strangers = [...counts.keys()].filter((e) => !seeded.expected.has(e));
  const duplicates = [...counts.values()].reduce((n, c) => n + (c - 1), 0);
  expect(missed, `${label}: users missed`).toEqual([]);
  expect(strangers, `${label}: recipients outside the audience`).toEqual([]);
  return duplicates;
}

describe('broadcast after kill -9', () => {
  it('one kill at a random point, then a rerun: nobody missed, duplicates ≤ reported uncertain', async () => {
    const point = 100 + Math.floor(Math.random() * 1400);
    smtp.reset();
    await killAt('crash-a', point);
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'crash-a', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const s = summary(r);
    expect(s.status).toBe('completed');
    const duplicates = check(`kill at ${point}`);
    expect(duplicates, `kill at ${point}: duplicates vs uncertain ${s.counts.uncertain}`).toBeLessThanOrEqual(s.counts.uncertain);
    // Everything between the checkpoint and the kill was recognised as already done.
    expect(s.counts.sent + s.counts.alreadyDone + s.counts.skipped).toBeGreaterThan(0);
  });

  it('several kills at random points in one broadcast, then a rerun: nobody missed, duplicates ≤ uncertain', async () => {
    smtp.reset();
    const points = [0, 1, 2].map(() => 100 + Math.floor(Math.random() * 1500)).sort((a, b) => a - b);
    // Distinct, increasing kill points (each run must get past the previous one).
    for (let i = 1; i < points.length; i++) points[i] = Math.max(points[i]!, points[i - 1]! + 50);
    for (const p of points) await killAt('crash-b', p);
    const r = await runCli(['broadcast', '--template', tpl, '--id', 'crash-b', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(summary(r).status).toBe('completed');
    const duplicates = check(`kills at ${points.join(', ')}`);
    // Every run after a kill took over what the dead one left in flight (the rerun's "uncertain");
    // the killed reruns cannot report theirs, so count takeovers in the ledger: each one raised the
    // record's `gen` (there are no transient failures here, the other reason to raise it). A record
    // taken over twice (sent by runs 1, 2 and 3) counts twice, as it may arrive three times.
    const deliveries = t.db.collection('mailcron_deliveries');
    const takenOver = await deliveries.countDocuments({ scope: 'broadcast:crash-b', uncertain: true });
    const [gens] = await deliveries.aggregate<{ n: number }>([{ $match: { scope: 'broadcast:crash-b' } }, { $group: { _id: null, n: { $sum: '$gen' } } }]).toArray();
    expect(duplicates, `kills at ${points.join(', ')}`).toBeLessThanOrEqual(gens?.n ?? 0);
    const st = JSON.parse((await runCli(['status', '--id', 'crash-b', '--json'], env)).stdout) as { broadcasts: Array<Record<string, number>> };
    expect(st.broadcasts[0]).toMatchObject({ sent: seeded.expected.size, uncertain: 0, pending: 0, takenOver });
  });
});
