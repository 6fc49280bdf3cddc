import { describe, expect, it } from 'vitest';
import { createClaimWindow } from '../../../../src/core/pipeline/claim-window.js';
import { manualClock } from './fakes.js';

/** A claim window of min 60 / max 240 (unless given) on a clock the test moves. */
function claimWindow(min = 60, max = 240) {
  const { clock, advance } = manualClock();
  return { w: createClaimWindow({ min, max, clock }), advance };
}

describe('createClaimWindow', () => {
  it('starts at min, grows to about 100 ms of sending at the measured rate, and stops at max', () => {
    const { w, advance } = claimWindow();
    expect(w.size).toBe(60);
    // 1,500 deliveries a second: 150 per 100 ms.
    advance(200);
    w.done(300);
    w.slices(500);
    expect(w.size).toBe(150);
    // 10,000 a second: capped.
    advance(100);
    w.done(1000);
    w.slices(500);
    expect(w.size).toBe(240);
  });

  it('stays at min under a slow relay or a rate cap', () => {
    const { w, advance } = claimWindow();
    for (let i = 0; i < 5; i++) {
      advance(1000);
      w.done(20); // 20/s
      w.slices(500);
    }
    expect(w.size).toBe(60);
  });

  it('ignores intervals too short to measure (a clock that does not move)', () => {
    const { w } = claimWindow();
    w.done(10_000);
    w.slices(500);
    expect(w.size).toBe(60);
  });

  it('cuts a batch into near-equal slices with no small remainder', () => {
    const { w, advance } = claimWindow();
    expect(w.slices(500)).toEqual([63, 63, 63, 63, 62, 62, 62, 62]);
    advance(100);
    w.done(5000);
    expect(w.slices(500)).toEqual([250, 250]);
    expect(w.slices(7)).toEqual([7]);
    expect(w.slices(0)).toEqual([]);
    expect(w.slices(500).reduce((a, b) => a + b, 0)).toBe(500);
  });

  it('a fixed size (min = max) keeps every slice near it', () => {
    const { w } = claimWindow(7, 7);
    expect(w.slices(50).every((n) => n >= 6 && n <= 8)).toBe(true);
    expect(w.slices(50).reduce((a, b) => a + b, 0)).toBe(50);
  });
});
