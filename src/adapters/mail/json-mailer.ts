// `json` transport — one JSON object per line for demos and debugging. Not combinable with the
// CLI's --json, whose summary must be the only object on stdout.
import type { Mailer, OutgoingMessage, SendReceipt } from '../../core/ports.js';

/** `out` receives each line with its trailing newline, so the CLI can pass `io.out` as is. */
export function createJsonMailer(out: (line: string) => void): Mailer {
  return {
    async send(m: OutgoingMessage): Promise<SendReceipt> {
      const record = {
        messageId: m.messageId,
        from: m.from,
        to: m.to,
        subject: m.subject,
        headers: m.headers ?? {},
        text: m.text,
        html: m.html,
      };
      out(`${JSON.stringify(record)}\n`);
      return { messageId: m.messageId, response: 'written to stdout' };
    },
    async close(): Promise<void> {},
  };
}
