// The one place where errors become exit codes (see README "Exit codes").
import { AbortedError, ConfigError, FatalError, LockHeldError, MailcronError, UsageError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';

export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  ABORTED: 3,
  LOCKED: 75,
  SIGINT: 130,
  SIGTERM: 143,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError || err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof LockHeldError) return EXIT.LOCKED;
  if (err instanceof FatalError || err instanceof AbortedError) return EXIT.ABORTED;
  if (err instanceof MailcronError) return EXIT.ABORTED;
  return EXIT.INTERNAL;
}

export function exitCodeForSignal(signal: NodeJS.Signals | undefined): number {
  return signal === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT;
}

/**
 * The text printed for an error: one line for expected failures (with what to do next),
 * the stack for anything else, since that is a bug worth reporting.
 */
export function formatError(err: unknown, secrets: readonly string[] = []): string {
  let text: string;
  if (err instanceof ConfigError) {
    text = err.issues.length === 1 ? `mailcron: ${err.issues[0]}` : `mailcron: ${err.issues.join('; ')}`;
  } else if (err instanceof MailcronError) {
    text = `mailcron: ${err.message}`;
  } else {
    const e = err as Error;
    text = `mailcron: internal error (please report it): ${e?.stack ?? String(err)}`;
  }
  return redactSecrets(text, secrets);
}
