#!/usr/bin/env node
// Peer "sendStage": mailcron's own sending stage alone — render (Handlebars), build MIME, send over
// its pooled SMTP mailer with 15 in flight — users from memory, no database, no ledger.
// Usage: node bench/peers/send-stage.js --smtp-port N --messages N
// Prints one JSON object: { sent, failed, firstError? } or { unavailable: reason }.
import { parseArgs } from 'node:util';

/**
 * The plug: loads mailcron's render + MIME + send code from dist/ (src/core/message and
 * src/adapters/mail). Returns { run({port, count, concurrency}) } or { reason } when it is not built.
 */
export async function loadMailcronSendStage() {
  try {
    const { runSendStage } = await import('../send-stage.js');
    return { run: (o) => runSendStage({ ...o, unsubscribeUrl: null }) };
  } catch (err) {
    return { reason: `mailcron's message/mail modules are not built (${err.code ?? err.message}); run npm run build` };
  }
}

const { values } = parseArgs({ options: { 'smtp-port': { type: 'string' }, messages: { type: 'string' } } });
const stage = await loadMailcronSendStage();
if (!stage.run) {
  process.stdout.write(`${JSON.stringify({ unavailable: stage.reason })}\n`);
} else {
  const r = await stage.run({ port: Number(values['smtp-port']), count: Number(values.messages), concurrency: 15 });
  process.stdout.write(`${JSON.stringify({ sent: r.messages, failed: r.failed, ...(r.firstError ? { firstError: r.firstError } : {}) })}\n`);
}
