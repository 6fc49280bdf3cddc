// SMTP_URL → nodemailer connection options. The URL's query may tune TLS:
//   ?requireTLS=true              refuse to send unless STARTTLS succeeds (smtp:// on 587)
//   ?ignoreTLS=true               never STARTTLS, even when offered (local test relays only)
//   ?rejectUnauthorized=false     accept a self-signed certificate (test relays only)
//   ?name=<host>                  hostname sent in EHLO (default: this machine's name)
import type { SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import type { TransportConfig } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';

export type SmtpTransport = Extract<TransportConfig, { kind: 'smtp' }>;

export interface SmtpTimeouts {
  /** TCP connect. Default 10 s. */
  connectionMs?: number;
  /** Waiting for the 220 greeting. Default 10 s. */
  greetingMs?: number;
  /** Inactivity on an open connection. Default 60 s. */
  socketMs?: number;
}

const FLAGS = new Set(['requireTLS', 'ignoreTLS', 'rejectUnauthorized', 'tls.rejectUnauthorized', 'name']);

function bool(name: string, value: string): boolean {
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new UsageError(`SMTP_URL: ?${name}= must be true or false, got ${JSON.stringify(value)}`);
}

/** Credentials from the URL, or undefined when it has none. */
export function smtpAuth(t: SmtpTransport): { user: string; pass: string } | undefined {
  return t.user === undefined ? undefined : { user: t.user, pass: t.pass ?? '' };
}

/** Options for one `SMTPConnection` (host, TLS, timeouts); credentials come from smtpAuth. Throws UsageError for a bad query. */
export function smtpConnectionOptions(t: SmtpTransport, timeouts: SmtpTimeouts = {}): SMTPConnectionOptions {
  const opts: SMTPConnectionOptions = {
    host: t.host,
    port: t.port,
    secure: t.secure,
    connectionTimeout: timeouts.connectionMs ?? 10_000,
    greetingTimeout: timeouts.greetingMs ?? 10_000,
    socketTimeout: timeouts.socketMs ?? 60_000,
    logger: false,
    debug: false,
  };
  let query: URLSearchParams;
  try {
    query = new URL(t.url).searchParams;
  } catch {
    query = new URLSearchParams();
  }
  for (const [key, value] of query) {
    if (!FLAGS.has(key)) {
      throw new UsageError(`SMTP_URL: unknown option ?${key}= (known: requireTLS, ignoreTLS, rejectUnauthorized, name)`);
    }
    if (key === 'requireTLS') opts.requireTLS = bool(key, value);
    else if (key === 'ignoreTLS') opts.ignoreTLS = bool(key, value);
    else if (key === 'name') opts.name = value;
    else opts.tls = { ...opts.tls, rejectUnauthorized: bool(key, value) };
  }
  if (opts.requireTLS && opts.ignoreTLS) throw new UsageError('SMTP_URL: requireTLS and ignoreTLS contradict each other');
  return opts;
}
