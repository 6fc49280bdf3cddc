// The ports core depends on. Adapters in src/adapters/ implement them; tests pass fakes.
// Core never touches MongoDB, SMTP, the clock or the process directly.

/** A user as stored by the operator's application. Only `_id` is guaranteed. */
export interface UserDoc {
  _id: unknown;
  email?: unknown;
  name?: unknown;
  active?: unknown;
  [field: string]: unknown;
}

/** Streams users in `_id` order (keyset), a bounded batch at a time. */
export interface UserSource {
  /** Number of users matching the audience (for the progress bar and the confirmation). */
  count(): Promise<number>;
  /**
   * Yields batches of users with `_id` greater than `after`, in ascending `_id` order.
   * Implementations re-query from the last `_id` when a cursor is lost instead of failing.
   */
  batches(options: { after?: unknown; batchSize: number; signal?: AbortSignal }): AsyncIterable<UserDoc[]>;
}

/** A rendered message ready for the transport. */
export interface OutgoingMessage {
  from: string;
  to: string;
  subject: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
  /** Set by the pipeline so the ledger knows the Message-ID before the send. */
  messageId: string;
}

export interface SendReceipt {
  messageId: string;
  /** The server's final reply, e.g. `250 2.0.0 Ok: queued as ABC`. */
  response?: string;
}

/** Sends one message. Rejects with the transport's error (classified by classifySmtpError). */
export interface Mailer {
  send(message: OutgoingMessage): Promise<SendReceipt>;
  /** Connect, EHLO, STARTTLS and AUTH without sending. */
  verify?(): Promise<void>;
  close(): Promise<void>;
}

/** Time, injectable so tests and `--now` can fix it. */
export interface Clock {
  now(): Date;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Progress events for the CLI's bar or plain lines. */
export interface ProgressSink {
  /** `done`: outcomes already recorded before this run (a resume), for the bar's starting point. */
  start?(info: { total: number | undefined; label: string; done?: number }): void;
  /** The total, once known when `start` had none (the audience is counted while sending starts). */
  setTotal?(total: number): void;
  update(counts: RunCounts): void;
  stop?(): void;
}

/** Outcome counts every sending command returns. */
export interface RunCounts {
  sent: number;
  failed: number;
  skipped: number;
  /** Deliveries a crashed earlier run left `claimed`: resent (or skipped with `--uncertain skip`). */
  uncertain: number;
  /** Already handled by an earlier run and left alone. */
  alreadyDone: number;
  /** Transient failures retried within this run. */
  retried: number;
}
