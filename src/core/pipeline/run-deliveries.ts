// The delivery pipeline shared by `broadcast` and `schedule`:
//   tasks (bounded batches) → ledger claim (bulk, one chunk ahead) → p-queue (concurrency,
//   backpressure) → mailer → recorder (bulk, every 250 ms) → low watermark.
// SMTP and ledger problems never throw out of here: the run stops taking work, drains what is in
// flight, gives back claims it never started, flushes, and returns `stopped`.
import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import { AbortedError, FatalError, classifySmtpError, describeSmtpError, type MailcronError } from '../errors.js';
import type { ClaimResult, DeliveryOutcome } from '../ledger/ledger.js';
import { isFinal } from '../ledger/ledger.js';
import { createRecorder } from '../ledger/recorder.js';
import type { OutgoingMessage } from '../ports.js';
import { createRateLimiter } from '../rate-limit.js';
import { backoffDelay, retryPolicy } from '../retry.js';
import { createAdaptiveConcurrency } from './adaptive-concurrency.js';
import { createClaimWindow } from './claim-window.js';
import { dryRunChunk } from './dry-run.js';
import type { DeliveryTask, PipelineCounts, RunDeliveriesOptions, RunResult, StopReason } from './types.js';
import { Watermark, type WatermarkEntry } from './watermark.js';

export function zeroCounts(): PipelineCounts {
  return { sent: 0, failed: 0, skipped: 0, missed: 0, uncertain: 0, uncertainResent: 0, alreadyDone: 0, retried: 0, retryable: 0, seen: 0 };
}

/** A claimed task on its way through the queue. */
interface Job {
  task: DeliveryTask;
  claim: ClaimResult;
  mark?: WatermarkEntry;
  message?: OutgoingMessage;
  /** SMTP attempts in this run (421 pushback counted apart). */
  attempts: number;
  throttled: number;
  uncertain: boolean;
  lastError?: unknown;
}

/** 421 "too many connections" replies a delivery may get before it counts as a failure. */
const MAX_THROTTLED = 20;
const CONNECTION_CODES = new Set(['ECONNECTION', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKET', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE']);

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; responseCode?: unknown };
  return typeof e?.code === 'string' && CONNECTION_CODES.has(e.code) && typeof e.responseCode !== 'number';
}

/**
 * Runs deliveries to completion or until stopped. Bounded: at most one claim chunk ahead, a queue
 * of max(2 × concurrency, half a chunk) waiting tasks, and one recorder buffer of about two chunks.
 * See RunDeliveriesOptions for defaults.
 */
