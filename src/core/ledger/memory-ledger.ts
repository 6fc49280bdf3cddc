// An in-memory Ledger with the same decisions as the MongoDB one, for unit tests of the
// pipeline and of schedule. Not for production: nothing survives the process.
import type { ClaimRequest, ClaimResult, DeliveryOutcome, DeliveryRecord, Ledger, LedgerSummary } from './ledger.js';

export interface MemoryLedger extends Ledger {
  readonly records: Map<string, DeliveryRecord>;
  /** Claim and record calls so far (tests assert batching). */
  readonly calls: { claim: number; record: number };
  /** Makes the next `n` record() calls reject (tests of flush failures). */
  failNextRecords(n: number): void;
}

/** Decides one existing record for `owner`; mutates it when reclaiming. Shared by the Mongo ledger's tests. */
export function decideExisting(rec: DeliveryRecord, owner: string, now: Date): ClaimResult {
  const key = rec._id;
  if (rec.status === 'claimed') {
    if (rec.claimedBy === owner) return { key, outcome: 'busy', owner };
    const previousOwner = rec.claimedBy;
    Object.assign(rec, { claimedBy: owner, claimedAt: now, updatedAt: now, uncertain: true, gen: (rec.gen ?? 0) + 1 });
    return { key, outcome: 'uncertain', attempts: rec.attempts, previousOwner };
  }
  if (rec.status === 'failed' && rec.transient) {
    Object.assign(rec, { status: 'claimed', claimedBy: owner, claimedAt: now, updatedAt: now, gen: (rec.gen ?? 0) + 1 });
    return { key, outcome: 'retry', attempts: rec.attempts };
  }
  return { key, outcome: 'done', status: rec.status };
}

/** Applies one outcome to a record held by `owner`; returns false when the record is not ours. */
export function applyOutcome(records: Map<string, DeliveryRecord>, o: DeliveryOutcome, owner: string): boolean {
  const rec = records.get(o.key);
  if (!rec || rec.claimedBy !== owner || rec.status !== 'claimed') return false;
  if (o.kind === 'release') {
    if (o.restore === 'delete') records.delete(o.key);
    else if (o.restore === 'failed') Object.assign(rec, { status: 'failed', transient: true });
    return true;
  }
  rec.updatedAt = o.at;
  if (o.uncertain) rec.uncertain = true;
  if (o.kind === 'sent') {
    Object.assign(rec, { status: 'sent', sentAt: o.at, messageId: o.messageId, attempts: rec.attempts + o.attempts });
    if (o.response !== undefined) rec.response = o.response;
    delete rec.transient;
  } else if (o.kind === 'failed') {
    Object.assign(rec, { status: 'failed', transient: o.transient, lastError: o.error, attempts: rec.attempts + o.attempts });
  } else {
    Object.assign(rec, { status: o.kind, reason: o.reason, attempts: rec.attempts + (o.attempts ?? 0) });
  }
  return true;
}

export function createMemoryLedger(): MemoryLedger {
  const records = new Map<string, DeliveryRecord>();
  const calls = { claim: 0, record: 0 };
  let failRecords = 0;
  return {
    records,
    calls,
    failNextRecords(n) {
      failRecords = n;
    },
    async claim(requests: ClaimRequest[], owner: string, now: Date): Promise<ClaimResult[]> {
      calls.claim++;
      return requests.map((r) => {
        const existing = records.get(r.key);
        if (existing) return decideExisting(existing, owner, now);
        const rec: DeliveryRecord = {
          _id: r.key,
          scope: r.scope,
          userId: r.userId,
          status: 'claimed',
          attempts: 0,
          claimedBy: owner,
          claimedAt: now,
          updatedAt: now,
        };
        if (r.email !== undefined) rec.email = r.email;
        if (r.slot !== undefined) rec.slot = r.slot;
        if (r.messageId !== undefined) rec.messageId = r.messageId;
        if (r.data !== undefined) rec.data = r.data;
        records.set(r.key, rec);
        return { key: r.key, outcome: 'new' };
      });
    },
    async record(outcomes: DeliveryOutcome[], owner: string): Promise<void> {
      calls.record++;
      if (failRecords > 0) {
        failRecords--;
        throw new Error('memory ledger: simulated write failure');
      }
      for (const o of outcomes) applyOutcome(records, o, owner);
    },
    async lookup(keys: string[]) {
      const out = new Map<string, Pick<DeliveryRecord, 'status' | 'transient' | 'claimedBy'>>();
      for (const k of keys) {
        const r = records.get(k);
        if (r) out.set(k, { status: r.status, transient: r.transient, claimedBy: r.claimedBy });
      }
      return out;
    },
    async summarize(scope: string): Promise<LedgerSummary> {
      const s: LedgerSummary = { scope, sent: 0, failed: 0, retryable: 0, skipped: 0, missed: 0, claimed: 0, uncertain: 0 };
      for (const r of records.values()) {
        if (r.scope !== scope) continue;
        if (r.uncertain) s.uncertain++;
        if (r.status === 'sent') {
          s.sent++;
          if (r.sentAt && (!s.firstSentAt || r.sentAt < s.firstSentAt)) s.firstSentAt = r.sentAt;
          if (r.sentAt && (!s.lastSentAt || r.sentAt > s.lastSentAt)) s.lastSentAt = r.sentAt;
        } else if (r.status === 'failed') {
          if (r.transient) s.retryable++;
          else s.failed++;
        } else if (r.status === 'skipped') s.skipped++;
        else if (r.status === 'missed') s.missed++;
        else s.claimed++;
      }
      return s;
    },
  };
}
