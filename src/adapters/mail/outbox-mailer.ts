// `outbox:<dir>` — one .eml file per message, named after its Message-ID, so a resend of the same
// delivery overwrites its own file instead of adding a second one.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, unlink, writeFile, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { buildMime } from '../../core/message/mime.js';
import type { Mailer, OutgoingMessage, SendReceipt } from '../../core/ports.js';

/** `<abc@example.com>` → `abc@example.com.eml`; anything outside [A-Za-z0-9@._-] becomes `_`. */
export function emlFileName(messageId: string): string {
  const base = messageId.replace(/^<|>$/g, '').replace(/[^A-Za-z0-9@._-]/g, '_').replace(/^\.+/, '_').slice(0, 200);
  return `${base || 'message'}.eml`;
}

export function createOutboxMailer(dir: string): Mailer {
  let ready: Promise<void> | undefined;
  const ensureDir = () => (ready ??= mkdir(dir, { recursive: true }).then(() => undefined));
  const tag = `${process.pid}.${randomBytes(3).toString('hex')}`;
  let seq = 0;

  return {
    async send(message: OutgoingMessage): Promise<SendReceipt> {
      await ensureDir();
      const name = emlFileName(message.messageId);
      const final = path.join(dir, name);
      // Temporary name starts with '.' and ends in .tmp so readers globbing *.eml never see half a file.
      const tmp = path.join(dir, `.${name}.${tag}.${seq++}.tmp`);
      try {
        await writeFile(tmp, buildMime(message));
        await rename(tmp, final);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
      return { messageId: message.messageId, response: `written ${final}` };
    },
    async verify(): Promise<void> {
      await ensureDir();
      await access(dir, constants.W_OK);
    },
    async close(): Promise<void> {},
  };
}
