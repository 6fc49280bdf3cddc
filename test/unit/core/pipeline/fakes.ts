// In-memory fakes for pipeline tests: a scriptable mailer, task builders and clocks.
import { systemClock } from '../../../../src/core/clock.js';
import type { Clock, Mailer, OutgoingMessage, SendReceipt } from '../../../../src/core/ports.js';
import type { DeliveryTask } from '../../../../src/core/pipeline/types.js';

export type Reply = 'ok' | { responseCode?: number; code?: string; message?: string } | (() => Promise<'ok'>);

export interface FakeMailer extends Mailer {
  sent: OutgoingMessage[];
  attempts: Map<string, number>;
  inFlight: number;
  peak: number;
}

/** `script(to, attemptNo, inFlight)` decides each attempt's reply. */
export function fakeMailer(script: (to: string, attempt: number, inFlight: number) => Reply = () => 'ok', delayMs = 0): FakeMailer {
  const m: FakeMailer = {
    sent: [],
    attempts: new Map(),
    inFlight: 0,
    peak: 0,
    async send(message: OutgoingMessage): Promise<SendReceipt> {
      const n = (m.attempts.get(message.to) ?? 0) + 1;
      m.attempts.set(message.to, n);
      m.inFlight++;
      m.peak = Math.max(m.peak, m.inFlight);
      try {
        const reply = script(message.to, n, m.inFlight);
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        if (typeof reply === 'function') await reply();
        else if (reply !== 'ok') {
          throw Object.assign(new Error(reply.message ?? `${reply.responseCode ?? reply.code} failure`), reply);
        }
        m.sent.push(message);
        return { messageId: message.messageId, response: '250 ok' };
      } finally {
        m.inFlight--;
      }
    },
    async close() {},
  };
  return m;
}

export function task(i: number, extra: Partial<DeliveryTask> = {}): DeliveryTask {
  const to = `u${i}@example.test`;
  return {
    key: `k:${i}`,
    userId: i,
    email: to,
    position: i,
    messageId: `<m${i}@example.test>`,
    render: () => ({ ok: true, message: { from: 'a@example.test', to, subject: `hi ${i}`, text: 'x', messageId: `<m${i}@example.test>` } }),
    ...extra,
  };
}

export async function* batches(n: number, size = 100, make: (i: number) => DeliveryTask = (i) => task(i)): AsyncGenerator<DeliveryTask[]> {
  for (let i = 1; i <= n; i += size) {
    const b: DeliveryTask[] = [];
    for (let j = i; j < Math.min(n + 1, i + size); j++) b.push(make(j));
    yield b;
  }
}

export const clock = systemClock;

/** A clock that stands still until the test moves it. */
export function manualClock() {
  let t = 0;
  const clock: Clock = { now: () => new Date(t), sleep: async () => {} };
  return { clock, advance: (ms: number) => (t += ms) };
}
export const fastRetry = { baseMs: 1, maxMs: 4 };
