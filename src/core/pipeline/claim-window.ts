// How many deliveries to claim per ledger round trip. Claims run one chunk ahead of the sends, and
// a hard crash leaves what was claimed and not yet recorded "uncertain", so the chunk is sized in
// time: about `aheadMs` of sending at the recent rate, between `min` and `max`. A slow relay or a
// rate cap keeps it at `min` (a crash exposes little); a fast relay gets fewer, larger round
// trips, so the queue does not wait on the ledger (on FerretDB, each insert command is its own
// SQLite transaction: 60-key chunks left a 20,000-user broadcast about 8% slower than 250-key ones).
import type { Clock } from '../ports.js';

export interface ClaimWindowOptions {
  /** Smallest chunk, and the first one (the rate is not known yet). */
  min: number;
  /** Largest chunk. */
  max: number;
  /** Sending time one chunk should cover. Default 100 ms. */
  aheadMs?: number;
  clock: Clock;
}

export interface ClaimWindow {
  /** The chunk size to claim next. */
  readonly size: number;
  /** Deliveries that left the pipeline (sent, failed, skipped) since the last call. */
  done(n: number): void;
  /** Sizes of the slices to cut `length` tasks into: near `size` each, with no small remainder. */
  slices(length: number): number[];
}

export function createClaimWindow(o: ClaimWindowOptions): ClaimWindow {
  const min = Math.max(1, Math.floor(o.min));
  const max = Math.max(min, Math.floor(o.max));
  const aheadMs = o.aheadMs ?? 100;
  let size = min;
  let rate: number | undefined; // deliveries per ms, smoothed
  let since = o.clock.now().getTime();
  let count = 0;

  const update = () => {
    const now = o.clock.now().getTime();
    const elapsed = now - since;
    // Too short an interval says little about the rate (and a fake clock may not move at all).
    if (elapsed < 20) return;
    const current = count / elapsed;
    rate = rate === undefined ? current : (rate + current) / 2;
    since = now;
    count = 0;
    size = Math.min(max, Math.max(min, Math.round(rate * aheadMs)));
  };

  return {
    get size() {
      return size;
    },
    done(n) {
      count += n;
    },
    slices(length) {
      update();
      const parts = Math.max(1, Math.round(length / size));
      const out: number[] = [];
      for (let left = length, p = parts; p > 0; p--) {
        const n = Math.ceil(left / p);
        out.push(n);
        left -= n;
      }
      return out.filter((n) => n > 0);
    },
  };
}
