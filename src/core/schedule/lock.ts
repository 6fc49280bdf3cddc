// The schedule lock: a lease with a heartbeat, so one `schedule` runs at a time and a crashed
// holder's lease simply expires. Lease times are real (wall-clock) time, never the `--now` clock:
// runs replaying another date must still exclude each other.
import { LockHeldError } from '../errors.js';

/** A lease document as stored (mailcron_locks). */
export interface LeaseInfo {
  name: string;
  /** `host:pid:random`, unique per run. */
  owner: string;
  acquiredAt: Date;
  expiresAt: Date;
  heartbeatAt: Date;
  /** Set when the holder gave the lease up (it is then free). */
  releasedAt?: Date;
}

/** Storage of leases; MongoDB's is src/adapters/mongo/mongo-lock.ts. */
export interface LeaseStore {
  /** Takes the lease when nobody holds it, it has expired, or `owner` holds it already; else returns the holder. */
  acquire(name: string, owner: string, now: Date, ttlMs: number): Promise<{ ok: true; lease: LeaseInfo } | { ok: false; holder: LeaseInfo }>;
  /** Extends the lease; false when another owner has taken it (ours expired). */
  renew(name: string, owner: string, now: Date, ttlMs: number): Promise<boolean>;
  /** Gives the lease up (only when `owner` still holds it). */
  release(name: string, owner: string, now: Date): Promise<void>;
  /** The current lease, expired or not (for `status`). */
  read(name: string): Promise<LeaseInfo | null>;
}

export interface Lease {
  readonly info: LeaseInfo;
  /** Aborted when the lease is lost (renewal refused, or not renewed before it expired): stop taking work. */
  readonly lost: AbortSignal;
  /** Stops the heartbeat and releases the lease. Idempotent. */
  release(): Promise<void>;
}

export interface AcquireLeaseOptions {
  name: string;
  owner: string;
  /** Lease length. Default 60 s; renewed every ttl/3, so a crashed holder blocks others for at most ttl. */
  ttlMs?: number;
  /** Wall-clock time. Default `() => new Date()`. */
  now?: () => Date;
  /** Called when a renewal fails with an error (the heartbeat keeps trying until the lease expires). */
  onRenewError?: (err: unknown) => void;
}

export const DEFAULT_LOCK_TTL_MS = 60_000;

/**
 * Takes the lease or throws LockHeldError (exit 75) naming the holder and since when. While held,
 * a heartbeat renews it every ttl/3; if a renewal is refused (someone took the expired lease) or
 * the lease runs out without a successful renewal, `lost` is aborted.
 */
export async function acquireLease(store: LeaseStore, options: AcquireLeaseOptions): Promise<Lease> {
  const ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  const now = options.now ?? (() => new Date());
  const got = await store.acquire(options.name, options.owner, now(), ttlMs);
  if (!got.ok) {
    const h = got.holder;
    throw new LockHeldError(options.name, h.owner, h.acquiredAt, h.expiresAt);
  }
  const controller = new AbortController();
  let expiresAt = got.lease.expiresAt.getTime();
  let released = false;
  let renewing = false;
  const beat = async () => {
    if (released || renewing || controller.signal.aborted) return;
    renewing = true;
    try {
      const at = now();
      const ok = await store.renew(options.name, options.owner, at, ttlMs);
      if (!ok) controller.abort(new Error(`lost the ${options.name} lock: another run took it after our lease expired`));
      else expiresAt = at.getTime() + ttlMs;
    } catch (err) {
      options.onRenewError?.(err);
      if (now().getTime() >= expiresAt) controller.abort(new Error(`lost the ${options.name} lock: could not renew it before it expired`));
    } finally {
      renewing = false;
    }
  };
  const timer = setInterval(() => void beat(), Math.max(50, Math.floor(ttlMs / 3)));
  return {
    info: got.lease,
    lost: controller.signal,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      if (!controller.signal.aborted) await store.release(options.name, options.owner, now());
    },
  };
}
