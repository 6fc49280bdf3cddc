// Flag value parsers shared by the commands: a bad value is a usage error (exit 2) naming the flag.
import { InvalidArgumentError } from 'commander';
import type { Config } from '../core/config.js';
import type { DeliveryTuning } from '../core/pipeline/types.js';
import { parseRate, type RateLimit } from '../core/rate-limit.js';

/** A whole number in [min, max], for flags such as --limit or --max-errors. */
export function wholeNumber(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max === Number.MAX_SAFE_INTEGER ? '…' : max}`);
    }
    return n;
  };
}

/** `--rate n/s|n/m|n/h`. */
export function rateArg(value: string): RateLimit {
  const r = parseRate(value);
  if (typeof r === 'string') throw new InvalidArgumentError(`--rate ${r}`);
  return r;
}

/** Whether a process of this host is still running (a lease holder's pid). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The sending flags broadcast and schedule share, as the pipeline takes them. */
export function deliveryTuning(
  config: Config,
  opts: { rate?: RateLimit; maxErrors?: number; uncertain: 'resend' | 'skip'; dryRun?: boolean },
): DeliveryTuning {
  return {
    concurrency: config.concurrency,
    ...(opts.rate ? { rate: opts.rate } : {}),
    ...(opts.maxErrors !== undefined ? { maxErrors: opts.maxErrors } : {}),
    uncertain: opts.uncertain,
    dryRun: Boolean(opts.dryRun),
  };
}
