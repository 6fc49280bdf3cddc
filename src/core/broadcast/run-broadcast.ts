// `mailcron broadcast`: one message to every user of an audience, resumable. Identity and lease
// from the broadcast store, users streamed after the low watermark, deliveries through the
// shared pipeline, and the checkpoint written as the watermark moves.
import { AbortedError, LockHeldError, UsageError } from '../errors.js';
import { broadcastDeliveryKey, broadcastScope } from '../ledger/keys.js';
import type { Ledger } from '../ledger/ledger.js';
import { makeMessageId, validateEmail, type CompiledMessage } from '../message/index.js';
import { runDeliveries, zeroCounts } from '../pipeline/run-deliveries.js';
import type { DeliveryTask, DeliveryTuning, PipelineCounts, StopReason } from '../pipeline/types.js';
import type { Clock, Mailer, ProgressSink, UserDoc, UserSource } from '../ports.js';
import { assertSameDefinition, checkBroadcastId, deriveBroadcastId } from './identity.js';
import type { BroadcastDefinition, BroadcastStatus, BroadcastStore, Lease, RunOwner } from './store.js';

export interface BroadcastDeps {
  /** The audience, streamed by `_id`. */
  users: UserSource;
  ledger: Ledger;
  store: BroadcastStore;
  /** Opened only when something will be sent (not for dry runs). */
  openMailer: () => Promise<Mailer>;
  clock: Clock;
  owner: RunOwner;
  /** Whether a lease holder is still running: true/false when known (same host), undefined when not. */
  isHolderAlive?: (lease: Lease) => boolean | undefined;
  progress?: ProgressSink;
  /** Asked once before sending (a terminal without --yes). Resolving false cancels the run. */
  confirm?: (plan: BroadcastPlan) => Promise<boolean>;
  signal?: AbortSignal;
}

export interface BroadcastInput extends DeliveryTuning {
  message: CompiledMessage;
  /** The subject template, shown by `status`. */
  subject: string;
  /** Sender, for Message-IDs. */
  from: string;
  /** Canonical extended JSON of the audience query. */
  audience: string;
  /** `<db>.<users collection>`. */
  collection: string;
  /** `--id`; default derived from message, audience and collection. */
  id?: string;
  /** Continue an `--id` whose stored message or audience differs. */
  force?: boolean;
  /** Render the first user's message and send it only to this address; nothing recorded. */
  testTo?: string;
  /** Users per read. Default 500. */
  batchSize?: number;
  /** Lease length, renewed every third of it. Default 60 s. */
  leaseMs?: number;
  /**
   * Count the audience while sending starts. Default true. With false, a first run that nobody
   * watches skips that extra pass over the users (a whole scan where no index serves the
   * audience query) and records the users it streamed as the audience once it reaches the end.
   * A prompt, `testTo` or a resumed broadcast count anyway.
   */
  count?: boolean;
}

/** What the operator is asked to confirm. */
export interface BroadcastPlan {
  id: string;
  audience: number;
  /** The broadcast exists already: this run resumes it. */
  resuming: boolean;
  previousStatus?: BroadcastStatus;
  /** Outcomes already recorded for it. */
  done: number;
}

export interface BroadcastResult {
  id: string;
  mode: 'send' | 'dry-run' | 'test';
  status: BroadcastStatus | 'dry-run' | 'test-sent';
  /** Null when not counted (`count: false`) and the run stopped before the end of the audience. */
  audience: number | null;
  resumed: boolean;
  counts: PipelineCounts;
  stopped?: { reason: StopReason; message: string };
  /** The stopping error, for the CLI to raise after printing the summary (exit 3). */
  error?: Error;
  concurrency: number;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
  /** Messages per second over this run. */
  rate: number;
  testTo?: string;
}

function tasksFor(id: string, users: AsyncIterable<UserDoc[]>, message: CompiledMessage, from: string): AsyncIterable<DeliveryTask[]> {
  return (async function* () {
    for await (const batch of users) {
      yield batch.map((user): DeliveryTask => {
        const key = broadcastDeliveryKey(id, user._id);
        const messageId = makeMessageId(key, from);
        const email = validateEmail(user.email);
        if (!email.ok) return { key, userId: user._id, messageId, position: user._id, record: { status: 'skipped', reason: email.reason } };
        return { key, userId: user._id, email: email.address, messageId, position: user._id, render: () => message.render(user, messageId) };
      });
    }
  })();
}

