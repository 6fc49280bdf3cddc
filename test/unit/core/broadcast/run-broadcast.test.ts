import { describe, expect, it, vi } from 'vitest';
import { runBroadcast, type BroadcastDeps, type BroadcastInput } from '../../../../src/core/broadcast.js';
import type { BroadcastDoc, BroadcastStore } from '../../../../src/core/broadcast.js';
import { AbortedError, LockHeldError, UsageError } from '../../../../src/core/errors.js';
import { createMemoryLedger } from '../../../../src/core/ledger/memory-ledger.js';
import { compileMessage } from '../../../../src/core/message/index.js';
import type { UserDoc, UserSource } from '../../../../src/core/ports.js';
import { broadcastStatus } from '../../../../src/core/status.js';
import { clock, fakeMailer } from '../pipeline/fakes.js';

function memoryStore(): BroadcastStore & { docs: Map<string, BroadcastDoc> } {
  const docs = new Map<string, BroadcastDoc>();
  return {
    docs,
    async get(id) {
      return docs.get(id) ?? null;
    },
    async begin(b) {
      const d = docs.get(b.id);
      if (d && (d.lease ? d.lease.id !== b.takeOverFrom : b.takeOverFrom !== null)) return null;
      const lease = { ...b.owner, since: b.now, expiresAt: new Date(b.now.getTime() + b.leaseMs) };
      const next: BroadcastDoc = d
        ? { ...d, lease, status: 'running', runs: d.runs + 1, startedAt: b.now, audienceCount: b.audienceCount }
        : { _id: b.id, definition: b.definition, status: 'running', lease, lowWatermark: null, runs: 1, createdAt: b.now, startedAt: b.now, audienceCount: b.audienceCount };
      if (b.redefine) Object.assign(next, { definition: b.definition, lowWatermark: null });
      docs.set(b.id, next);
      return next;
    },
    async heartbeat(id, owner, expiresAt) {
      const d = docs.get(id);
      if (d?.lease?.id !== owner) return false;
      d.lease.expiresAt = expiresAt;
      return true;
    },
    async setAudience(id, owner, n) {
      const d = docs.get(id);
      if (d && d.lease?.id === owner) d.audienceCount = n;
    },
    async checkpoint(id, owner, lw) {
      const d = docs.get(id);
      if (d?.lease?.id === owner) d.lowWatermark = lw;
    },
    async finish(id, owner, end) {
      const d = docs.get(id);
      if (d?.lease?.id !== owner) return;
      Object.assign(d, { status: end.status, finishedAt: end.finishedAt, lease: null });
      if (end.lowWatermark !== undefined) d.lowWatermark = end.lowWatermark;
    },
    async list() {
      return [...docs.values()];
    },
  };
}

function users(list: UserDoc[]): UserSource & { afters: unknown[] } {
  const afters: unknown[] = [];
  return {
    afters,
    async count() {
      return list.length;
    },
    async *batches({ after, batchSize }) {
      afters.push(after);
      const rest = list.filter((u) => after === undefined || (u._id as number) > (after as number));
      for (let i = 0; i < rest.length; i += batchSize) yield rest.slice(i, i + batchSize);
    },
  };
}

const people: UserDoc[] = Array.from({ length: 50 }, (_, i) => ({ _id: i + 1, email: i === 9 ? 'broken' : `p${i + 1}@example.test`, name: `P${i + 1}` }));
const message = compileMessage({ subject: 'Hi {{name}}', text: 'Hello {{name}}' }, { from: 'news@example.test' });
const input: BroadcastInput = { message, subject: 'Hi {{name}}', from: 'news@example.test', audience: '{"active":true}', collection: 'app.users', batchSize: 7 };

function deps(over: Partial<BroadcastDeps> = {}) {
  const mailer = fakeMailer();
  const store = memoryStore();
  const ledger = createMemoryLedger();
  const d: BroadcastDeps = { users: users(people), ledger, store, openMailer: async () => mailer, clock, owner: { id: 'run-1', host: 'h', pid: 1 }, ...over };
  return { d, mailer, store, ledger };
}

