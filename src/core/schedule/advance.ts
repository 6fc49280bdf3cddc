// Moves `mailcron.nextAt` on only after the ledger holds every outcome of the user's slots. The
// ledger given to the pipeline is wrapped: claims and recorded outcomes tell which keys are
// settled. A crash between the ledger write and this update only means the user is read again
// next run, where the ledger answers "done" for each slot: never a second send.
import type { ClaimRequest, DeliveryOutcome, Ledger } from '../ledger/ledger.js';
import type { Clock } from '../ports.js';
import type { ScheduleStore, StateUpdate } from './types.js';

interface Pending {
  remaining: number;
  /** A slot left failed-but-retryable: nextAt goes back to the earliest one, so the next run retries it. */
  transient: Date[];
  unresolved: boolean;
  update: StateUpdate;
  slots: Map<string, Date | undefined>;
}

export interface Advancer {
  /** Wraps the run's ledger so that settled keys are noticed. */
  ledger: Ledger;
  /** Applies `update` once every key has an outcome (immediately when `keys` is empty). */
  track(keys: { key: string; slot?: Date }[], update: StateUpdate): Promise<void>;
  /** Writes whatever is buffered; resolves when written. */
  flush(): Promise<void>;
  /** Users whose state was written (still matching what the run read). */
  applied(): number;
}

export interface AdvancerOptions {
  store: ScheduleStore;
  inner: Ledger;
  clock: Clock;
  /** Writes nothing (dry run). */
  dryRun?: boolean;
  /** Buffered updates written together. Default 200. */
  batchSize?: number;
  /** Longest time an update waits in the buffer while the run goes on. Default 1000 ms. */
  maxDelayMs?: number;
}

export function createAdvancer(o: AdvancerOptions): Advancer {
  const batchSize = o.batchSize ?? 200;
  const maxDelayMs = o.maxDelayMs ?? 1000;
  const byKey = new Map<string, Pending>();
  let buffer: StateUpdate[] = [];
  let lastFlush = o.clock.now().getTime();
  let writing: Promise<void> = Promise.resolve();
  let applied = 0;
  let failure: unknown;

  const flush = (): Promise<void> => {
    const batch = buffer;
    buffer = [];
    if (batch.length > 0 && !o.dryRun) {
      writing = writing.then(async () => {
        try {
          applied += await o.store.apply(batch);
        } catch (err) {
          failure ??= err;
        }
      });
    }
    return writing.then(() => {
      // Measured from the end of the write: while a slow write runs, updates pile up for the next.
      lastFlush = o.clock.now().getTime();
      if (failure) throw failure;
    });
  };

  // Size only: the caller flushes at the end of each batch of users, so users of one schedule
  // share one write.
  const enqueue = async (update: StateUpdate) => {
    buffer.push(update);
    if (buffer.length >= batchSize) await flush();
  };

  const settle = (key: string, how: 'final' | 'transient' | 'unresolved') => {
    const p = byKey.get(key);
    if (!p) return;
    byKey.delete(key);
    if (how === 'unresolved') p.unresolved = true;
    if (how === 'transient') {
      const slot = p.slots.get(key);
      if (slot) p.transient.push(slot);
      else p.unresolved = true;
    }
    if (--p.remaining > 0) return;
    if (p.unresolved) return;
    if (p.transient.length > 0) {
      const earliest = new Date(Math.min(...p.transient.map((d) => d.getTime())));
      const next = p.update.set.nextAt;
      if (!next || earliest.getTime() < next.getTime()) p.update.set.nextAt = earliest;
    }
    buffer.push(p.update);
  };

  const how = (o: DeliveryOutcome): 'final' | 'transient' | 'unresolved' =>
    o.kind === 'release' ? 'unresolved' : o.kind === 'failed' && o.transient ? 'transient' : 'final';

  const ledger: Ledger = {
    async claim(requests: ClaimRequest[], owner: string, now: Date) {
      const results = await o.inner.claim(requests, owner, now);
      for (const r of results) {
        if (r.outcome === 'done') settle(r.key, 'final');
        // Ours already (a user read twice in one run): the first handling advances it.
        else if (r.outcome === 'busy') settle(r.key, 'unresolved');
      }
      if (buffer.length >= batchSize) await flush();
      return results;
    },
    async record(outcomes: DeliveryOutcome[], owner: string) {
      await o.inner.record(outcomes, owner);
      for (const out of outcomes) settle(out.key, how(out));
      if (buffer.length >= batchSize || o.clock.now().getTime() - lastFlush >= maxDelayMs) await flush();
    },
    lookup: (keys) => o.inner.lookup(keys),
    summarize: (scope) => o.inner.summarize(scope),
  };

  return {
    ledger,
    async track(keys, update) {
      if (keys.length === 0) return enqueue(update);
      if (o.dryRun) return;
      const p: Pending = { remaining: keys.length, transient: [], unresolved: false, update, slots: new Map() };
      for (const k of keys) {
        p.slots.set(k.key, k.slot);
        byKey.set(k.key, p);
      }
    },
    flush,
    applied: () => applied,
  };
}
