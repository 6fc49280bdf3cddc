// `mailcron status`: per broadcast, what the ledger says happened — the ledger, not the run's own
// counters, so numbers stay right across crashes, reruns and several runs.
import type { BroadcastDoc, BroadcastStatus, BroadcastStore, Lease } from './broadcast/store.js';
import { UsageError } from './errors.js';
import { broadcastScope } from './ledger/keys.js';
import type { Ledger } from './ledger/ledger.js';
import type { ScheduleStatus } from './schedule/status.js';

export interface BroadcastStatusRow {
  id: string;
  subject: string;
  status: BroadcastStatus;
  /** A run holds the lease now (its lease has not expired). */
  running: boolean;
  audience: number | null;
  sent: number;
  /** Permanent failures. */
  failed: number;
  /** Transient failures a rerun retries. */
  retryable: number;
  skipped: number;
  /** Left `claimed` by a run that is gone: a rerun resends them (or skips with --uncertain skip). */
  uncertain: number;
  /** Claimed by the running run, in flight. */
  inFlight: number;
  /** Taken over from crashed runs over the broadcast's life (resent or skipped). */
  takenOver: number;
  /** Audience not yet finally handled: never attempted, retryable or uncertain. */
  pending: number;
  firstSentAt: string | null;
  lastSentAt: string | null;
  /** Sent per minute between the first and the last send. */
  perMinute: number | null;
  runs: number;
  startedAt: string;
  finishedAt: string | null;
  lastError: string | null;
}

export interface StatusResult {
  broadcasts: BroadcastStatusRow[];
  /** The schedule: last run and its counts, users due now, next due time, missed slots, lock (not with --id). */
  schedule?: ScheduleStatus;
}

export interface StatusDeps {
  store: BroadcastStore;
  ledger: Ledger;
  now: Date;
  /** Whether a lease holder still runs: true/false when known (same host), undefined when not. */
  isHolderAlive?: (lease: Lease) => boolean | undefined;
}

async function row(doc: BroadcastDoc, deps: StatusDeps): Promise<BroadcastStatusRow> {
  const { ledger, now } = deps;
  const s = await ledger.summarize(broadcastScope(doc._id));
  const running = doc.status === 'running' && !!doc.lease && doc.lease.expiresAt.getTime() > now.getTime() && deps.isHolderAlive?.(doc.lease) !== false;
  const audience = typeof doc.audienceCount === 'number' ? doc.audienceCount : null;
  const final = s.sent + s.failed + s.skipped + s.missed;
  const spanMs = s.firstSentAt && s.lastSentAt ? s.lastSentAt.getTime() - s.firstSentAt.getTime() : 0;
  return {
    id: doc._id,
    subject: doc.definition.subject,
    status: doc.status === 'running' && !running ? 'interrupted' : doc.status,
    running,
    audience,
    sent: s.sent,
    failed: s.failed,
    retryable: s.retryable,
    skipped: s.skipped + s.missed,
    uncertain: running ? 0 : s.claimed,
    inFlight: running ? s.claimed : 0,
    takenOver: s.uncertain,
    pending: audience === null ? s.retryable + s.claimed : Math.max(0, audience - final),
    firstSentAt: s.firstSentAt?.toISOString() ?? null,
    lastSentAt: s.lastSentAt?.toISOString() ?? null,
    perMinute: spanMs > 0 ? Math.round((s.sent / spanMs) * 60_000 * 10) / 10 : null,
    runs: doc.runs,
    startedAt: doc.startedAt.toISOString(),
    finishedAt: doc.finishedAt?.toISOString() ?? null,
    lastError: doc.lastRun?.error ?? null,
  };
}

/**
 * Status of one broadcast (`id`) or of the latest `limit` (default 20). A broadcast marked
 * running whose lease expired is shown as interrupted: its run is gone.
 */
export async function broadcastStatus(deps: StatusDeps, options: { id?: string; limit?: number } = {}): Promise<StatusResult> {
  if (options.id !== undefined) {
    const doc = await deps.store.get(options.id);
    if (!doc) throw new UsageError(`no broadcast with id ${JSON.stringify(options.id)}; run mailcron status to list them`);
    return { broadcasts: [await row(doc, deps)] };
  }
  const docs = await deps.store.list(options.limit ?? 20);
  const rows: BroadcastStatusRow[] = [];
  for (const d of docs) rows.push(await row(d, deps));
  return { broadcasts: rows };
}