describe('runBroadcast', () => {
  it('derives a stable id, sends, records skips, completes and checkpoints at the last user', async () => {
    const { d, mailer, store } = deps();
    const r = await runBroadcast(d, input);
    expect(r.id).toMatch(/^b-[0-9a-f]{16}$/);
    expect(r).toMatchObject({ status: 'completed', counts: { sent: 49, skipped: 1 } });
    expect(mailer.sent[0]!.subject).toBe('Hi P1');
    expect(store.docs.get(r.id)).toMatchObject({ status: 'completed', lowWatermark: 50, lease: null });
    const again = await runBroadcast({ ...d, owner: { id: 'run-2' } }, input);
    expect(again.id).toBe(r.id);
    expect(again.counts.sent).toBe(0);
    expect((d.users as ReturnType<typeof users>).afters).toEqual([undefined, 50]);
  });

  it('starts sending before the audience is counted, then stores the count and gives the progress its total', async () => {
    let finishCount: (n: number) => void = () => {};
    const slow = { ...users(people), count: () => new Promise<number>((r) => (finishCount = r)) };
    const totals: Array<number | undefined> = [];
    const progress = { start: (i: { total: number | undefined }) => totals.push(i.total), setTotal: (n: number) => totals.push(n), update: () => {} };
    const { d, mailer, store } = deps({ users: slow, progress });
    const running = runBroadcast(d, { ...input, id: 'early' });
    await vi.waitFor(() => expect(mailer.sent.length).toBeGreaterThan(0));
    expect(store.docs.get('early')?.audienceCount).toBeUndefined();
    finishCount(50);
    const r = await running;
    expect(r).toMatchObject({ status: 'completed', audience: 50 });
    expect(totals).toEqual([undefined, 50]);
    expect(store.docs.get('early')).toMatchObject({ audienceCount: 50, lease: null });
  });

  it('with count: false, a first run never counts and records the users it streamed as the audience', async () => {
    const counted = vi.fn(async () => 50);
    const { d, store } = deps({ users: { ...users(people), count: counted } });
    const r = await runBroadcast(d, { ...input, id: 'cron', count: false });
    expect(counted).not.toHaveBeenCalled();
    expect(r).toMatchObject({ status: 'completed', audience: 50, counts: { seen: 50 } });
    expect(store.docs.get('cron')?.audienceCount).toBe(50);
  });

  it('with count: false, a run stopped before the end leaves the audience unknown, and its resume counts', async () => {
    const counted = vi.fn(async () => 50);
    const src = { ...users(people), count: counted };
    // A fatal SMTP failure (bad credentials) at the 20th user stops the run.
    const { d, store } = deps({ users: src });
    let n = 0;
    const failing = fakeMailer(() => (++n === 20 ? { responseCode: 535, code: 'EAUTH', message: 'auth failed' } : 'ok'));
    const r = await runBroadcast({ ...d, openMailer: async () => failing }, { ...input, id: 'cron', count: false });
    expect(r.stopped?.reason).toBe('fatal');
    expect(r.audience).toBeNull();
    expect(counted).not.toHaveBeenCalled();
    expect(store.docs.get('cron')?.audienceCount).toBeUndefined();
    const again = await runBroadcast({ ...d, owner: { id: 'run-2' } }, { ...input, id: 'cron', count: false });
    expect(counted).toHaveBeenCalledTimes(1);
    expect(again).toMatchObject({ status: 'completed', audience: 50 });
    expect(store.docs.get('cron')?.audienceCount).toBe(50);
  });

  it('with count: false, a confirmation prompt still counts', async () => {
    const counted = vi.fn(async () => 50);
    const { d } = deps({ users: { ...users(people), count: counted }, confirm: async (plan) => plan.audience === 50 });
    const r = await runBroadcast(d, { ...input, count: false });
    expect(counted).toHaveBeenCalledTimes(1);
    expect(r).toMatchObject({ status: 'completed', audience: 50 });
  });

  it('refuses an --id reused with another message unless force, which rescans from the start', async () => {
    const { d } = deps();
    await runBroadcast(d, { ...input, id: 'news' });
    const other = compileMessage({ subject: 'Other', text: 'x' }, { from: 'news@example.test' });
    await expect(runBroadcast({ ...d, owner: { id: 'run-2' } }, { ...input, id: 'news', message: other })).rejects.toBeInstanceOf(UsageError);
    const forced = await runBroadcast({ ...d, owner: { id: 'run-3' } }, { ...input, id: 'news', message: other, force: true });
    // Everyone was reached by the first message: nothing new to send, but the whole audience was read again.
    expect(forced.counts).toMatchObject({ sent: 0, alreadyDone: 50 });
  });

  it('refuses to run while another live run holds the lease, and takes over a dead one', async () => {
    const { d, store } = deps();
    const far = new Date(Date.now() + 60_000);
    store.docs.set('news', {
      _id: 'news',
      definition: { messageHash: message.hash, subject: input.subject, audience: input.audience, collection: input.collection },
      status: 'running',
      lease: { id: 'other', host: 'h2', pid: 9, since: new Date(), expiresAt: far },
      runs: 1,
      createdAt: new Date(),
      startedAt: new Date(),
    });
    await expect(runBroadcast(d, { ...input, id: 'news' })).rejects.toBeInstanceOf(LockHeldError);
    const r = await runBroadcast({ ...d, isHolderAlive: () => false }, { ...input, id: 'news' });
    expect(r.status).toBe('completed');
  });

  it('asks first when told to, and a "no" sends nothing', async () => {
    const { d, mailer, store } = deps({ confirm: async (plan) => (expect(plan).toMatchObject({ audience: 50, resuming: false }), false) });
    await expect(runBroadcast(d, input)).rejects.toBeInstanceOf(AbortedError);
    expect(mailer.sent).toHaveLength(0);
    expect(store.docs.size).toBe(0);
  });

  it('--test-to sends one rendered message to the operator and records nothing', async () => {
    const { d, mailer, ledger, store } = deps();
    const r = await runBroadcast(d, { ...input, testTo: 'me@example.test' });
    expect(r.status).toBe('test-sent');
    expect(mailer.sent).toHaveLength(1);
    expect(mailer.sent[0]).toMatchObject({ to: 'me@example.test', subject: 'Hi P1' });
    expect(ledger.records.size).toBe(0);
    expect(store.docs.size).toBe(0);
  });

  it('status reports sent, skipped and pending from the ledger', async () => {
    const { d, store, ledger } = deps();
    const r = await runBroadcast(d, { ...input, id: 'news' });
    const s = await broadcastStatus({ store, ledger, now: new Date() }, { id: 'news' });
    expect(s.broadcasts[0]).toMatchObject({ id: r.id, status: 'completed', sent: 49, skipped: 1, pending: 0, uncertain: 0, audience: 50 });
    await expect(broadcastStatus({ store, ledger, now: new Date() }, { id: 'nope' })).rejects.toBeInstanceOf(UsageError);
  });
});
