import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../../src/core/errors.js';
import { compileMessage, makeMessageId, type RenderResult } from '../../../../src/core/message/index.js';
import type { OutgoingMessage } from '../../../../src/core/ports.js';

const FROM = 'News <news@example.com>';
const MID = '<abc@example.com>';

function ok(r: RenderResult): OutgoingMessage {
  if (!r.ok) throw new Error(`render failed: ${r.reason}`);
  return r.message;
}

describe('compileMessage: rendering', () => {
  it('fills user fields, nested paths and _id; missing fields render empty', () => {
    const c = compileMessage(
      { subject: 'Hi {{name}} from {{profile.city}}', text: 'id={{_id}} email={{email}} missing=[{{nope}}] [{{profile.nope.deeper}}]' },
      { from: FROM },
    );
    const m = ok(c.render({ _id: 'u1', email: 'ann@example.com', name: 'Ann', profile: { city: 'Oslo' } }, MID));
    expect(m).toMatchObject({ from: FROM, to: 'ann@example.com', subject: 'Hi Ann from Oslo', messageId: MID });
    expect(m.text).toBe('id=u1 email=ann@example.com missing=[] []');
    expect(m.html).toBeUndefined();
  });

  it('renders an ObjectId-like _id through its toString', () => {
    const id = { toString: () => '64f0c0ffee' };
    const c = compileMessage({ subject: 's', text: '{{_id}}' }, { from: FROM });
    expect(ok(c.render({ _id: id, email: 'a@example.com' }, MID)).text).toBe('64f0c0ffee');
  });

  it('escapes HTML in the html part but not in text or subject', () => {
    const c = compileMessage({ subject: '{{name}}', text: 'T {{name}}', html: '<p>{{name}}</p>' }, { from: FROM });
    const m = ok(c.render({ _id: 1, email: 'a@example.com', name: '<script>alert("x")</script> & co' }, MID));
    expect(m.html).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</p>');
    expect(m.text).toBe('T <script>alert("x")</script> & co');
    expect(m.subject).toBe('<script>alert("x")</script> & co');
  });

  it('keeps CR/LF from user data out of the subject and headers', () => {
    const c = compileMessage({ subject: 'Hello {{name}}', text: 'x' }, { from: FROM, unsubscribeUrl: 'https://x.test/u/{{name}}' });
    const m = ok(c.render({ _id: 1, email: 'a@example.com', name: 'Eve\r\nBcc: victim@example.com\u0000' }, MID));
    expect(m.subject).toBe('Hello Eve Bcc: victim@example.com');
    expect(m.headers!['List-Unsubscribe']).toBe('<https://x.test/u/Eve%0D%0ABcc%3A%20victim%40example.com%00>');
    for (const v of [m.subject, ...Object.values(m.headers!)]) expect(v).not.toMatch(/[\r\n]/);
  });

  it('caps a long subject', () => {
    const c = compileMessage({ subject: '{{name}}', text: 'x' }, { from: FROM });
    expect(ok(c.render({ _id: 1, email: 'a@example.com', name: 'y'.repeat(5000) }, MID)).subject.length).toBe(250);
  });

  it('never reads the prototype chain', () => {
    const c = compileMessage({ subject: 's', text: '[{{constructor}}][{{__proto__}}][{{name.constructor.name}}][{{toString}}]' }, { from: FROM });
    expect(ok(c.render({ _id: 1, email: 'a@example.com', name: 'n' }, MID)).text).toBe('[][][][]');
  });

  it('supports built-in block helpers and {{@unsubscribeUrl}}', () => {
    const c = compileMessage(
      { subject: 's', text: '{{#if vip}}VIP {{/if}}{{#each tags}}[{{this}}]{{/each}} {{@unsubscribeUrl}}' },
      { from: FROM, unsubscribeUrl: 'https://x.test/u?id={{_id}}' },
    );
    expect(ok(c.render({ _id: 'a&b', email: 'a@example.com', vip: true, tags: ['x', 'y'] }, MID)).text).toBe(
      'VIP [x][y] https://x.test/u?id=a%26b',
    );
  });

  it('returns a reason instead of throwing for bad recipients', () => {
    const c = compileMessage({ subject: 's', text: 't' }, { from: FROM });
    expect(c.render({ _id: 1 }, MID)).toEqual({ ok: false, reason: 'missing email' });
    expect(c.render({ _id: 1, email: 7 }, MID)).toEqual({ ok: false, reason: 'invalid email: not a string (number)' });
    expect(c.render({ _id: 1, email: 'a@b.com\nBcc: x@y.z' }, MID)).toEqual({ ok: false, reason: 'invalid email: contains a line break' });
    expect(c.render({ _id: 1, email: 'nope' }, MID).ok).toBe(false);
  });

  it('returns a reason when a value cannot be rendered', () => {
    const c = compileMessage({ subject: '{{name}}', text: 't' }, { from: FROM });
    const hostile = { toString() { throw new Error('boom'); } };
    expect(c.render({ _id: 1, email: 'a@example.com', name: hostile }, MID)).toEqual({ ok: false, reason: 'render failed: boom' });
  });
});

