// SMTP: one pooled connection per concurrent send, kept open for the whole run. The message is
// built by core (buildMime) and written raw with an explicit envelope over nodemailer's
// SMTPConnection, skipping MailComposer and the transporter's per-message streams (see smtp-pool.ts).
import { redactSecrets } from '../../core/redact.js';
import { addressOf } from '../../core/message/address.js';
import { buildMime } from '../../core/message/mime.js';
import type { Mailer, OutgoingMessage, SendReceipt } from '../../core/ports.js';
import { smtpAuth, smtpConnectionOptions, type SmtpTimeouts, type SmtpTransport } from './smtp-options.js';
import { SmtpPool } from './smtp-pool.js';

export interface SmtpMailerOptions {
  concurrency: number;
  from: string;
  signal?: AbortSignal;
  timeouts?: SmtpTimeouts;
}

/**
 * Keeps nodemailer's error object (so `responseCode` and `code` reach classifySmtpError) but
 * scrubs the password from every text field, whatever the server or library echoed.
 */
export function scrubError(err: unknown, secrets: readonly string[]): unknown {
  if (!secrets.length || err === null || typeof err !== 'object') return err;
  const e = err as { message?: unknown; response?: unknown; stack?: unknown };
  for (const key of ['message', 'response', 'stack'] as const) {
    const v = e[key];
    if (typeof v === 'string') {
      try {
        (e as Record<string, unknown>)[key] = redactSecrets(v, secrets);
      } catch {
        // read-only property: leave it
      }
    }
  }
  return err;
}

export function createSmtpMailer(transport: SmtpTransport, options: SmtpMailerOptions): Mailer {
  const secrets = [transport.pass, transport.pass ? encodeURIComponent(transport.pass) : undefined].filter(
    (s): s is string => !!s,
  );
  const pool = new SmtpPool({
    size: Math.max(1, options.concurrency),
    connection: smtpConnectionOptions(transport, options.timeouts),
    auth: smtpAuth(transport),
  });
  const envelopeFrom = addressOf(options.from);

  return {
    async send(message: OutgoingMessage): Promise<SendReceipt> {
      const raw = buildMime(message);
      try {
        const info = await pool.send({ from: addressOf(message.from) || envelopeFrom, to: [message.to] }, raw);
        return { messageId: message.messageId, response: info.response };
      } catch (err) {
        throw scrubError(err, secrets);
      }
    },
    async verify(): Promise<void> {
      try {
        await pool.verify(options.signal);
      } catch (err) {
        throw scrubError(err, secrets);
      }
    },
    close: () => pool.close(),
  };
}
