// Every error mailcron expects, in one module. The CLI maps them to exit codes in one place
// (src/cli/exit-codes.ts); anything else is a bug and is printed with its stack.

/** Base class: an expected failure whose message tells the operator what to do next. */
export class MailcronError extends Error {
  override name = 'MailcronError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bad flags, environment or .env values. `issues` lists every problem as `name: message`. */
export class ConfigError extends MailcronError {
  override name = 'ConfigError';
  constructor(
    readonly issues: string[],
    options?: { cause?: unknown },
  ) {
    super(issues.length === 1 ? issues[0]! : `${issues.length} configuration problems: ${issues.join('; ')}`, options);
  }
}

/** Misuse that is not a config value: conflicting flags, a malformed --filter, a missing file. */
export class UsageError extends MailcronError {
  override name = 'UsageError';
}

/** The run cannot go on (SMTP auth or TLS failure, MongoDB unreachable). Safe to rerun once fixed. */
export class FatalError extends MailcronError {
  override name = 'FatalError';
}

/** The run stopped itself, e.g. `--max-errors` reached. Safe to rerun. */
export class AbortedError extends MailcronError {
  override name = 'AbortedError';
}

/** Another run holds the lease (exit 75, EX_TEMPFAIL: cron tries again on the next tick). */
export class LockHeldError extends MailcronError {
  override name = 'LockHeldError';
  constructor(
    readonly lock: string,
    readonly holder: string,
    readonly since: Date,
    readonly expiresAt: Date,
  ) {
    super(
      `another run holds the ${lock} lock: ${holder}, since ${since.toISOString()} (lease expires ${expiresAt.toISOString()} unless renewed)`,
    );
  }
}

export type SmtpErrorKind = 'transient' | 'permanent' | 'fatal';

const FATAL_CODES = new Set(['EAUTH', 'ETLS', 'ENOAUTH', 'EOAUTH2', 'ECONFIG', 'EPROXY', 'EDNS']);
const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EMAXLIMIT',
  'EPROTOCOL',
]);

/**
 * Classifies an SMTP failure by reply code first, then by nodemailer's `code`.
 * 4xx → transient; 5xx → permanent, except 530/534/535/538 (authentication) → fatal;
 * EAUTH/TLS/config → fatal; connection-level errors → transient. Unknown errors are transient,
 * so they are retried a bounded number of times rather than recorded as final.
 */
export function classifySmtpError(err: unknown): SmtpErrorKind {
  const e = (err ?? {}) as { responseCode?: unknown; code?: unknown; message?: unknown };
  const rc = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && FATAL_CODES.has(code)) return 'fatal';
  if (rc !== undefined) {
    if (rc === 530 || rc === 534 || rc === 535 || rc === 538) return 'fatal';
    if (rc >= 400 && rc < 500) return 'transient';
    if (rc >= 500 && rc < 600) return 'permanent';
  }
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return 'permanent';
  if (code && TRANSIENT_CODES.has(code)) return 'transient';
  const msg = typeof e.message === 'string' ? e.message : '';
  if (/certificate|SSL|TLS/i.test(msg) && !/timeout/i.test(msg)) return 'fatal';
  return 'transient';
}

/** Short, secret-free description of an SMTP failure for the ledger and for logs. */
export function describeSmtpError(err: unknown): { code?: string; responseCode?: number; message: string } {
  const e = (err ?? {}) as { responseCode?: unknown; code?: unknown; response?: unknown; message?: unknown };
  const out: { code?: string; responseCode?: number; message: string } = {
    message: String(e.response ?? e.message ?? err).slice(0, 500),
  };
  if (typeof e.code === 'string') out.code = e.code;
  if (typeof e.responseCode === 'number') out.responseCode = e.responseCode;
  return out;
}
