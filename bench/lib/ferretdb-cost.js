// What FerretDB itself spends per user on the work every ledger-on broadcast gives it: one read of the
// users in `_id` order, and the ledger documents mailcron inserts (one claim and one record per
// delivery). Measured with the harness's own client, replaying the documents mailcron's throughput
// run wrote, so the shapes and sizes are the real ones. The report splits FerretDB's share of the
// CPU budget with it (see report.js, cpuBudget).
import { procCpuSeconds, round } from './measure.js';

const BATCH = 250; // about a claim chunk or a recorder batch at full speed

/** FerretDB CPU seconds spent while `fn` runs (its own commands only: the caller waits for idle first). */
async function serverCpu(pid, fn) {
  const before = procCpuSeconds(pid);
  await fn();
  const after = procCpuSeconds(pid);
  return before == null || after == null ? null : after - before;
}

async function replay(db, pid, from, to, limit) {
  const docs = await db.collection(from).find({}).limit(limit).toArray();
  if (docs.length === 0) return null;
  const target = db.collection(to);
  await target.drop().catch(() => {});
  const cpu = await serverCpu(pid, async () => {
    for (let i = 0; i < docs.length; i += BATCH) await target.insertMany(docs.slice(i, i + BATCH), { ordered: false });
  });
  await target.drop().catch(() => {});
  return cpu == null ? null : { microseconds: round((cpu / docs.length) * 1e6, 1), documents: docs.length };
}

/**
 * Seconds until the first batch of that read arrives, and server CPU per user of: the sorted read a broadcast makes (`active: true`, by `_id`, in batches
 * of 1,000) and an insert of one claim and one record as mailcron wrote them, in bulks of 250.
 * Null fields where a collection is empty or /proc is unreadable.
 */
export async function ferretdbCost(db, pid, { users, claims = 'mailcron_claims', deliveries = 'mailcron_deliveries' }) {
  let read = 0;
  let firstBatch = null;
  const started = performance.now();
  const scanCpu = await serverCpu(pid, async () => {
    for await (const _ of db.collection('users').find({ active: true }).sort({ _id: 1 }).batchSize(1000)) {
      if (read++ === 0) firstBatch = (performance.now() - started) / 1000;
    }
  });
  const claim = await replay(db, pid, claims, 'bench_cost_claims', users);
  const record = await replay(db, pid, deliveries, 'bench_cost_deliveries', users);
  return {
    sortedReadMicrosecondsPerUser: scanCpu == null || read === 0 ? null : round((scanCpu / read) * 1e6, 1),
    // FerretDB v1 sorts the whole result in memory before it returns the first batch.
    sortedReadFirstBatchSeconds: firstBatch == null ? null : round(firstBatch, 3),
    claimInsertMicroseconds: claim?.microseconds ?? null,
    recordInsertMicroseconds: record?.microseconds ?? null,
    usersRead: read,
  };
}
