// The delivery ledger port: one record per (message, user) — or (user, slot) for `schedule` —
// keyed by a delivery key. It is what makes sends idempotent across overlaps and crashes.
// Implemented over `mailcron_claims` + `mailcron_deliveries` by src/adapters/mongo/mongo-ledger.ts
// (a record there is `claimed` while it has a claim and no outcome yet); tests use the
// in-memory ledger in ./memory-ledger.ts.
//
// Exclusivity: callers hold an exclusive lease on the scope (the broadcast lease, the schedule
// lock) while they claim. So a record left `claimed` by another owner belongs to a run that died,
// and the ledger hands it over as `uncertain`.

export type DeliveryStatus = 'claimed' | 'sent' | 'failed' | 'missed' | 'skipped';

/** A secret-free description of the last failure (see describeSmtpError). */
export interface DeliveryError {
  code?: string;
  responseCode?: number;
  message: string;
}

/** One delivery as the ledger sees it (MongoDB: the claim and, once recorded, its outcome record). */
export interface DeliveryRecord {
  /** The delivery key, e.g. `b:<broadcast id>:<user key>` or `s:<user key>:<slot iso>`. */
  _id: string;
  /** What `status` groups by: `broadcast:<id>`, or whatever schedule chooses (e.g. `schedule`). */
  scope: string;
  userId: unknown;
  email?: string;
  /** Schedule slot time, when the key is user + slot. */
  slot?: Date;
  /** Message-ID of the delivery, fixed at claim time so a resend carries the same one. */
  messageId?: string;
  status: DeliveryStatus;
  /** For `failed`: true when worth retrying (4xx, connection errors), so a rerun takes it again. */
  transient?: boolean;
  /** SMTP attempts across all runs. */
  attempts: number;
  /** Why `skipped` or `missed` (e.g. `invalid email`, `uncertain`). */
  reason?: string;
  /** Set when the record was taken over from a crashed run (resent, or skipped under `--uncertain skip`). */
  uncertain?: boolean;
  /** Takeovers of this record (from a crashed run, or to retry a transient failure). */
  gen?: number;
  /** The server's reply to a successful send. */
  response?: string;
  lastError?: DeliveryError;
  /** Run owner that holds or last held the claim. */
  claimedBy: string;
  claimedAt: Date;
  sentAt?: Date;
  updatedAt: Date;
  /** Caller extras kept with the record, e.g. `{ template: 'digest' }`. */
  data?: Record<string, unknown>;
}

/** A key to claim, with what the record should carry from the start. */
export interface ClaimRequest {
  key: string;
  scope: string;
  userId: unknown;
  email?: string;
  slot?: Date;
  messageId?: string;
  data?: Record<string, unknown>;
}

/**
 * What claiming one key gave:
 * - `new`: inserted now, ours to send;
 * - `retry`: a transient failure of an earlier run, reclaimed by compare-and-set: ours to send again;
 * - `uncertain`: left `claimed` by a run that died (it may or may not have sent), reclaimed: ours to
 *   resend or to record `skipped` (`--uncertain skip`);
 * - `done`: sent, permanently failed, skipped or missed earlier: leave it;
 * - `busy`: held by this owner already, or the compare-and-set lost: leave it.
 */
export type ClaimResult =
  | { key: string; outcome: 'new' }
  | { key: string; outcome: 'retry'; attempts: number }
  | { key: string; outcome: 'uncertain'; attempts: number; previousOwner: string }
  | { key: string; outcome: 'done'; status: Exclude<DeliveryStatus, 'claimed'> }
  | { key: string; outcome: 'busy'; owner: string };

/** The result of one delivery, written in bulk by the recorder. `attempts` = SMTP attempts made in this run. */
export type DeliveryOutcome =
  | { key: string; kind: 'sent'; at: Date; attempts: number; messageId: string; response?: string; uncertain?: boolean }
  | { key: string; kind: 'failed'; at: Date; attempts: number; transient: boolean; error: DeliveryError; uncertain?: boolean }
  | { key: string; kind: 'skipped' | 'missed'; at: Date; reason: string; uncertain?: boolean; attempts?: number }
  /**
   * Give a claim back unsent (the run stopped before sending it): a `new` claim is deleted,
   * a reclaimed transient failure goes back to `failed` (transient), an uncertain one stays `claimed`.
   */
  | { key: string; kind: 'release'; restore: 'delete' | 'failed' | 'keep' };

/** Per-scope numbers for `status`. */
export interface LedgerSummary {
  scope: string;
  sent: number;
  /** Permanent failures. */
  failed: number;
  /** Transient failures a rerun will retry. */
  retryable: number;
  skipped: number;
  missed: number;
  /** Records still `claimed` (by a run in progress, or left by a crashed one). */
  claimed: number;
  /** Records taken over from a crashed run, whatever became of them. */
  uncertain: number;
  firstSentAt?: Date;
  lastSentAt?: Date;
}

export interface Ledger {
  /**
   * Claims the keys for `owner`: one unordered bulk insert, so of several runs inserting a key
   * exactly one gets it; duplicates are read back and decided (see ClaimResult). Transient
   * failures and records left `claimed` by another owner are taken over (their `gen` counts
   * takeovers) — safe because the caller holds the scope's exclusive lease. Results come back in
   * request order.
   */
  claim(requests: ClaimRequest[], owner: string, now: Date): Promise<ClaimResult[]>;
  /**
   * Writes outcomes in one bulk. The caller's exclusive lease on the scope is what makes it the
   * only writer (the MongoDB ledger filters on `_id` alone, see mongo-ledger.ts).
   */
  record(outcomes: DeliveryOutcome[], owner: string): Promise<void>;
  /** Read-only: the current status of these keys (dry runs). Missing keys are absent from the map. */
  lookup(keys: string[]): Promise<Map<string, Pick<DeliveryRecord, 'status' | 'transient' | 'claimedBy'>>>;
  /** Counts by status and (unless `times: false`) first/last send of one scope. */
  summarize(scope: string, options?: { times?: boolean }): Promise<LedgerSummary>;
}

/** A ledger outcome is final when a rerun leaves it alone. */
export function isFinal(o: DeliveryOutcome): boolean {
  if (o.kind === 'release') return false;
  if (o.kind === 'failed') return !o.transient;
  return true;
}