async function sendTest(deps: BroadcastDeps, input: BroadcastInput, id: string, audience: number): Promise<BroadcastResult> {
  const startedAt = deps.clock.now();
  const to = validateEmail(input.testTo);
  if (!to.ok) throw new UsageError(`--test-to: ${to.reason}`);
  for await (const batch of deps.users.batches({ batchSize: Math.min(input.batchSize ?? 500, 100), ...(deps.signal ? { signal: deps.signal } : {}) })) {
    for (const user of batch) {
      const messageId = makeMessageId(`test:${id}:${startedAt.toISOString()}`, input.from);
      const r = input.message.render(user, messageId);
      if (!r.ok) continue;
      const mailer = await deps.openMailer();
      try {
        await mailer.send({ ...r.message, to: to.address });
      } finally {
        await mailer.close();
      }
      const finishedAt = deps.clock.now();
      const counts = { ...zeroCounts(), sent: 1, seen: 1 };
      return { id, mode: 'test', status: 'test-sent', audience, resumed: false, counts, concurrency: 1, startedAt, finishedAt, durationMs: finishedAt.getTime() - startedAt.getTime(), rate: 0, testTo: to.address };
    }
  }
  throw new UsageError('--test-to: no user in the audience has a message that renders (valid email); check --filter');
}

function endStatus(stopped: StopReason | undefined, counts: PipelineCounts): BroadcastStatus {
  if (stopped === 'signal') return 'interrupted';
  if (stopped) return 'aborted';
  return counts.retryable > 0 ? 'partial' : 'completed';
}

/**
 * Runs (or resumes) a broadcast. Throws UsageError for a reused `--id` with another definition
 * (unless `force`), LockHeldError when another live run holds it, AbortedError when the operator
 * declines. SMTP and ledger failures come back in `error` after the run drained and saved its
 * progress, so the CLI can print the summary first.
 */
