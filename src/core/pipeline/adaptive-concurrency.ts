// Concurrency that backs off when the server says "too many connections" (421) and creeps back
// once it has been quiet, so a relay with a lower cap than --concurrency still gets everything.
import type { Clock } from '../ports.js';

export interface AdaptiveConcurrencyOptions {
  max: number;
  clock: Clock;
  /** Applies a new limit (p-queue's `concurrency` setter). */
  apply: (n: number) => void;
  /** No increase until this long after the last cut. Default 10 s. */
  quietMs?: number;
  /** At most one +1 step per this interval. Default 2 s. */
  stepMs?: number;
}

export interface AdaptiveConcurrency {
  readonly current: number;
  /** Changes at every cut; a send notes it when it starts. */
  readonly epoch: number;
  /**
   * A 421 for a send that started in `epoch`: halve (min 1) unless a cut already happened since
   * that send started — 421s from sends started under the old limit say nothing about the new one.
   */
  throttle(epoch: number): void;
  /** A successful send: step back up after a quiet period. */
  success(): void;
}

export function createAdaptiveConcurrency(o: AdaptiveConcurrencyOptions): AdaptiveConcurrency {
  const quietMs = o.quietMs ?? 10_000;
  const stepMs = o.stepMs ?? 2_000;
  let current = o.max;
  let epoch = 0;
  let lastCut = Number.NEGATIVE_INFINITY;
  let lastStep = Number.NEGATIVE_INFINITY;
  return {
    get current() {
      return current;
    },
    get epoch() {
      return epoch;
    },
    throttle(sendEpoch) {
      if (sendEpoch !== epoch) return;
      epoch++;
      lastCut = o.clock.now().getTime();
      const next = Math.max(1, Math.floor(current / 2));
      if (next !== current) {
        current = next;
        o.apply(current);
      }
    },
    success() {
      if (current >= o.max) return;
      const now = o.clock.now().getTime();
      if (now - lastCut < quietMs || now - lastStep < stepMs) return;
      lastStep = now;
      current++;
      o.apply(current);
    },
  };
}
