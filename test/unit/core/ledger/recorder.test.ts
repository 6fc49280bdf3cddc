import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome, Ledger } from '../../../../src/core/ledger/ledger.js';
import { createRecorder } from '../../../../src/core/ledger/recorder.js';
import { clock } from '../pipeline/fakes.js';

/** A ledger whose writes wait until the test lets them go. */
function gatedLedger() {
  const writes: number[] = [];
  const gates: Array<() => void> = [];
  const ledger = {
    record: (batch: DeliveryOutcome[]) =>
      new Promise<void>((resolve) => {
        writes.push(batch.length);
        gates.push(resolve);
      }),
  } as unknown as Ledger;
  const release = async () => {
    while (gates.length === 0) await new Promise((r) => setTimeout(r, 1));
    gates.shift()!();
    await new Promise((r) => setTimeout(r, 1));
  };
  /** Waits until `n` writes have started. */
  const started = async (n: number) => {
    while (writes.length < n) await new Promise((r) => setTimeout(r, 1));
  };
  return { ledger, writes, release, started };
}

const outcome = (n: number): DeliveryOutcome => ({ key: `k${n}`, kind: 'sent', at: new Date(0) }) as DeliveryOutcome;

describe('createRecorder', () => {
  it('writes what was buffered when a flush started; outcomes added during the write wait for the next one', async () => {
    const { ledger, writes, release, started } = gatedLedger();
    const durable: number[] = [];
    const r = createRecorder({ ledger, owner: 'o', clock, flushMs: 60_000, onDurable: (b) => durable.push(b.length) });
    for (let i = 0; i < 3; i++) r.add(outcome(i));
    const first = r.flush();
    await started(1);
    for (let i = 3; i < 8; i++) r.add(outcome(i));
    await release();
    await first;
    expect(writes).toEqual([3]);
    expect(r.backlog).toBe(5);
    const second = r.flush();
    await release();
    await second;
    expect(writes).toEqual([3, 5]);
    expect(durable).toEqual([3, 5]);
    await r.close();
  });

  it('joins flushes asked for while one waits behind a write into a single write', async () => {
    const { ledger, writes, release, started } = gatedLedger();
    const r = createRecorder({ ledger, owner: 'o', clock, flushMs: 60_000 });
    r.add(outcome(0));
    const a = r.flush(); // writing 1
    await started(1);
    r.add(outcome(1));
    const b = r.flush(); // queued behind it
    r.add(outcome(2));
    const c = r.flush(); // joins b: same promise
    expect(c).toBe(b);
    await release();
    await release();
    await Promise.all([a, b, c]);
    expect(writes).toEqual([1, 2]);
    await r.close();
  });

  it('flushes by itself once maxBatch outcomes wait, in slices of maxBatch', async () => {
    const { ledger, writes, release } = gatedLedger();
    const r = createRecorder({ ledger, owner: 'o', clock, flushMs: 60_000, maxBatch: 4 });
    for (let i = 0; i < 4; i++) r.add(outcome(i));
    await release();
    expect(writes).toEqual([4]);
    for (let i = 4; i < 7; i++) r.add(outcome(i));
    const closing = r.close();
    await release();
    await closing;
    expect(writes).toEqual([4, 3]);
  });

  it('rejects every later flush with the error of a write that failed for good', async () => {
    const boom = new Error('ledger down');
    const failures: unknown[] = [];
    const ledger = { record: async () => Promise.reject(boom) } as unknown as Ledger;
    const r = createRecorder({ ledger, owner: 'o', clock, flushMs: 60_000, maxAttempts: 1, onFailure: (e) => failures.push(e) });
    r.add(outcome(0));
    await expect(r.flush()).rejects.toBe(boom);
    r.add(outcome(1));
    await expect(r.flush()).rejects.toBe(boom);
    expect(failures).toEqual([boom]);
    await expect(r.close()).rejects.toBe(boom);
  });
});