export async function runBroadcast(deps: BroadcastDeps, input: BroadcastInput): Promise<BroadcastResult> {
  const definition: BroadcastDefinition = { messageHash: input.message.hash, subject: input.subject, audience: input.audience, collection: input.collection };
  const id = input.id !== undefined ? checkBroadcastId(input.id) : deriveBroadcastId(definition);
  const scope = broadcastScope(id);
  // Counted while the run gets going (on a server without a usable index the count is a pass over
  // the users, as long as the first batch takes): only a confirmation prompt waits for it.
  let audience: number | undefined;
  let counting: Promise<number> | undefined;
  const startCount = () => {
    counting = deps.users.count().then((n) => (audience = n));
    counting.catch(() => {}); // awaited below
    return counting;
  };
  if (input.testTo !== undefined) return sendTest(deps, input, id, await startCount());
  if (input.count !== false || deps.confirm) startCount();

  const existing = await deps.store.get(id);
  // A resume's `done` and its progress need the whole audience, which this run will not stream.
  if (existing && !counting) startCount();
  const redefine = existing ? assertSameDefinition(existing, definition, Boolean(input.force)) : false;
  const before = existing ? await deps.ledger.summarize(scope, { times: false }) : undefined;
  const done = before ? before.sent + before.failed + before.skipped + before.missed : 0;

  let takeOverFrom: string | null = null;
  const lease = existing?.lease;
  if (lease && lease.id !== deps.owner.id && !input.dryRun) {
    const expired = lease.expiresAt.getTime() <= deps.clock.now().getTime();
    if (!expired && deps.isHolderAlive?.(lease) !== false) {
      const holder = `${lease.id}${lease.host ? ` on ${lease.host}` : ''}${lease.pid ? ` (pid ${lease.pid})` : ''}`;
      throw new LockHeldError(`broadcast ${id}`, holder, lease.since, lease.expiresAt);
    }
    takeOverFrom = lease.id;
  }

  if (deps.confirm && !input.dryRun) {
    const plan: BroadcastPlan = { id, audience: await counting!, resuming: Boolean(existing), done };
    if (existing) plan.previousStatus = existing.status;
    if (!(await deps.confirm(plan))) throw new AbortedError('cancelled at the prompt; nothing was sent');
  }

  const leaseMs = input.leaseMs ?? 60_000;
  let after = redefine ? undefined : (existing?.lowWatermark ?? undefined);
  const runCtl = new AbortController();
  const onOuterAbort = () => runCtl.abort(deps.signal?.reason);
  if (deps.signal?.aborted) onOuterAbort();
  else deps.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let mailer: Mailer;
  let heartbeat: Promise<void> = Promise.resolve();
  const stopHeartbeat = new AbortController();
  let lostLease = false;
  if (input.dryRun) {
    mailer = { send: () => Promise.reject(new Error('dry run: nothing is sent')), close: async () => {} };
  } else {
    const doc = await deps.store.begin({ id, definition, owner: deps.owner, now: deps.clock.now(), leaseMs, takeOverFrom, redefine });
    if (!doc) throw new LockHeldError(`broadcast ${id}`, 'another run (it started at the same moment)', deps.clock.now(), new Date(deps.clock.now().getTime() + leaseMs));
    after = redefine ? undefined : (doc.lowWatermark ?? undefined);
    mailer = await deps.openMailer();
    heartbeat = (async () => {
      for (;;) {
        try {
          await deps.clock.sleep(leaseMs / 3, stopHeartbeat.signal);
        } catch {
          return;
        }
        const ok = await deps.store.heartbeat(id, deps.owner.id, new Date(deps.clock.now().getTime() + leaseMs)).catch(() => true);
        if (!ok) {
          lostLease = true;
          runCtl.abort(new Error('lost the broadcast lease'));
          return;
        }
      }
    })();
  }

  const totalAtStart = audience; // known here only when a prompt waited for it
  deps.progress?.start?.({ total: totalAtStart, label: id, done });
  let audienceStored = counting?.then(async (n) => {
    if (totalAtStart === undefined) deps.progress?.setTotal?.(n);
    if (!input.dryRun) await deps.store.setAudience(id, deps.owner.id, n);
  });
  audienceStored?.catch(() => {});
  let latest: unknown = after;
  let lastWrite = 0;
  try {
    const result = await runDeliveries({
      tasks: tasksFor(id, deps.users.batches({ ...(after !== undefined ? { after } : {}), batchSize: input.batchSize ?? 500, signal: runCtl.signal }), input.message, input.from),
      ledger: deps.ledger,
      mailer,
      clock: deps.clock,
      owner: deps.owner.id,
      scope,
      concurrency: input.concurrency ?? 15,
      ...(input.rate ? { rate: input.rate } : {}),
      ...(input.retry ? { retry: input.retry } : {}),
      ...(input.maxErrors !== undefined ? { maxErrors: input.maxErrors } : {}),
      uncertain: input.uncertain ?? 'resend',
      dryRun: Boolean(input.dryRun),
      signal: runCtl.signal,
      ...(deps.progress ? { progress: deps.progress } : {}),
      ...(input.dryRun
        ? {}
        : {
            onCheckpoint: async (position: unknown) => {
              latest = position;
              const now = deps.clock.now().getTime();
              if (now - lastWrite < 1000) return;
              lastWrite = now;
              await deps.store.checkpoint(id, deps.owner.id, position).catch(() => {});
            },
          }),
    });
    let stopped = result.stopped;
    // Not counted: a run that streamed the audience from its start to its end saw all of it.
    const streamed = !counting && !stopped && after === undefined ? result.counts.seen : undefined;
    if (streamed !== undefined && !input.dryRun) audienceStored = deps.store.setAudience(id, deps.owner.id, streamed);
    let error: Error | undefined = stopped?.error;
    let status = endStatus(stopped?.reason, result.counts);
    if (lostLease) {
      // Our lease went to another run (we were presumed dead): it carries on from the checkpoint.
      stopped = { reason: 'fatal' };
      error = new AbortedError(`lost the lease on broadcast ${id} to another run; that run carries on from the checkpoint`);
      status = 'aborted';
    }
    if (!input.dryRun) {
      stopHeartbeat.abort();
      await heartbeat;
      await audienceStored?.catch(() => {}); // written before finish() gives the lease up
      await deps.store.finish(id, deps.owner.id, {
        status,
        finishedAt: result.finishedAt,
        counts: result.counts,
        ...(latest !== undefined ? { lowWatermark: latest } : {}),
        ...(error ? { error: error.message } : {}),
      });
    }
    const durationMs = Math.max(1, result.finishedAt.getTime() - result.startedAt.getTime());
    const out: BroadcastResult = {
      id,
      mode: input.dryRun ? 'dry-run' : 'send',
      status: input.dryRun ? 'dry-run' : status,
      // A count that failed (the stream did not) leaves the users this run saw as the best figure.
      audience: counting ? await counting.catch(() => result.counts.seen) : (streamed ?? null),
      resumed: Boolean(existing),
      counts: result.counts,
      concurrency: result.finalConcurrency,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
      durationMs,
      rate: input.dryRun ? 0 : (result.counts.sent * 1000) / durationMs,
    };
    if (stopped) out.stopped = { reason: stopped.reason, message: error?.message ?? stopped.reason };
    if (error) out.error = error;
    return out;
  } finally {
    stopHeartbeat.abort();
    deps.signal?.removeEventListener('abort', onOuterAbort);
    deps.progress?.stop?.();
    await mailer.close().catch(() => {});
  }
}
