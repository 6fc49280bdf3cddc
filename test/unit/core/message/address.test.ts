import { describe, expect, it } from 'vitest';
import { makeMessageId, sanitizeHeaderValue, validateEmail } from '../../../../src/core/message/index.js';

describe('validateEmail', () => {
  it('accepts ordinary addresses, trimming spaces and lower-casing the domain', () => {
    expect(validateEmail('ann@example.com')).toEqual({ ok: true, address: 'ann@example.com' });
    expect(validateEmail('  O.Brien+news@Example.COM ')).toEqual({ ok: true, address: 'O.Brien+news@example.com' });
    expect(validateEmail('x@localhost')).toEqual({ ok: true, address: 'x@localhost' });
  });

  it('converts an internationalised domain to punycode', () => {
    expect(validateEmail('jo@bücher.example')).toEqual({ ok: true, address: 'jo@xn--bcher-kva.example' });
  });

  it.each([
    [undefined, 'missing email'],
    [null, 'missing email'],
    ['', 'missing email'],
    ['   ', 'missing email'],
    [42, 'invalid email: not a string (number)'],
    [['a@b.c'], 'invalid email: not a string (array)'],
    [{ $ne: null }, 'invalid email: not a string (object)'],
    ['a@b.com\r\nBcc: x@evil.test', 'invalid email: contains a line break'],
    ['a@b.com\nx', 'invalid email: contains a line break'],
  ])('refuses %j: %s', (value, reason) => {
    expect(validateEmail(value)).toEqual({ ok: false, reason });
  });

  it.each(['plainaddress', '@example.com', 'a@', 'a b@example.com', 'a@exa mple.com', 'a..b@example.com', '"q"@example.com',
    'a@-example.com', 'a@[127.0.0.1]', 'jürgen@example.com', 'a@b@c.com', '<a@b.com>', 'a\u0000@b.com'])(
    'refuses malformed %j with a reason naming it',
    (value) => {
      const r = validateEmail(value);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/^invalid email: /);
    },
  );

  it('refuses addresses that are too long', () => {
    const r = validateEmail(`${'a'.repeat(250)}@example.com`);
    expect(r).toEqual({ ok: false, reason: 'invalid email: longer than 254 characters' });
    expect(validateEmail(`${'a'.repeat(65)}@example.com`).ok).toBe(false);
  });
});

describe('sanitizeHeaderValue', () => {
  it('turns line breaks into spaces and drops control characters', () => {
    expect(sanitizeHeaderValue('Hi\r\nBcc: evil@x.test')).toBe('Hi Bcc: evil@x.test');
    expect(sanitizeHeaderValue('a\rb\nc\u2028d\u0085e')).toBe('a b c d e');
    expect(sanitizeHeaderValue('a\u0000b\u0007c\u001bd\u007fe')).toBe('abcde');
    expect(sanitizeHeaderValue('  lots   of    space  ')).toBe('lots of space');
  });

  it('caps the length without splitting a surrogate pair', () => {
    expect(sanitizeHeaderValue('x'.repeat(2000))).toHaveLength(998);
    const s = sanitizeHeaderValue(`abcd${'🎉'.repeat(5)}`, 7);
    expect(s).toBe('abcd🎉');
    expect(s.length).toBe(6);
  });
});

describe('makeMessageId', () => {
  it('is deterministic per key and uses the sender domain', () => {
    const a = makeMessageId('broadcast:spring:64f0', 'News <news@Example.com>');
    expect(a).toMatch(/^<[0-9a-f]{32}@example\.com>$/);
    expect(makeMessageId('broadcast:spring:64f0', 'other@example.com')).toBe(a);
    expect(makeMessageId('broadcast:spring:64f1', 'news@example.com')).not.toBe(a);
  });

  it('falls back to a local domain when the sender has none', () => {
    expect(makeMessageId('k', 'nobody')).toMatch(/@mailcron\.localhost>$/);
  });
});
