// Types of the delivery pipeline shared by `broadcast` and `schedule`.
import type { MailcronError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Clock, Mailer, OutgoingMessage, ProgressSink, RunCounts } from '../ports.js';
import type { RateLimit } from '../rate-limit.js';
import type { RetryPolicy } from '../retry.js';

/** What a task's render gives: the message to send, or why this user gets none (recorded `skipped`). */
export type RenderResult = { ok: true; message: OutgoingMessage } | { ok: false; reason: string };

/** One delivery to make (or to record without sending). */
export interface DeliveryTask {
  /** Delivery key: the ledger `_id`. */
  key: string;
  userId: unknown;
  email?: string;
  slot?: Date;
  /** Message-ID, fixed per key so a resend after a crash carries the same one (makeMessageId(key, from)). */
  messageId: string;
  /**
   * Stream position for the checkpoint (broadcast: the user `_id`). Tasks must come in position
   * order; `onCheckpoint` reports the highest position below which every outcome is recorded and final.
   */
  position?: unknown;
  /** Extra fields for the ledger record, e.g. `{ template: 'digest' }`. */
  data?: Record<string, unknown>;
  /** Renders the message at send time, so queued tasks stay small. Called once per run per task. */
  render?: () => RenderResult;
  /** Record this outcome instead of sending (invalid email, schedule's missed slots). */
  record?: { status: 'skipped' | 'missed'; reason: string };
}

/** Counts of one pipeline run (RunCounts plus what schedule and status need). */
export interface PipelineCounts extends RunCounts {
  missed: number;
  /** Of `failed`: transient failures left after the in-run retries; a rerun retries them. */
  retryable: number;
  /** Tasks taken from the source. */
  seen: number;
  /** Of `uncertain`: how many were resent. */
  uncertainResent: number;
}

export type StopReason = 'signal' | 'fatal' | 'max-errors';

/** How a run sends; the same knobs for broadcast and schedule. */
export interface DeliveryTuning {
  /** Concurrent sends. Default 15. Lowered on 421 replies, recovered after a quiet period. */
  concurrency?: number;
  /** Sliding-window cap on send attempts, on top of the concurrency cap. */
  rate?: RateLimit;
  /** Default: 5 attempts, backoff 500 ms × 2^n with full jitter, capped at 30 s. */
  retry?: Partial<RetryPolicy>;
  /** Stop with AbortedError once this many deliveries failed in this run. Default: no limit. */
  maxErrors?: number;
  /** Deliveries left `claimed` by a crashed run: resend (default) or record `skipped`. */
  uncertain?: 'resend' | 'skip';
  /** Render and count; no claims, no sends, no writes (reads the ledger to count what is done). */
  dryRun?: boolean;
}

export interface RunDeliveriesOptions extends DeliveryTuning {
  /** Batches of tasks in position order (bounded: the pipeline pulls the next batch only when it needs one). */
  tasks: AsyncIterable<DeliveryTask[]>;
  ledger: Ledger;
  mailer: Mailer;
  clock: Clock;
  /** Unique id of this run; written as `claimedBy`. */
  owner: string;
  /** Ledger scope of every claimed record (`broadcast:<id>`, `schedule`). */
  scope: string;
  /** Aborted on SIGINT/SIGTERM: stop taking work, drain in-flight sends, flush, return. */
  signal?: AbortSignal;
  progress?: ProgressSink;
  /** Called (awaited, in order) when the low watermark advances. */
  onCheckpoint?: (position: unknown) => Promise<void> | void;
  /**
   * Keys claimed per ledger round trip, fixed. Default: about 100 ms of sending at the recent
   * rate, between max(50, 4 × concurrency) and 16 × concurrency.
   */
  claimChunk?: number;
  /** Ledger flush interval. Default 250 ms. */
  flushMs?: number;
  /** Randomness for jitter (tests). Default Math.random. */
  random?: () => number;
}

export interface RunResult {
  counts: PipelineCounts;
  /** Set when the run stopped before the source was exhausted. */
  stopped?: { reason: StopReason; error?: MailcronError };
  /** Last low watermark reached (undefined when none advanced). */
  checkpoint?: unknown;
  /** Concurrency at the end (lower than asked when the server pushed back with 421). */
  finalConcurrency: number;
  startedAt: Date;
  finishedAt: Date;
}
