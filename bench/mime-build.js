#!/usr/bin/env node
// Micro-benchmark: messages/s building a ~2 KB text+HTML message, users from memory, one core.
//   nodemailer MailComposer (what sendMail does per message)  vs  mailcron's render + buildMime.
// Usage: npm run build && node bench/mime-build.js [--seconds 2]   (prints one JSON object)
import { fileURLToPath } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer';
import { buildMime, compileMessage, makeMessageId } from '../dist/core/message/index.js';
import { FROM, SAMPLE_SPEC, makeUsers } from './lib/message.js';

// Shared with the peers of bench/run.js, so every benchmark builds the same ~2 KB message.
export { SAMPLE_SPEC, makeUsers };

async function timed(seconds, fn) {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) await fn(n++);
  }
  return Math.round(n / ((performance.now() - t0) / 1000));
}

/** Returns messages/s for each builder and the size of one built message. */
export async function runMimeBuild({ seconds = 2 } = {}) {
  const users = makeUsers(10_000);
  const compiled = compileMessage(SAMPLE_SPEC, { from: FROM, unsubscribeUrl: 'https://example.com/unsub?u={{_id}}' });
  const rendered = users.map((u) => compiled.render(u, makeMessageId(`bench:${u._id}`, FROM)).message);
  const at = (n) => rendered[n % rendered.length];
  const sample = buildMime(at(1));

  const mailComposer = await timed(seconds, async (n) => {
    const m = at(n);
    await new MailComposer({ ...m, messageId: m.messageId }).compile().build();
  });
  const buildOnly = await timed(seconds, async (n) => {
    buildMime(at(n));
  });
  const renderAndBuild = await timed(seconds, async (n) => {
    const u = users[n % users.length];
    const r = compiled.render(u, makeMessageId(`bench:${u._id}`, FROM));
    buildMime(r.message);
  });
  return {
    messageBytes: Buffer.byteLength(sample),
    mailComposerPerSecond: mailComposer,
    buildMimePerSecond: buildOnly,
    renderAndBuildMimePerSecond: renderAndBuild,
    speedup: Math.round((buildOnly / mailComposer) * 10) / 10,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--seconds');
  const seconds = i === -1 ? 2 : Number(process.argv[i + 1]);
  console.log(JSON.stringify({ bench: 'mime-build', node: process.version, ...(await runMimeBuild({ seconds })) }, null, 2));
}
