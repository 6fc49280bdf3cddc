// In-memory ports for unit tests of the schedule run: a user store with the same query semantics
// as the MongoDB one, a lease store, and a mailer that records what it sent.
import type { LeaseInfo, LeaseStore } from '../../../../src/core/schedule/lock.js';
import { valueAt } from '../../../../src/core/schedule/plan.js';
import type { ScheduleRunRecord, ScheduleStore, StateUpdate } from '../../../../src/core/schedule/types.js';
import type { Mailer, OutgoingMessage, UserDoc } from '../../../../src/core/ports.js';

type Doc = UserDoc & { mailcron?: { nextAt?: Date; scheduleHash?: string; [k: string]: unknown } };

export function memoryStore(docs: Doc[], field = 'schedule') {
  const runs: ScheduleRunRecord[] = [];
  const reads = { planning: 0, due: 0, replan: 0 };
  const byId = () => [...docs].sort((a, b) => (Number(a._id) < Number(b._id) ? -1 : 1));
  const nextAt = (d: Doc) => (d.mailcron?.nextAt instanceof Date ? d.mailcron.nextAt : null);
  const hash = (d: Doc) => (typeof d.mailcron?.scheduleHash === 'string' ? d.mailcron.scheduleHash : null);
  const clone = (d: Doc): Doc => structuredClone(d);
  async function* batches(list: Doc[], size: number, kind: keyof typeof reads) {
    for (let i = 0; i < list.length; i += size) {
      const b = list.slice(i, i + size).map(clone);
      reads[kind] += b.length;
      yield b;
    }
  }
  const store: ScheduleStore & { docs: Doc[]; runs: ScheduleRunRecord[]; applied: StateUpdate[] } = {
    docs,
    runs,
    applied: [],
    unplanned: ({ batchSize }) => batches(byId().filter((d) => hash(d) === null && valueAt(d, field) != null), batchSize, 'planning'),
    scheduled: ({ batchSize }) => batches(byId().filter((d) => valueAt(d, field) != null || hash(d) !== null), batchSize, 'replan'),
    async *due(now, { batchSize }) {
      let last: { at: number; id: number } | undefined;
      for (;;) {
        const list = docs
          .filter((d) => nextAt(d) !== null && nextAt(d)!.getTime() <= now.getTime())
          .filter((d) => !last || nextAt(d)!.getTime() > last.at || (nextAt(d)!.getTime() === last.at && Number(d._id) > last.id))
          .sort((a, b) => nextAt(a)!.getTime() - nextAt(b)!.getTime() || Number(a._id) - Number(b._id))
          .slice(0, batchSize)
          .map(clone);
        if (list.length === 0) return;
        reads.due += list.length;
        const tail = list[list.length - 1]!;
        last = { at: nextAt(tail)!.getTime(), id: Number(tail._id) };
        yield list;
        if (list.length < batchSize) return;
      }
    },
    async apply(updates) {
      let matched = 0;
      for (const u of updates) {
        store.applied.push(u);
        const d = docs.find((x) => x._id === u.userId);
        if (!d) continue;
        if ((nextAt(d)?.getTime() ?? null) !== (u.expect.nextAt?.getTime() ?? null) || hash(d) !== u.expect.scheduleHash) continue;
        matched++;
        d.mailcron ??= {};
        for (const [k, v] of Object.entries(u.set)) {
          if (v === undefined) continue;
          if (v === null) delete d.mailcron[k];
          else d.mailcron[k] = v;
        }
      }
      return matched;
    },
    countDue: async (now) => docs.filter((d) => nextAt(d) && nextAt(d)!.getTime() <= now.getTime()).length,
    async nextDue(now) {
      const list = docs.map(nextAt).filter((x): x is Date => !!x && x.getTime() > now.getTime());
      return list.length ? new Date(Math.min(...list.map((x) => x.getTime()))) : null;
    },
    async saveRun(r) {
      runs.push(r);
    },
    lastRun: async () => runs[runs.length - 1] ?? null,
    reads: () => ({ ...reads }),
  };
  return store;
}

export function memoryLeases(): LeaseStore & { docs: Map<string, LeaseInfo> } {
  const docs = new Map<string, LeaseInfo>();
  return {
    docs,
    async acquire(name, owner, now, ttlMs) {
      const cur = docs.get(name);
      if (cur && cur.owner !== owner && cur.expiresAt.getTime() >= now.getTime()) return { ok: false, holder: cur };
      const lease = { name, owner, acquiredAt: now, expiresAt: new Date(now.getTime() + ttlMs), heartbeatAt: now };
      docs.set(name, lease);
      return { ok: true, lease };
    },
    async renew(name, owner, now, ttlMs) {
      const cur = docs.get(name);
      if (!cur || cur.owner !== owner) return false;
      cur.expiresAt = new Date(now.getTime() + ttlMs);
      return true;
    },
    async release(name, owner, now) {
      const cur = docs.get(name);
      if (cur?.owner === owner) Object.assign(cur, { expiresAt: new Date(0), releasedAt: now });
    },
    read: async (name) => docs.get(name) ?? null,
  };
}

/** A mailer that accepts everything, or fails for addresses `fail(to)` says. */
export function memoryMailer(fail?: (m: OutgoingMessage) => Error | undefined): Mailer & { sent: OutgoingMessage[] } {
  const sent: OutgoingMessage[] = [];
  return {
    sent,
    async send(m) {
      const err = fail?.(m);
      if (err) throw err;
      sent.push(m);
      return { messageId: m.messageId, response: '250 ok' };
    },
    async close() {},
  };
}
