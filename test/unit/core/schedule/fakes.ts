// In-memory ports for unit tests of the schedule run: a user store with the same query semantics
// as the MongoDB one, a lease store, and a mailer that records what it sent.
import type { LeaseInfo, LeaseStore } from '../../../../src/core/schedule/lock.js';
import { valueAt } from '../../../../src/core/schedule/plan.js';
import type { DueAccess, ScheduleRunRecord, ScheduleStore, StateUpdate } from '../../../../src/core/schedule/types.js';
import type { Mailer, OutgoingMessage, UserDoc } from '../../../../src/core/ports.js';

type Doc = UserDoc & { mailcron?: { nextAt?: Date; scheduleHash?: string; [k: string]: unknown } };

/**
 * `access: 'scan'` plays a server without a usable index (FerretDB v1): the run then reads through
 * `pending`. `queries` counts the queries a run makes, by kind.
 */
export function memoryStore(docs: Doc[], field = 'schedule', options: { access?: DueAccess } = {}) {
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
  const dueOrder = (a: Doc, b: Doc) => (nextAt(a)?.getTime() ?? -Infinity) - (nextAt(b)?.getTime() ?? -Infinity) || Number(a._id) - Number(b._id);
  const store: ScheduleStore & { docs: Doc[]; runs: ScheduleRunRecord[]; applied: StateUpdate[]; queries: Record<string, number> } = {
    docs,
    runs,
    applied: [],
    queries: { unplanned: 0, due: 0, pending: 0, nextDue: 0 },
    dueAccess: async () => options.access ?? 'index',
    async *pending(now, { batchSize }) {
      store.queries.pending!++;
      const list = byId()
        .filter((d) => (nextAt(d) !== null && nextAt(d)!.getTime() <= now.getTime()) || (hash(d) === null && valueAt(d, field) != null))
        .sort(dueOrder);
      for (let i = 0; i < list.length; i += batchSize) {
        const b = list.slice(i, i + batchSize).map(clone);
        for (const d of b) reads[hash(d) === null && valueAt(d, field) != null ? 'planning' : 'due']++;
        yield b;
      }
    },
    unplanned: ({ batchSize }) => (store.queries.unplanned!++, batches(byId().filter((d) => hash(d) === null && valueAt(d, field) != null), batchSize, 'planning')),
    scheduled: ({ batchSize }) => batches(byId().filter((d) => valueAt(d, field) != null || hash(d) !== null), batchSize, 'replan'),
    // One cursor: users are looked at lazily, in (nextAt, _id) order, and a user whose nextAt moved
    // past now before the cursor reaches it is not returned (as with an index range scan).
    async *due(now, { batchSize }) {
      store.queries.due!++;
      const order = docs.filter((d) => nextAt(d) !== null && nextAt(d)!.getTime() <= now.getTime()).sort(dueOrder);
      let b: Doc[] = [];
      for (const d of order) {
        if (nextAt(d) === null || nextAt(d)!.getTime() > now.getTime()) continue;
        b.push(clone(d));
        if (b.length === batchSize) {
          reads.due += b.length;
          yield b;
          b = [];
        }
      }
      if (b.length) {
        reads.due += b.length;
        yield b;
      }
    },
    async apply(updates) {
      let matched = 0;
      for (const u of updates) {
        store.applied.push(u);
        const d = docs.find((x) => x._id === u.userId);
        if (!d) continue;
        // As the MongoDB store: an update that plans does not stand over an edit made since the
        // run read the user; other updates are written whatever the state.
        const plans = typeof u.set.scheduleHash === 'string';
        const same =
          (nextAt(d)?.getTime() ?? null) === (u.expect.nextAt?.getTime() ?? null) &&
          hash(d) === u.expect.scheduleHash &&
          JSON.stringify(valueAt(d, field)) === JSON.stringify(u.expect.schedule);
        if (plans && !same) continue;
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
      store.queries.nextDue!++;
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
