// The raw output of buildMime, read back with mailparser (an independent MIME parser).
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { buildMime, compileMessage, makeMessageId } from '../../../../src/core/message/index.js';
import type { OutgoingMessage, UserDoc } from '../../../../src/core/ports.js';

const FROM = 'News <news@example.com>';

function render(spec: { subject: string; text?: string; html?: string }, user: UserDoc, options: { from?: string; unsubscribeUrl?: string; unsubscribeMailto?: string } = {}): OutgoingMessage {
  const c = compileMessage(spec, { from: options.from ?? FROM, ...options });
  const r = c.render(user, makeMessageId(`test:${String(user._id)}`, options.from ?? FROM));
  if (!r.ok) throw new Error(r.reason);
  return r.message;
}

function parse(raw: string): Promise<ParsedMail> {
  return simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
}

function headerNames(raw: string): string[] {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  return head
    .split('\r\n')
    .filter((l) => !/^[ \t]/.test(l))
    .map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
}

function firstAddress(a: AddressObject | AddressObject[] | undefined) {
  return (Array.isArray(a) ? a[0] : a)?.value[0];
}

describe('buildMime', () => {
  it('encodes a non-ASCII subject with emoji so it reads back unchanged', async () => {
    const subject = 'Grüße aus Zürich 🎉 — ваш дайджест, {{name}}';
    const m = render({ subject, text: 'x' }, { _id: 1, email: 'a@example.com', name: 'Łukasz 😀' });
    const raw = buildMime(m);
    expect(raw).toMatch(/^Subject: =\?UTF-8\?Q\?/m);
    expect(/^[\x00-\x7f]*$/.test(raw)).toBe(true); // 7-bit clean on the wire
    const parsed = await parse(raw);
    expect(parsed.subject).toBe('Grüße aus Zürich 🎉 — ваш дайджест, Łukasz 😀');
  });

  it('quotes or encodes display names with quotes, commas and non-ASCII', async () => {
    for (const from of ['"O\'Brien, \\"Bob\\"" <bob@example.com>', 'Jürgen "J" Müller <j@example.com>', 'plain@example.com', '=?UTF-8?Q?x?= <x@example.com>']) {
      const m = render({ subject: 's', text: 't' }, { _id: 1, email: 'a@example.com' }, { from });
      const parsed = await parse(buildMime(m));
      const got = firstAddress(parsed.from)!;
      const expected = {
        '"O\'Brien, \\"Bob\\"" <bob@example.com>': { name: 'O\'Brien, "Bob"', address: 'bob@example.com' },
        'Jürgen "J" Müller <j@example.com>': { name: 'Jürgen J Müller', address: 'j@example.com' },
        'plain@example.com': { name: '', address: 'plain@example.com' },
        // An encoded-word the operator wrote in MAIL_FROM is theirs to use: it is kept and decodes.
        '=?UTF-8?Q?x?= <x@example.com>': { name: 'x', address: 'x@example.com' },
      }[from];
      expect({ name: got.name, address: got.address }).toEqual(expected);
      expect(firstAddress(parsed.to)!.address).toBe('a@example.com');
    }
  });

  it('sends HTML-escaped user data in the html part', async () => {
    const m = render({ subject: 's', html: '<p>Hi {{name}}</p>' }, { _id: 1, email: 'a@example.com', name: '<script>alert(1)</script>' });
    const parsed = await parse(buildMime(m));
    expect(parsed.html).toBe('<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(parsed.text?.trim()).toBe('Hi <script>alert(1)</script>');
  });

  it('cannot be made to add a header by CR/LF in user data', async () => {
    const evil = 'Eve\r\nBcc: victim@example.com\r\nX-Injected: yes\r\n\r\nbody';
    const m = render(
      { subject: 'Hello {{name}}', text: 'Hi {{name}}', html: '<p>{{name}}</p>' },
      { _id: evil, email: 'a@example.com', name: evil },
      { unsubscribeUrl: 'https://x.test/u/{{_id}}', unsubscribeMailto: 'mailto:u@example.com?subject={{name}}' },
    );
    // Even a caller bypassing render() cannot inject through buildMime.
    const raw = buildMime({ ...m, headers: { ...m.headers, 'X-Extra': evil }, messageId: `${m.messageId}\r\nX-Mid: 1` });
    const parsed = await parse(raw);
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(parsed.headers.has('x-injected')).toBe(false);
    expect(parsed.headers.has('x-mid')).toBe(false);
    expect(headerNames(raw)).toEqual([
      'from', 'to', 'subject', 'date', 'message-id', 'list-unsubscribe', 'list-unsubscribe-post', 'x-extra', 'mime-version', 'content-type',
    ]);
    expect(parsed.subject).toBe('Hello Eve Bcc: victim@example.com X-Injected: yes body');
    expect(parsed.to && firstAddress(parsed.to)!.address).toBe('a@example.com');
  });

  it('wraps long lines and non-ASCII bodies as quoted-printable, keeping the content', async () => {
    const long = `${'word '.repeat(400)}end`;
    const m = render({ subject: 's', text: `{{t}}\nZürich ✓\n.leading dot`, html: '<p>{{t}}</p>' }, { _id: 1, email: 'a@example.com', t: long });
    const raw = buildMime(m);
    for (const line of raw.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    expect(raw).toContain('Content-Transfer-Encoding: quoted-printable');
    const parsed = await parse(raw);
    expect(parsed.text).toBe(`${long}\nZürich ✓\n.leading dot`);
    expect(parsed.html).toBe(`<p>${long}</p>`);
  });

  it('uses 7bit for short ASCII bodies and normalises line ends to CRLF', () => {
    const raw = buildMime({ from: FROM, to: 'a@example.com', subject: 's', text: 'a\nb\rc\r\nd', messageId: '<m@example.com>' }, { date: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)) });
    expect(raw).toBe(
      [
        'From: News <news@example.com>',
        'To: a@example.com',
        'Subject: s',
        'Date: Wed, 02 Jan 2030 03:04:05 +0000',
        'Message-ID: <m@example.com>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 7bit',
        '',
        'a',
        'b',
        'c',
        'd',
        '',
      ].join('\r\n'),
    );
  });

  it('builds multipart/alternative with text first, and derived text when only HTML is given', async () => {
    const m = render({ subject: 's', html: '<h1>Hi {{name}}</h1><p>See <a href="https://x.test/a">our site</a>.</p>' }, { _id: 1, email: 'a@example.com', name: 'Ann' });
    const raw = buildMime(m, { boundary: 'b0undary' });
    expect(raw).toContain('Content-Type: multipart/alternative; boundary="b0undary"');
    expect(raw.indexOf('text/plain')).toBeLessThan(raw.indexOf('text/html'));
    const parsed = await parse(raw);
    expect(parsed.text?.trim()).toBe('Hi Ann\n\nSee our site [https://x.test/a].');
    expect(parsed.html).toContain('<h1>Hi Ann</h1>');
  });

  it('picks another boundary when the body contains it', async () => {
    const m: OutgoingMessage = { from: FROM, to: 'a@example.com', subject: 's', text: '--b\n', html: '<p>x</p>', messageId: '<m@example.com>' };
    const raw = buildMime(m, { boundary: 'b' });
    expect(raw).not.toContain('boundary="b"');
    const parsed = await parse(raw);
    expect(parsed.text!.trim()).toBe('--b');
    expect(parsed.html).toBe('<p>x</p>');
  });

  it('carries List-Unsubscribe, One-Click and a deterministic Message-ID', async () => {
    const user = { _id: 'u 1', email: 'a@example.com' };
    const opts = { unsubscribeUrl: 'https://x.test/unsub?u={{_id}}', unsubscribeMailto: 'unsub@example.com' };
    const m1 = render({ subject: 's', text: 't' }, user, opts);
    const m2 = render({ subject: 's', text: 't' }, user, opts);
    const p1 = await parse(buildMime(m1));
    const p2 = await parse(buildMime(m2));
    expect(p1.messageId).toBe(m1.messageId);
    expect(p2.messageId).toBe(p1.messageId);
    expect(p1.messageId).toBe(makeMessageId('test:u 1', FROM));
    // mailparser folds List-* headers into a lossy object, so read the header lines themselves.
    const line = (key: string) => p1.headerLines.find((h) => h.key === key)?.line.replace(/\r?\n[ \t]+/g, ' ');
    expect(line('list-unsubscribe')).toBe('List-Unsubscribe: <https://x.test/unsub?u=u%201>, <mailto:unsub@example.com>');
    expect(line('list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(p1.headers.get('list')).toMatchObject({ unsubscribe: { url: 'https://x.test/unsub?u=u%201', mail: 'unsub@example.com' } });
  });

  it('encodes a non-ASCII custom header and never passes a look-alike encoded-word through', async () => {
    const raw = buildMime({ from: FROM, to: 'a@example.com', subject: '=?UTF-8?B?SGFja2Vk?=', text: 't', headers: { 'X-Note': 'Grüße' }, messageId: '<m@example.com>' });
    const parsed = await parse(raw);
    expect(parsed.subject).toBe('=?UTF-8?B?SGFja2Vk?=');
    // mailparser leaves unknown headers encoded; the encoded-word is the RFC 2047 form of 'Grüße'.
    expect(raw).toContain('\r\nX-Note: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n');
    expect(parsed.headers.get('x-note')).toBe('=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=');
  });
});
