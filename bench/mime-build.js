#!/usr/bin/env node
// Micro-benchmark: messages/s building a ~2 KB text+HTML message, users from memory, one core.
//   nodemailer MailComposer (what sendMail does per message)  vs  mailcron's render + buildMime.
// Usage: npm run build && node bench/mime-build.js [--seconds 2]   (prints one JSON object)
import { fileURLToPath } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer';
import { buildMime, compileMessage, makeMessageId } from '../dist/core/message/index.js';

const FROM = 'Weekly News <news@example.com>';

/** A digest-like message of about 2 KB (text ≈ 0.8 KB, HTML ≈ 1.3 KB). */
export const SAMPLE_SPEC = {
  subject: 'Your weekly digest, {{name}}',
  text: [
    'Hi {{name}},',
    '',
    'Here is what happened this week in {{city}}:',
    ...Array.from({ length: 8 }, (_, i) => `- Story ${i + 1}: lorem ipsum dolor sit amet, consectetur adipiscing elit.`),
    '',
    'See you next week.',
  ].join('\n'),
  html: [
    '<html><body><h1>Hi {{name}}</h1>',
    '<p>Here is what happened this week in <b>{{city}}</b>:</p><ul>',
    ...Array.from({ length: 8 }, (_, i) => `<li><a href="https://example.com/s/${i + 1}">Story ${i + 1}</a>: lorem ipsum dolor sit amet, consectetur.</li>`),
    '</ul><p>See you next week.</p></body></html>',
  ].join('\n'),
};

export function makeUsers(n) {
  const cities = ['Berlin', 'Zürich', 'Lisboa', 'Kraków', 'Oslo'];
  return Array.from({ length: n }, (_, i) => ({
    _id: `u${String(i).padStart(7, '0')}`,
    email: `user${i}@example.com`,
    name: i % 7 === 0 ? `Jürgen "J" Müller ${i}` : `User ${i}`,
    city: cities[i % cities.length],
    active: true,
  }));
}

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
