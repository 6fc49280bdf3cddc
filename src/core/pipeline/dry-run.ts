// Dry runs: render and count what a real run would do, reading the ledger but writing nothing.
import type { DeliveryTask, PipelineCounts, RunDeliveriesOptions } from './types.js';

/** Counts one chunk as a real run would: `sent` means "would send". */
export async function dryRunChunk(tasks: DeliveryTask[], o: Pick<RunDeliveriesOptions, 'ledger' | 'uncertain'>, counts: PipelineCounts): Promise<void> {
  const existing = await o.ledger.lookup(tasks.map((t) => t.key));
  for (const task of tasks) {
    const rec = existing.get(task.key);
    if (rec && rec.status !== 'claimed' && !(rec.status === 'failed' && rec.transient)) {
      counts.alreadyDone++;
      continue;
    }
    if (rec?.status === 'claimed') {
      counts.uncertain++;
      if (o.uncertain === 'skip') {
        counts.skipped++;
        continue;
      }
      counts.uncertainResent++;
    }
    if (task.record) {
      if (task.record.status === 'missed') counts.missed++;
      else counts.skipped++;
      continue;
    }
    const r = task.render ? task.render() : { ok: false as const, reason: 'nothing to send' };
    if (r.ok) counts.sent++;
    else counts.skipped++;
  }
}
