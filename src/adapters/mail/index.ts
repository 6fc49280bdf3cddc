// Transports behind the Mailer port, chosen by SMTP_URL: smtp(s)://, outbox:<dir> or json.
import type { TransportConfig } from '../../core/config.js';
import type { Mailer } from '../../core/ports.js';
import { createJsonMailer } from './json-mailer.js';
import { createOutboxMailer } from './outbox-mailer.js';
import { createSmtpMailer } from './smtp-mailer.js';
import type { SmtpTimeouts } from './smtp-options.js';

export interface MailerOptions {
  /** smtp: pooled connections (= concurrent sends). */
  concurrency: number;
  /** config.mailFrom; its address is the envelope sender. */
  from: string;
  /** Aborts verify(); sends already started finish or fail on their own (the pipeline drains them). */
  signal?: AbortSignal;
  /** smtp: connection 10 s, greeting 10 s, socket 60 s by default. */
  timeouts?: SmtpTimeouts;
  /** json: receives each line with its trailing newline (pass the CLI's `io.out`). Required for json. */
  out?: (line: string) => void;
}

/** Creates the Mailer for a transport. Throws (a plain Error, a programming mistake) if json has no `out`. */
export function createMailer(transport: TransportConfig, options: MailerOptions): Mailer {
  switch (transport.kind) {
    case 'smtp':
      return createSmtpMailer(transport, options);
    case 'outbox':
      return createOutboxMailer(transport.dir);
    case 'json':
      if (!options.out) throw new Error('createMailer: the json transport needs options.out');
      return createJsonMailer(options.out);
  }
}

export { emlFileName } from './outbox-mailer.js';
export { smtpAuth, smtpConnectionOptions, type SmtpTimeouts, type SmtpTransport } from './smtp-options.js';
export { openConnection, SmtpPool } from './smtp-pool.js';
