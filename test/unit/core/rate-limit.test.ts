import { describe, expect, it } from 'vitest';
import { createRateLimiter, formatRate, parseRate } from '../../../src/core/rate-limit.js';
import type { Clock } from '../../../src/core/ports.js';

/** A clock whose sleep advances virtual time at once. */
function virtualClock() {
  let t = 0;
  const clock: Clock = {
    now: () => new Date(t),
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      t += ms;
    },
  };
  return { clock, now: () => t };
}

describe('parseRate', () => {
  it('reads n/s, n/m, n/h', () => {
    expect(parseRate('50/s')).toEqual({ count: 50, perMs: 1000 });
    expect(parseRate(' 600 / m ')).toEqual({ count: 600, perMs: 60_000 });
    expect(parseRate('10000/h')).toEqual({ count: 10_000, perMs: 3_600_000 });
    expect(formatRate({ count: 600, perMs: 60_000 })).toBe('600/m');
  });
  it('explains what is wrong', () => {
    expect(parseRate('fast')).toMatch(/<n>\/s/);
    expect(parseRate('0/s')).toMatch(/at least 1/);
    expect(parseRate('5/d')).toMatch(/<n>\/s/);
  });
});

describe('sliding-window limiter', () => {
  it('never lets more than count starts into any window', async () => {
    const { clock, now } = virtualClock();
    const limiter = createRateLimiter({ count: 5, perMs: 1000 }, clock);
    const starts: number[] = [];
    for (let i = 0; i < 23; i++) {
      await limiter.acquire();
      starts.push(now());
    }
    for (let i = 5; i < starts.length; i++) expect(starts[i]! - starts[i - 5]!).toBeGreaterThanOrEqual(1000);
    // A fixed window would allow 10 starts within 1 ms across a boundary; the sliding one does not.
    expect(starts.filter((s) => s < 1000)).toHaveLength(5);
    expect(starts[22]).toBe(4000);
  });

  it('serves concurrent waiters in order and rejects an aborted one without blocking the rest', async () => {
    const { clock } = virtualClock();
    const limiter = createRateLimiter({ count: 1, perMs: 100 }, clock);
    const ctl = new AbortController();
    ctl.abort(new Error('stop'));
    const order: string[] = [];
    await Promise.allSettled([
      limiter.acquire().then(() => order.push('a')),
      limiter.acquire(ctl.signal).then(() => order.push('b'), () => order.push('b-aborted')),
      limiter.acquire().then(() => order.push('c')),
    ]);
    expect(order).toEqual(['a', 'b-aborted', 'c']);
  });
});
