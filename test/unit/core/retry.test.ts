import { describe, expect, it } from 'vitest';
import { backoffDelay, mayRetry, retryPolicy } from '../../../src/core/retry.js';

describe('retry policy', () => {
  const p = retryPolicy();
  it('defaults to 5 attempts, 500 ms base, 30 s cap', () => {
    expect(p).toEqual({ maxAttempts: 5, baseMs: 500, maxMs: 30_000 });
    expect(retryPolicy({ maxAttempts: 2, baseMs: undefined })).toEqual({ maxAttempts: 2, baseMs: 500, maxMs: 30_000 });
  });
  it('draws full jitter under an exponential ceiling', () => {
    expect(backoffDelay(1, p, () => 0.999999)).toBe(499);
    expect(backoffDelay(3, p, () => 0.999999)).toBe(1999);
    expect(backoffDelay(3, p, () => 0)).toBe(0);
    expect(backoffDelay(20, p, () => 0.5)).toBe(15_000);
  });
  it('bounds the attempts', () => {
    expect(mayRetry(4, p)).toBe(true);
    expect(mayRetry(5, p)).toBe(false);
  });
});
