// A sliding-window rate limiter: at most `count` starts in any window of `perMs`. p-queue's
// intervalCap is a fixed window, which allows up to twice the rate across a window boundary.
import type { Clock } from './ports.js';

export interface RateLimit {
  count: number;
  perMs: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `--rate` values: `50/s`, `600/m`, `10000/h`. Returns an error message when malformed. */
export function parseRate(text: string): RateLimit | string {
  const m = /^\s*(\d+)\s*\/\s*([smh])\s*$/.exec(text);
  if (!m) return 'must be <n>/s, <n>/m or <n>/h, e.g. 50/s';
  const count = Number(m[1]);
  if (!Number.isSafeInteger(count) || count < 1) return 'must allow at least 1 message';
  if (count > 1_000_000) return 'must be at most 1000000 per window';
  return { count, perMs: UNITS[m[2]!]! };
}

export function formatRate(r: RateLimit): string {
  const unit = Object.entries(UNITS).find(([, ms]) => ms === r.perMs)?.[0];
  return unit ? `${r.count}/${unit}` : `${r.count}/${r.perMs}ms`;
}

export interface RateLimiter {
  /** Resolves when one more start fits in the window (and takes it); rejects when `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<void>;
}

/**
 * Keeps the start times of the last `count` acquisitions in a ring buffer; a new start waits until
 * the oldest of them leaves the window. Waiters are served in order, so none starves.
 */
export function createRateLimiter(limit: RateLimit, clock: Clock): RateLimiter {
  const ring = new Float64Array(limit.count).fill(Number.NEGATIVE_INFINITY);
  let head = 0; // index of the oldest start
  let chain: Promise<void> = Promise.resolve();
  const take = async (signal?: AbortSignal) => {
    for (;;) {
      const now = clock.now().getTime();
      const wait = ring[head]! + limit.perMs - now;
      if (wait <= 0) {
        ring[head] = now;
        head = (head + 1) % limit.count;
        return;
      }
      await clock.sleep(wait, signal);
    }
  };
  return {
    acquire(signal) {
      const next = chain.then(() => take(signal));
      // One waiter's abort must not break the chain for the others.
      chain = next.catch(() => {});
      return next;
    },
  };
}
