// Buffers delivery outcomes and writes them in bulk: at least every `flushMs`, whenever
// `maxBatch` are waiting, and on close. Writes are serial, so outcomes reach the ledger in order,
// and `onDurable` tells the pipeline which outcomes are safely stored (for the low watermark).
import { sleep } from '../clock.js';
import type { Clock } from '../ports.js';
import type { DeliveryOutcome, Ledger } from './ledger.js';

export interface RecorderOptions {
  ledger: Ledger;
  owner: string;
  clock: Clock;
  /** Default 250 ms. */
  flushMs?: number;
  /** Outcomes per bulk write; a full buffer flushes at once. Default 500. */
  maxBatch?: number;
  /** Write attempts before giving up (backoff 200 ms doubling). Default 5. */
  maxAttempts?: number;
  /** Called after each successful write with the outcomes it stored. */
  onDurable?: (outcomes: DeliveryOutcome[]) => void;
  /** Called once when a write failed for good; later flushes reject with the same error. */
  onFailure?: (err: unknown) => void;
}

export interface Recorder {
  add(outcome: DeliveryOutcome): void;
  /** Outcomes added and not yet written. */
  readonly backlog: number;
  /** Resolves when everything added so far is written. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is left. */
  close(): Promise<void>;
}

export function createRecorder(o: RecorderOptions): Recorder {
  const flushMs = o.flushMs ?? 250;
  const maxBatch = o.maxBatch ?? 500;
  const maxAttempts = o.maxAttempts ?? 5;
  const buffer: DeliveryOutcome[] = [];
  let writing: Promise<void> = Promise.resolve();
  let failure: unknown;
  let closed = false;
  const stopTimer = new AbortController();

  const write = async (batch: DeliveryOutcome[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await o.ledger.record(batch, o.owner);
        return;
      } catch (err) {
        if (attempt >= maxAttempts) throw err;
        // Real timers on purpose: a fake clock must not stall the ledger's own retries.
        await sleep(200 * 2 ** (attempt - 1));
      }
    }
  };

  // A flush chained behind the current write and not started yet: later calls join it, since it
  // takes the buffer as it is when it starts.
  let queued: Promise<void> | undefined;
  const flush = (): Promise<void> => {
    if (queued) return queued;
    queued = writing = writing.then(async () => {
      queued = undefined;
      if (failure) throw failure;
      // What is buffered now, not what arrives while it is written: looping until the buffer is
      // empty turned one flush into a stream of tiny writes (dozens per second at full speed),
      // each its own transaction on the server. Later outcomes wait for the next trigger.
      let left = buffer.length;
      while (left > 0) {
        const batch = buffer.splice(0, Math.min(maxBatch, left));
        left -= batch.length;
        try {
          await write(batch);
        } catch (err) {
          failure = err;
          o.onFailure?.(err);
          throw err;
        }
        o.onDurable?.(batch);
      }
    });
    return writing;
  };

  void (async () => {
    while (!closed) {
      try {
        await o.clock.sleep(flushMs, stopTimer.signal);
      } catch {
        return;
      }
      if (buffer.length > 0 && !failure) await flush().catch(() => {});
    }
  })();

  return {
    add(outcome) {
      buffer.push(outcome);
      if (buffer.length >= maxBatch && !failure) void flush().catch(() => {});
    },
    get backlog() {
      return buffer.length;
    },
    flush,
    async close() {
      closed = true;
      stopTimer.abort();
      await flush();
    },
  };
}