export async function runDeliveries(o: RunDeliveriesOptions): Promise<RunResult> {
  const startedAt = o.clock.now();
  const maxConcurrency = Math.max(1, o.concurrency ?? 15);
  const claims = createClaimWindow({
    min: o.claimChunk ?? Math.max(50, 4 * maxConcurrency),
    max: o.claimChunk ?? 16 * maxConcurrency,
    clock: o.clock,
  });
  const policy = retryPolicy(o.retry);
  // Sent but not yet recorded is what a hard crash makes uncertain: at most about two chunks.
  const maxBacklog = () => Math.max(100, 2 * claims.size);
  const random = o.random ?? Math.random;
  const counts = zeroCounts();
  const progress = () => o.progress?.update({ ...counts });

  // Wakes the feeder whenever a send ends or a retry re-enters the queue.
  let wake: () => void = () => {};
  let changed = new Promise<void>((r) => (wake = r));
  const notify = () => {
    wake();
    changed = new Promise<void>((r) => (wake = r));
  };

  const stopCtl = new AbortController();
  // Every retry backoff and rate-limit wait listens on it; bounded by the queue, not a leak.
  setMaxListeners(0, stopCtl.signal);
  let stopped: { reason: StopReason; error?: MailcronError } | undefined;
  const stop = (reason: StopReason, error?: MailcronError) => {
    if (stopped) return;
    stopped = error ? { reason, error } : { reason };
    stopCtl.abort(error ?? new Error(reason));
    notify();
  };
  const onSignal = () => stop('signal');
  if (o.signal?.aborted) onSignal();
  else o.signal?.addEventListener('abort', onSignal, { once: true });

  const watermark = o.onCheckpoint ? new Watermark() : undefined;
  const marks = new Map<string, WatermarkEntry>();
  let checkpointing: Promise<void> = Promise.resolve();
  const pushCheckpoint = () => {
    const t = watermark?.take();
    if (!t?.moved) return;
    checkpointing = checkpointing.then(() => o.onCheckpoint!(t.value)).catch(() => {});
  };

  const recorder = createRecorder({
    ledger: o.ledger,
    owner: o.owner,
    clock: o.clock,
    ...(o.flushMs !== undefined ? { flushMs: o.flushMs } : {}),
    onDurable: (batch) => {
      if (!watermark) return;
      for (const out of batch) {
        const mark = marks.get(out.key);
        if (!mark) continue;
        marks.delete(out.key);
        watermark.settle(mark, isFinal(out));
      }
      pushCheckpoint();
    },
    onFailure: (err) =>
      stop(
        'fatal',
        new FatalError(
          `could not record results in MongoDB (${(err as Error)?.message ?? err}); deliveries in flight stay claimed and a rerun resends them as uncertain`,
          { cause: err },
        ),
      ),
  });

  const record = (job: Job, outcome: DeliveryOutcome) => {
    recorder.add(outcome);
    claims.done(1);
    progress();
  };
  const release = (job: Job) => {
    const restore = job.claim.outcome === 'new' ? 'delete' : job.claim.outcome === 'retry' ? 'failed' : 'keep';
    recorder.add({ key: job.task.key, kind: 'release', restore });
  };

  const queue = new PQueue({ concurrency: maxConcurrency });
  const adaptive = createAdaptiveConcurrency({ max: maxConcurrency, clock: o.clock, apply: (n) => (queue.concurrency = n) });
  const limiter = o.rate ? createRateLimiter(o.rate, o.clock) : undefined;
  const retrying = new Set<Promise<void>>();

  const failed = (job: Job, transient: boolean) => {
    const err = job.lastError;
    counts.failed++;
    if (transient) counts.retryable++;
    record(job, {
      key: job.task.key,
      kind: 'failed',
      at: o.clock.now(),
      attempts: job.attempts + job.throttled,
      transient,
      error: describeSmtpError(err),
      ...(job.uncertain ? { uncertain: true } : {}),
    });
    if (o.maxErrors !== undefined && counts.failed >= o.maxErrors) {
      const last = describeSmtpError(err).message;
      stop('max-errors', new AbortedError(`${counts.failed} deliveries failed, reaching --max-errors ${o.maxErrors} (last: ${last}). Fix the cause and rerun: nothing sent is sent again.`));
    }
  };

  const attempt = async (job: Job): Promise<void> => {
    if (stopped) return job.attempts + job.throttled > 0 ? failed(job, true) : release(job);
    if (!job.message) {
      const r = job.task.render ? job.task.render() : { ok: false as const, reason: 'nothing to send' };
      if (!r.ok) {
        counts.skipped++;
        return record(job, { key: job.task.key, kind: 'skipped', at: o.clock.now(), reason: r.reason, ...(job.uncertain ? { uncertain: true } : {}) });
      }
      job.message = r.message;
    }
    if (limiter) {
      try {
        await limiter.acquire(stopCtl.signal);
      } catch {
        return job.attempts + job.throttled > 0 ? failed(job, true) : release(job);
      }
    }
    const epoch = adaptive.epoch;
    try {
      const receipt = await o.mailer.send(job.message);
      job.attempts++;
      counts.sent++;
      adaptive.success();
      record(job, {
        key: job.task.key,
        kind: 'sent',
        at: o.clock.now(),
        attempts: job.attempts + job.throttled,
        messageId: receipt.messageId || job.task.messageId,
        ...(receipt.response !== undefined ? { response: receipt.response.slice(0, 300) } : {}),
        ...(job.uncertain ? { uncertain: true } : {}),
      });
    } catch (err) {
      job.lastError = err;
      const kind = classifySmtpError(err);
      if (kind === 'fatal') {
        // Authentication or TLS: nothing was sent, so the claim goes back untouched.
        if (job.attempts + job.throttled > 0) failed(job, true);
        else release(job);
        const d = describeSmtpError(err);
        return stop('fatal', new FatalError(`SMTP: ${d.message}${d.code ? ` (${d.code})` : ''}. Check SMTP_URL (credentials, TLS) with mailcron doctor, then rerun: nothing sent is sent again.`, { cause: err }));
      }
      if (kind === 'permanent') {
        job.attempts++;
        return failed(job, false);
      }
      const throttle = (err as { responseCode?: unknown }).responseCode === 421 && job.throttled < MAX_THROTTLED;
      if (throttle) {
        job.throttled++;
        adaptive.throttle(epoch);
      } else job.attempts++;
      if (job.attempts < policy.maxAttempts && !stopped) {
        counts.retried++;
        return scheduleRetry(job, backoffDelay(Math.max(1, job.attempts + (throttle ? 1 : 0)), policy, random));
      }
      failed(job, true);
      if (isConnectionError(err) && !stopped) {
        const d = describeSmtpError(err);
        stop('fatal', new FatalError(`SMTP server unreachable: ${d.message}${d.code ? ` (${d.code})` : ''} after ${job.attempts} attempts. Check the server and SMTP_URL, then rerun: nothing sent is sent again.`, { cause: err }));
      }
    }
  };

  const scheduleRetry = (job: Job, delay: number) => {
    const p = o.clock.sleep(delay, stopCtl.signal).then(
      () => void queue.add(() => attempt(job).finally(notify), { priority: 1 }),
      () => failed(job, true),
    );
    retrying.add(p);
    void p.finally(() => {
      retrying.delete(p);
      notify();
    });
  };

  const enqueue = async (job: Job) => {
    // Backpressure: never more than about two rounds of sends waiting in memory, or half a claim
    // chunk when that is more (about 50 ms of sending: at full speed two rounds drain faster than a
    // ledger round trip, and the queue ran dry) — retries in their backoff included, or a dead
    // server would let the feeder claim the whole audience — and no sending far ahead of the
    // ledger (sent but unrecorded is what a crash makes uncertain).
    const waiting = Math.max(2, queue.concurrency * 2, Math.floor(claims.size / 2));
    while (!stopped && queue.size + retrying.size >= waiting) await changed;
    if (recorder.backlog >= maxBacklog()) await recorder.flush().catch(() => {});
    void queue.add(() => attempt(job).finally(notify));
  };

  /** Decides claimed tasks in stream order: enqueue, record, or leave. */
  const dispatch = async (claimed: Array<{ task: DeliveryTask; claim: ClaimResult; mark?: WatermarkEntry }>) => {
    for (const { task, claim, mark } of claimed) {
      const job: Job = { task, claim, attempts: 0, throttled: 0, uncertain: claim.outcome === 'uncertain' };
      if (mark) marks.set(task.key, mark);
      if (claim.outcome === 'done' || claim.outcome === 'busy') {
        counts.alreadyDone++;
        if (mark) {
          marks.delete(task.key);
          watermark!.settle(mark, claim.outcome === 'done');
        }
        continue;
      }
      if (stopped) {
        release(job);
        continue;
      }
      if (claim.outcome === 'uncertain') {
        counts.uncertain++;
        if (o.uncertain === 'skip') {
          counts.skipped++;
          record(job, { key: task.key, kind: 'skipped', at: o.clock.now(), reason: 'uncertain', uncertain: true });
          continue;
        }
        counts.uncertainResent++;
      }
      if (task.record) {
        if (task.record.status === 'missed') counts.missed++;
        else counts.skipped++;
        record(job, { key: task.key, kind: task.record.status, at: o.clock.now(), reason: task.record.reason, ...(job.uncertain ? { uncertain: true } : {}) });
        continue;
      }
      await enqueue(job);
    }
    pushCheckpoint();
    progress();
  };

  const claimTasks = async (tasks: DeliveryTask[]) => {
    const marked = tasks.map((task) => ({ task, mark: watermark?.enter(task.position) }));
    const results = await o.ledger.claim(
      tasks.map((t) => ({
        key: t.key,
        scope: o.scope,
        userId: t.userId,
        ...(t.email !== undefined ? { email: t.email } : {}),
        ...(t.slot !== undefined ? { slot: t.slot } : {}),
        messageId: t.messageId,
        ...(t.data !== undefined ? { data: t.data } : {}),
      })),
      o.owner,
      o.clock.now(),
    );
    return marked.map((m, i) => ({ ...m, claim: results[i]! }));
  };

  async function* chunks(): AsyncGenerator<DeliveryTask[]> {
    for await (const batch of o.tasks) {
      let i = 0;
      for (const n of claims.slices(batch.length)) {
        const chunk = batch.slice(i, (i += n));
        counts.seen += chunk.length;
        yield chunk;
      }
      if (stopped) return;
    }
  }

  const source = chunks();
  let lookahead: Promise<Awaited<ReturnType<typeof claimTasks>> | undefined> | undefined;
  const pull = async () => {
    const next = await source.next();
    if (next.done) return undefined;
    return o.dryRun ? (await dryRunChunk(next.value, o, counts), []) : claimTasks(next.value);
  };
  try {
    lookahead = stopped ? undefined : pull();
    while (lookahead) {
      const claimed = await lookahead;
      lookahead = undefined;
      if (claimed === undefined) break;
      // Claim the next chunk while this one is sending, so the queue does not starve on a round trip.
      if (!stopped) lookahead = pull();
      await dispatch(claimed);
      progress();
    }
  } catch (err) {
    if (!stopped) stop('fatal', err instanceof FatalError ? err : new FatalError(`reading users or claiming deliveries failed: ${(err as Error)?.message ?? err}. Check MongoDB, then rerun.`, { cause: err }));
  }
  if (lookahead) {
    // Stopped while a chunk was being claimed: give those claims back.
    const claimed = await lookahead.catch(() => undefined);
    if (claimed) await dispatch(claimed);
  }
  await source.return(undefined).catch(() => {});

  // Drain: queued sends, retries waiting for their backoff, and the sends those retries enqueue.
  while (queue.size > 0 || queue.pending > 0 || retrying.size > 0) {
    await queue.onIdle();
    if (retrying.size > 0) await Promise.allSettled([...retrying]);
  }
  await recorder.close().catch(() => {});
  await checkpointing;
  o.signal?.removeEventListener('abort', onSignal);
  progress();
  const result: RunResult = { counts, finalConcurrency: adaptive.current, startedAt, finishedAt: o.clock.now() };
  if (stopped) result.stopped = stopped;
  if (watermark?.value !== undefined) result.checkpoint = watermark.value;
  return result;
}
