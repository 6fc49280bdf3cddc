import { describe, expect, it } from 'vitest';
import { Watermark } from '../../../../src/core/pipeline/watermark.js';

describe('Watermark', () => {
  it('advances only over a contiguous prefix of final outcomes, whatever order they settle in', () => {
    const w = new Watermark();
    const e = [1, 2, 3, 4, 5].map((p) => w.enter(p));
    w.settle(e[2]!, true);
    w.settle(e[4]!, true);
    expect(w.value).toBeUndefined();
    w.settle(e[0]!, true);
    expect(w.value).toBe(1);
    w.settle(e[1]!, true);
    expect(w.value).toBe(3);
    w.settle(e[3]!, true);
    expect(w.value).toBe(5);
    expect(w.tracked).toBe(0);
  });

  it('stops for good at a non-final outcome and stops tracking', () => {
    const w = new Watermark();
    const e = [1, 2, 3].map((p) => w.enter(p));
    w.settle(e[0]!, true);
    w.settle(e[1]!, false);
    w.settle(e[2]!, true);
    expect(w.value).toBe(1);
    expect(w.isFrozen).toBe(true);
    w.settle(w.enter(4), true);
    expect(w.value).toBe(1);
    expect(w.tracked).toBe(0);
  });

  it('reports movement once per change', () => {
    const w = new Watermark();
    const a = w.enter('a');
    expect(w.take().moved).toBe(false);
    w.settle(a, true);
    expect(w.take()).toEqual({ moved: true, value: 'a' });
    expect(w.take().moved).toBe(false);
  });

  it('keeps memory bounded while it advances', () => {
    const w = new Watermark();
    for (let i = 0; i < 10_000; i++) w.settle(w.enter(i), true);
    expect(w.value).toBe(9_999);
    expect(w.tracked).toBe(0);
  });
});