describe('compileMessage: List-Unsubscribe', () => {
  it('adds URL and mailto, URL-encoding each value, plus One-Click for a URL', () => {
    const c = compileMessage(
      { subject: 's', text: 't' },
      { from: FROM, unsubscribeUrl: 'https://x.test/unsub?u={{_id}}&e={{email}}', unsubscribeMailto: 'unsub@example.com' },
    );
    const m = ok(c.render({ _id: 'a b/c?d', email: 'ann+x@example.com' }, MID));
    expect(m.headers).toEqual({
      'List-Unsubscribe': '<https://x.test/unsub?u=a%20b%2Fc%3Fd&e=ann%2Bx%40example.com>, <mailto:unsub@example.com>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
  });

  it('with only a mailto, adds no One-Click header', () => {
    const c = compileMessage({ subject: 's', text: 't' }, { from: FROM, unsubscribeMailto: 'mailto:unsub@example.com?subject=unsub-{{_id}}' });
    expect(ok(c.render({ _id: 'x y', email: 'a@example.com' }, MID)).headers).toEqual({
      'List-Unsubscribe': '<mailto:unsub@example.com?subject=unsub-x%20y>',
    });
  });

  it('adds nothing when neither is configured', () => {
    const c = compileMessage({ subject: 's', text: 't' }, { from: FROM });
    expect(ok(c.render({ _id: 1, email: 'a@example.com' }, MID)).headers).toEqual({});
  });

  it.each([
    ['notaurl/{{_id}}', /not an absolute URL/],
    ['ftp://x.test/{{_id}}', /must start with https/],
    ['https://x.test/{{#if a}}x{{/if}}', /only \{\{field\}\} placeholders/],
    ['https://x.test/{{lookup a b}}', /only \{\{field\}\} placeholders/],
    ['https://x.test/a b', /must not contain spaces/],
  ])('refuses the URL template %j', (url, message) => {
    expect(() => compileMessage({ subject: 's', text: 't' }, { from: FROM, unsubscribeUrl: url })).toThrow(message);
  });

  it('refuses a mailto without an address', () => {
    expect(() => compileMessage({ subject: 's', text: 't' }, { from: FROM, unsubscribeMailto: 'mailto:?subject=x' })).toThrow(UsageError);
  });
});

describe('compileMessage: text derived from HTML', () => {
  const html = '<html><head><title>t</title></head><body><h1>Hello {{name}}</h1><p>Your city: {{city}} &amp; more.</p>' +
    '<p><a href="https://x.test/p/{{_id}}">Your profile</a></p></body></html>';
  const user = { _id: 'u1', email: 'a@example.com', name: 'Bob <b>', city: 'Zürich' };

  it('derives a readable text part when only HTML is given', () => {
    const m = ok(compileMessage({ subject: 's', html }, { from: FROM }).render(user, MID));
    expect(m.text).toContain('Hello Bob <b>');
    expect(m.text).toContain('Your city: Zürich & more.');
    expect(m.text).toContain('Your profile [https://x.test/p/u1]');
    expect(m.text).not.toContain('<h1>');
  });

  it('gives the same text as converting each rendered message', async () => {
    const { htmlToText } = await import('../../../../src/core/message/html-text.js');
    const c = compileMessage({ subject: 's', html }, { from: FROM });
    for (const u of [user, { ...user, name: 'Ann', city: 'Oslo' }, { ...user, name: '{{evil}}', city: '\\{{x}}' }]) {
      const m = ok(c.render(u, MID));
      expect(m.text).toBe(htmlToText(m.html!));
    }
  });

  it('handles static HTML and HTML with blocks', async () => {
    const { deriveText } = await import('../../../../src/core/message/html-text.js');
    expect(deriveText('<p>Static &amp; fixed</p>')).toEqual({ kind: 'static', text: 'Static & fixed' });
    expect(deriveText('<p>Hi {{name}}</p>').kind).toBe('template');
    expect(deriveText('<ul>{{#each items}}<li>{{this}}</li>{{/each}}</ul>').kind).toBe('per-message');
    expect(deriveText('<p title="{{name}}">x</p>').kind).toBe('per-message');
    const c = compileMessage({ subject: 's', html: '<ul>{{#each items}}<li>{{this}}</li>{{/each}}</ul>' }, { from: FROM });
    expect(ok(c.render({ _id: 1, email: 'a@example.com', items: ['one', 'two'] }, MID)).text).toBe(' * one\n * two');
  });

  it('keeps an explicit text part as given', () => {
    const m = ok(compileMessage({ subject: 's', text: 'plain {{name}}', html }, { from: FROM }).render(user, MID));
    expect(m.text).toBe('plain Bob <b>');
  });
});

describe('compileMessage: hash and options', () => {
  const spec = { subject: 'Hi {{name}}', text: 't', html: '<p>h</p>' };
  it('is stable for the same inputs and changes with any of them', () => {
    const base = compileMessage(spec, { from: FROM, unsubscribeUrl: 'https://x.test/{{_id}}', headers: { 'X-A': '1', 'X-B': '2' } }).hash;
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(compileMessage(spec, { from: FROM, unsubscribeUrl: 'https://x.test/{{_id}}', headers: { 'X-B': '2', 'X-A': '1' } }).hash).toBe(base);
    const variants = [
      compileMessage({ ...spec, subject: 'Hi {{name}}!' }, { from: FROM, unsubscribeUrl: 'https://x.test/{{_id}}', headers: { 'X-A': '1', 'X-B': '2' } }),
      compileMessage({ ...spec, text: 'u' }, { from: FROM, unsubscribeUrl: 'https://x.test/{{_id}}', headers: { 'X-A': '1', 'X-B': '2' } }),
      compileMessage(spec, { from: 'other@example.com', unsubscribeUrl: 'https://x.test/{{_id}}', headers: { 'X-A': '1', 'X-B': '2' } }),
      compileMessage(spec, { from: FROM, headers: { 'X-A': '1', 'X-B': '2' } }),
      compileMessage(spec, { from: FROM, unsubscribeUrl: 'https://x.test/{{_id}}', headers: { 'X-A': '1' } }),
    ];
    for (const v of variants) expect(v.hash).not.toBe(base);
  });

  it('adds static headers, sanitised, and refuses structural ones', () => {
    const c = compileMessage({ subject: 's', text: 't' }, { from: FROM, headers: { 'X-Campaign': 'spring\r\nBcc: x@y.z', 'Reply-To': 'help@example.com' } });
    expect(ok(c.render({ _id: 1, email: 'a@example.com' }, makeMessageId('k', FROM))).headers).toEqual({
      'X-Campaign': 'spring Bcc: x@y.z',
      'Reply-To': 'help@example.com',
    });
    expect(() => compileMessage({ subject: 's', text: 't' }, { from: FROM, headers: { Subject: 'x' } })).toThrow(/cannot be overridden/);
    expect(() => compileMessage({ subject: 's', text: 't' }, { from: FROM, headers: { 'Bad Name': 'x' } })).toThrow(/not a valid header name/);
  });

  it('refuses a bad sender and a spec without a body', () => {
    expect(() => compileMessage({ subject: 's', text: 't' }, { from: 'nobody' })).toThrow(UsageError);
    expect(() => compileMessage({ subject: 's' }, { from: FROM })).toThrow(/neither a text nor an html part/);
  });

  it('reports template errors at compile time, not per user', () => {
    expect(() => compileMessage({ subject: 's', text: '{{upper name}}' }, { from: FROM })).toThrow(/unknown helper upper/);
    expect(() => compileMessage({ subject: 's', html: '{{#if}}' }, { from: FROM })).toThrow(UsageError);
  });
});
