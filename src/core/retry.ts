// Retry timing for transient SMTP failures: exponential backoff with full jitter, bounded
// attempts within a run. A delivery that still fails is recorded `failed` (transient) and a rerun
// takes it again.

export interface RetryPolicy {
  /** Attempts within one run, the first included. Default 5. */
  maxAttempts: number;
  /** Backoff base. Default 500 ms. */
  baseMs: number;
  /** Backoff cap. Default 30 s. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseMs: 500, maxMs: 30_000 };

export function retryPolicy(p: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...DEFAULT_RETRY, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) };
}

/**
 * Delay before attempt `attempt + 1` after `attempt` failures (attempt ≥ 1): uniform in
 * [0, min(maxMs, baseMs × 2^(attempt-1))] ("full jitter"), so retries of many deliveries that
 * failed together spread out instead of hitting the server again in step.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Whether another attempt is allowed after `attempts` failed ones. */
export function mayRetry(attempts: number, policy: RetryPolicy): boolean {
  return attempts < policy.maxAttempts;
}
