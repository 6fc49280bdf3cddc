import { describe, expect, it } from 'vitest';
import { createAdaptiveConcurrency } from '../../../../src/core/pipeline/adaptive-concurrency.js';
import { manualClock } from './fakes.js';

describe('adaptive concurrency', () => {
  it('halves on a 421 once per epoch, not once per reply', () => {
    const { clock } = manualClock();
    const applied: number[] = [];
    const a = createAdaptiveConcurrency({ max: 16, clock, apply: (n) => applied.push(n) });
    const epoch = a.epoch;
    a.throttle(epoch);
    a.throttle(epoch); // another send started under the old limit
    expect(a.current).toBe(8);
    a.throttle(a.epoch); // a send started under the new limit: still too many
    expect(a.current).toBe(4);
    expect(applied).toEqual([8, 4]);
  });

  it('never goes below 1', () => {
    const { clock } = manualClock();
    const a = createAdaptiveConcurrency({ max: 3, clock, apply: () => {} });
    for (let i = 0; i < 5; i++) a.throttle(a.epoch);
    expect(a.current).toBe(1);
  });

  it('steps back up one at a time after a quiet period, up to the maximum', () => {
    const { clock, advance } = manualClock();
    const a = createAdaptiveConcurrency({ max: 4, clock, apply: () => {}, quietMs: 10_000, stepMs: 2_000 });
    a.throttle(a.epoch);
    expect(a.current).toBe(2);
    advance(5_000);
    a.success();
    expect(a.current).toBe(2);
    advance(5_000);
    a.success();
    expect(a.current).toBe(3);
    a.success();
    expect(a.current).toBe(3);
    advance(2_000);
    a.success();
    advance(2_000);
    a.success();
    expect(a.current).toBe(4);
  });
});
