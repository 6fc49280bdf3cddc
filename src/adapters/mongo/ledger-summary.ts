// Per-scope counts for `status`, from the two ledger collections (see mongo-ledger.ts): outcomes
// come from the records; what is in flight is the claims without a record, plus the retries whose
// claim is newer than their record.
import type { Collection, Document } from 'mongodb';
import type { DeliveryRecord, LedgerSummary } from '../../core/ledger/ledger.js';
import type { ClaimDoc } from './mongo-ledger.js';

/** Claims checked against their records per round trip when counting retries in flight. */
const CHECK_BATCH = 50;

export async function summarizeScope(
  cols: { claims: Collection<ClaimDoc>; deliveries: Collection<DeliveryRecord & Document> },
  scope: string,
  options: { times?: boolean } = {},
): Promise<LedgerSummary> {
  const s: LedgerSummary = { scope, sent: 0, failed: 0, retryable: 0, skipped: 0, missed: 0, claimed: 0, uncertain: 0 };
  // One accumulator per $group (FerretDB v1): grouped by status and transience.
  const groups = await cols.deliveries
    .aggregate<{ _id: { status: string; transient?: boolean | null }; n: number }>([
      { $match: { scope } },
      { $group: { _id: { status: '$status', transient: '$transient' }, n: { $sum: 1 } } },
    ])
    .toArray();
  let records = 0;
  for (const g of groups) {
    const n = Number(g.n);
    records += n;
    if (g._id.status === 'sent') s.sent += n;
    else if (g._id.status === 'failed') g._id.transient ? (s.retryable += n) : (s.failed += n);
    else if (g._id.status === 'skipped') s.skipped += n;
    else if (g._id.status === 'missed') s.missed += n;
  }
  const claimGroups = await cols.claims
    .aggregate<{ _id: boolean | null; n: number }>([{ $match: { scope } }, { $group: { _id: '$uncertain', n: { $sum: 1 } } }])
    .toArray();
  let claims = 0;
  for (const g of claimGroups) {
    claims += Number(g.n);
    if (g._id) s.uncertain += Number(g.n);
  }
  // Retries under way: only claims taken over or retried (gen > 0) can be newer than a record.
  let retrying = 0;
  const reclaimed = cols.claims.find({ scope, gen: { $gt: 0 } }, { projection: { gen: 1 } });
  let batch: ClaimDoc[] = [];
  const check = async () => {
    const recs = await Promise.all(batch.map((c) => cols.deliveries.findOne({ _id: c._id }, { projection: { gen: 1, status: 1, transient: 1 } })));
    batch.forEach((c, i) => {
      const rec = recs[i];
      if (rec && c.gen > (rec.gen ?? 0)) {
        retrying++;
        if (rec.status === 'failed' && rec.transient) s.retryable--;
      }
    });
    batch = [];
  };
  for await (const c of reclaimed) {
    batch.push(c);
    if (batch.length >= CHECK_BATCH) await check();
  }
  if (batch.length) await check();
  s.claimed = Math.max(0, claims - records) + retrying;

  if (s.sent > 0 && options.times !== false) {
    // Index {scope, status, sentAt} on MongoDB; a scan on FerretDB.
    const sent = { scope, status: 'sent' as const };
    const [first] = await cols.deliveries.find(sent, { projection: { sentAt: 1 } }).sort({ sentAt: 1 }).limit(1).toArray();
    const [last] = await cols.deliveries.find(sent, { projection: { sentAt: 1 } }).sort({ sentAt: -1 }).limit(1).toArray();
    if (first?.sentAt) s.firstSentAt = first.sentAt;
    if (last?.sentAt) s.lastSentAt = last.sentAt;
  }
  return s;
}
