// Turns schema problems into one ConfigError that lists all of them as `name: message`,
// with the name spelled the way the operator wrote it (flag or environment variable).
import type { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * Parses `input` with `schema`; on failure throws ConfigError with every issue.
 * `names` maps a schema key to the name shown to the operator (e.g. `--concurrency` or `MAILCRON_CONCURRENCY`).
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, names: Record<string, string> = {}): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => {
    const key = i.path.map(String).join('.');
    return `${names[key] ?? (key || 'input')}: ${i.message}`;
  });
  throw new ConfigError(issues, { cause: r.error });
}
