// The one message every peer sends: a digest of about 2 KB (text ≈ 0.8 KB + HTML ≈ 1.3 KB) with the
// user's name and city, and the users it goes to. Plain JS so peers can load it without dist/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FROM = 'Weekly News <news@example.com>';

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

const CITIES = ['Berlin', 'Zürich', 'Lisboa', 'Kraków', 'Oslo'];

/** User number i without its _id: the same fields in memory (send stage) and in the database. */
export function userFields(i) {
  return {
    email: `user${i}@example.com`,
    name: i % 7 === 0 ? `Jürgen "J" Müller ${i}` : `User ${i}`,
    city: CITIES[i % CITIES.length],
    active: true,
  };
}

/** In-memory users with string ids (no database). */
export function makeUsers(n) {
  return Array.from({ length: n }, (_, i) => ({ _id: `u${String(i).padStart(7, '0')}`, ...userFields(i) }));
}

/** Writes the text and HTML parts for `--text @file --html @file`; returns the CLI arguments. */
export function writeMessageFiles(dir) {
  mkdirSync(dir, { recursive: true });
  const text = join(dir, 'message.txt');
  const html = join(dir, 'message.html');
  writeFileSync(text, SAMPLE_SPEC.text);
  writeFileSync(html, SAMPLE_SPEC.html);
  return ['--subject', SAMPLE_SPEC.subject, '--text', `@${text}`, '--html', `@${html}`];
}
