import { describe, expect, it } from 'vitest';
import { AbortedError, FatalError } from '../../../../src/core/errors.js';
import { createMemoryLedger } from '../../../../src/core/ledger/memory-ledger.js';
import { runDeliveries } from '../../../../src/core/pipeline/run-deliveries.js';
import type { RunDeliveriesOptions } from '../../../../src/core/pipeline/types.js';
import { batches, clock, fakeMailer, fastRetry, task } from './fakes.js';

function opts(over: Partial<RunDeliveriesOptions> & Pick<RunDeliveriesOptions, 'tasks' | 'ledger' | 'mailer'>): RunDeliveriesOptions {
  return { clock, owner: 'run-1', scope: 'test', retry: fastRetry, flushMs: 5, ...over };
}

describe('runDeliveries', () => {
  it('sends every task once, records it sent, and moves the watermark to the last position', async () => {
    const ledger = createMemoryLedger();
    const mailer = fakeMailer();
    const checkpoints: unknown[] = [];
    const r = await runDeliveries(opts({ tasks: batches(500, 70), ledger, mailer, onCheckpoint: (p) => void checkpoints.push(p) }));
    expect(r.stopped).toBeUndefined();
    expect(r.counts).toMatchObject({ sent: 500, failed: 0, seen: 500, alreadyDone: 0 });
    expect(new Set(mailer.sent.map((m) => m.to)).size).toBe(500);
    expect([...ledger.records.values()].every((d) => d.status === 'sent' && d.attempts === 1 && d.scope === 'test')).toBe(true);
    expect(r.checkpoint).toBe(500);
    // Checkpoints only ever move forward.
    expect(checkpoints.every((c, i) => i === 0 || (c as number) > (checkpoints[i - 1] as number))).toBe(true);
    expect(mailer.peak).toBeLessThanOrEqual(15);
  });

  it('claims in chunks sized to the send rate and keeps what is claimed but not sent bounded', async () => {
    const watch = (concurrency: number, delayMs: number) => {
      const ledger = createMemoryLedger();
      const mailer = fakeMailer(() => 'ok', delayMs);
      const chunks: number[] = [];
      let claimed = 0;
      let ahead = 0; // claimed, not yet started
      const claim = ledger.claim.bind(ledger);
      ledger.claim = (items, owner, now) => {
        chunks.push(items.length);
        claimed += items.length;
        ahead = Math.max(ahead, claimed - mailer.sent.length - mailer.inFlight);
        return claim(items, owner, now);
      };
      return { ledger, mailer, chunks, concurrency, peak: () => ahead };
    };
    // A fast relay: chunks grow from 63 toward 250; at most two chunks and the queue are ahead.
    const fast = watch(15, 1);
    const r1 = await runDeliveries(opts({ tasks: batches(3000, 500), ledger: fast.ledger, mailer: fast.mailer, concurrency: 15 }));
    expect(r1.counts.sent).toBe(3000);
    expect(fast.chunks[0]).toBeLessThanOrEqual(63);
    expect(Math.max(...fast.chunks)).toBeGreaterThan(63); // grew (to 250 at ~13 sends/ms; less on a loaded machine)
    expect(Math.max(...fast.chunks)).toBeLessThanOrEqual(250);
    expect(fast.peak()).toBeLessThanOrEqual(2 * 250 + 125);
    // A slow one (about 100 sends a second): chunks stay at the minimum, max(50, 4 × concurrency).
    const slow = watch(2, 20);
    const r2 = await runDeliveries(opts({ tasks: batches(200, 100), ledger: slow.ledger, mailer: slow.mailer, concurrency: 2 }));
    expect(r2.counts.sent).toBe(200);
    expect(Math.max(...slow.chunks)).toBeLessThanOrEqual(50);
    expect(slow.peak()).toBeLessThanOrEqual(2 * 50 + 25);
  });

  it('on a rerun skips what is done and retries transient failures', async () => {
    const ledger = createMemoryLedger();
    const first = fakeMailer((to) => (to === 'u3@example.test' ? { responseCode: 451 } : to === 'u4@example.test' ? { responseCode: 550 } : 'ok'));
    const r1 = await runDeliveries(opts({ tasks: batches(10), ledger, mailer: first }));
    expect(r1.counts).toMatchObject({ sent: 8, failed: 2, retryable: 1 });
    expect(first.attempts.get('u3@example.test')).toBe(5);
    expect(first.attempts.get('u4@example.test')).toBe(1);
    expect(ledger.records.get('k:3')).toMatchObject({ status: 'failed', transient: true, attempts: 5 });
    expect(ledger.records.get('k:4')).toMatchObject({ status: 'failed', transient: false, lastError: { responseCode: 550 } });

    const second = fakeMailer();
    const r2 = await runDeliveries(opts({ tasks: batches(10), ledger, mailer: second, owner: 'run-2' }));
    expect(r2.counts).toMatchObject({ sent: 1, alreadyDone: 9, failed: 0 });
    expect(second.sent.map((m) => m.to)).toEqual(['u3@example.test']);
    expect(ledger.records.get('k:3')).toMatchObject({ status: 'sent', attempts: 6 });
  });

  it('resends deliveries a crashed run left claimed, or records them skipped with uncertain: skip', async () => {
    for (const mode of ['resend', 'skip'] as const) {
      const ledger = createMemoryLedger();
      await ledger.claim([1, 2].map((i) => ({ key: `k:${i}`, scope: 'test', userId: i })), 'crashed-run', new Date());
      const mailer = fakeMailer();
      const r = await runDeliveries(opts({ tasks: batches(5), ledger, mailer, uncertain: mode }));
      expect(r.counts.uncertain).toBe(2);
      if (mode === 'resend') {
        expect(r.counts).toMatchObject({ sent: 5, uncertainResent: 2 });
        expect(ledger.records.get('k:1')).toMatchObject({ status: 'sent', uncertain: true });
      } else {
        expect(r.counts).toMatchObject({ sent: 3, skipped: 2, uncertainResent: 0 });
        expect(ledger.records.get('k:2')).toMatchObject({ status: 'skipped', reason: 'uncertain', uncertain: true });
        expect(mailer.sent.map((m) => m.to)).not.toContain('u1@example.test');
      }
    }
  });

  it('records render failures and record-only tasks without sending', async () => {
    const ledger = createMemoryLedger();
    const mailer = fakeMailer();
    const make = (i: number) =>
      i === 2 ? task(i, { render: () => ({ ok: false, reason: 'invalid email' }) }) : i === 3 ? task(i, { record: { status: 'missed', reason: 'too late' } }) : task(i);
    const r = await runDeliveries(opts({ tasks: batches(4, 4, make), ledger, mailer }));
    expect(r.counts).toMatchObject({ sent: 2, skipped: 1, missed: 1 });
    expect(ledger.records.get('k:2')).toMatchObject({ status: 'skipped', reason: 'invalid email' });
    expect(ledger.records.get('k:3')).toMatchObject({ status: 'missed', reason: 'too late' });
    expect(mailer.sent).toHaveLength(2);
  });

  it('stops on a fatal error, drains, and gives back claims it never started', async () => {
    const ledger = createMemoryLedger();
    const mailer = fakeMailer((to) => (to === 'u40@example.test' ? { code: 'EAUTH', responseCode: 535, message: 'auth failed' } : 'ok'), 1);
    const r = await runDeliveries(opts({ tasks: batches(1000), ledger, mailer, concurrency: 4 }));
    expect(r.stopped?.reason).toBe('fatal');
    expect(r.stopped?.error).toBeInstanceOf(FatalError);
    const recs = [...ledger.records.values()];
    // Everything left in the ledger is a recorded outcome; nothing is left claimed to look uncertain.
    expect(recs.filter((d) => d.status === 'claimed')).toHaveLength(0);
    expect(recs.filter((d) => d.status === 'sent')).toHaveLength(mailer.sent.length);
    expect(ledger.records.has('k:40')).toBe(false);
    expect(mailer.sent.length).toBeLessThan(1000);
  });

  it('aborts with AbortedError at --max-errors', async () => {
    const ledger = createMemoryLedger();
    const mailer = fakeMailer(() => ({ responseCode: 550, message: '550 no such user' }));
    const r = await runDeliveries(opts({ tasks: batches(300), ledger, mailer, maxErrors: 10, concurrency: 2 }));
    expect(r.stopped?.reason).toBe('max-errors');
    expect(r.stopped?.error).toBeInstanceOf(AbortedError);
    expect(r.counts.failed).toBeGreaterThanOrEqual(10);
    expect(r.counts.failed).toBeLessThan(300);
  });

  it('stops on the signal after in-flight sends and leaves nothing claimed', async () => {
    const ledger = createMemoryLedger();
    const ctl = new AbortController();
    const mailer = fakeMailer((to) => {
      if (to === 'u100@example.test') ctl.abort();
      return 'ok';
    }, 1);
    const r = await runDeliveries(opts({ tasks: batches(2000), ledger, mailer, signal: ctl.signal }));
    expect(r.stopped?.reason).toBe('signal');
    const recs = [...ledger.records.values()];
    expect(recs.filter((d) => d.status === 'claimed')).toHaveLength(0);
    expect(recs.filter((d) => d.status === 'sent').length).toBe(mailer.sent.length);
    expect(mailer.sent.length).toBeLessThan(2000);
    // A rerun completes the rest without sending anyone twice.
    const again = fakeMailer();
    const r2 = await runDeliveries(opts({ tasks: batches(2000), ledger, mailer: again, owner: 'run-2' }));
    expect(r2.counts.sent + mailer.sent.length).toBe(2000);
    expect(new Set([...mailer.sent, ...again.sent].map((m) => m.to)).size).toBe(2000);
  });

  it('lowers the concurrency on 421 and still delivers everything', async () => {
    const ledger = createMemoryLedger();
    const mailer = fakeMailer((_to, _n, inFlight) => (inFlight > 4 ? { responseCode: 421, message: '421 too many connections' } : 'ok'), 2);
    const r = await runDeliveries(opts({ tasks: batches(300), ledger, mailer, concurrency: 15 }));
    expect(r.stopped).toBeUndefined();
    expect(r.counts.sent).toBe(300);
    expect(r.finalConcurrency).toBeLessThan(15);
    expect(new Set(mailer.sent.map((m) => m.to)).size).toBe(300);
  });

  it('treats a delivery that cannot connect after every attempt as an unreachable server (fatal)', async () => {
    const ledger = createMemoryLedger();
    const mailer = fakeMailer(() => ({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }));
    const r = await runDeliveries(opts({ tasks: batches(200), ledger, mailer, concurrency: 3 }));
    expect(r.stopped?.reason).toBe('fatal');
    expect(r.stopped?.error?.message).toMatch(/unreachable/);
    const recs = [...ledger.records.values()];
    expect(recs.filter((d) => d.status === 'claimed')).toHaveLength(0);
    expect(recs.every((d) => d.status === 'failed' && d.transient)).toBe(true);
  });

  it('writes nothing and sends nothing in a dry run, but counts', async () => {
    const ledger = createMemoryLedger();
    await ledger.claim([{ key: 'k:1', scope: 'test', userId: 1 }], 'old', new Date());
    await ledger.record([{ key: 'k:1', kind: 'sent', at: new Date(), attempts: 1, messageId: 'x' }], 'old');
    const mailer = fakeMailer();
    const r = await runDeliveries(opts({ tasks: batches(10), ledger, mailer, dryRun: true }));
    expect(r.counts).toMatchObject({ sent: 9, alreadyDone: 1 });
    expect(mailer.sent).toHaveLength(0);
    expect(ledger.records.size).toBe(1);
  });

  it('never moves the checkpoint past a task whose outcome is not recorded', async () => {
    const ledger = createMemoryLedger();
    let release!: () => void;
    const gate = new Promise<'ok'>((r) => (release = () => r('ok')));
    const mailer = fakeMailer((to) => (to === 'u7@example.test' ? () => gate : 'ok'));
    const checkpoints: number[] = [];
    const run = runDeliveries(
      opts({
        tasks: batches(100, 10),
        ledger,
        mailer,
        concurrency: 4,
        onCheckpoint: (p) => {
          checkpoints.push(p as number);
          if (checkpoints.length === 1) setTimeout(release, 50);
        },
      }),
    );
    const r = await run;
    expect(r.counts.sent).toBe(100);
    const beforeRelease = checkpoints.filter((c) => c < 7);
    expect(beforeRelease.length).toBeGreaterThan(0);
    // Until user 7 was recorded, no checkpoint reached 7 or beyond.
    const first7 = checkpoints.findIndex((c) => c >= 7);
    expect(checkpoints.slice(0, first7).every((c) => c < 7)).toBe(true);
    expect(ledger.records.get('k:7')?.status).toBe('sent');
    expect(r.checkpoint).toBe(100);
  });

  it('holds the checkpoint at a transient failure so a rerun streams from before it', async () => {
    const ledger = createMemoryLedger();
    const mailer = fakeMailer((to) => (to === 'u20@example.test' ? { responseCode: 451 } : 'ok'));
    const r = await runDeliveries(opts({ tasks: batches(100), ledger, mailer, onCheckpoint: () => {} }));
    expect(r.counts).toMatchObject({ sent: 99, retryable: 1 });
    expect(r.checkpoint).toBe(19);
  });
});
