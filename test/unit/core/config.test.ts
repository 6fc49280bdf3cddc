import { describe, expect, it } from 'vitest';
import { describeConfig, parseTransport, resolveConfig } from '../../../src/core/config.js';
import { ConfigError } from '../../../src/core/errors.js';
import { redactSecrets, redactUri } from '../../../src/core/redact.js';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveConfig', () => {
  it('applies the documented defaults', () => {
    const c = resolveConfig({});
    expect(c).toMatchObject({
      mongodbUri: 'mongodb://127.0.0.1:27017/mailcron',
      dbName: 'mailcron',
      usersCollection: 'users',
      mailFrom: 'mailcron <mailcron@localhost>',
      concurrency: 15,
      transport: { kind: 'smtp', host: '127.0.0.1', port: 25, secure: false },
    });
  });

  it("takes the database from the URI's path unless MAILCRON_DB is set", () => {
    expect(resolveConfig({ MONGODB_URI: 'mongodb://h:27017/app?authSource=admin' }).dbName).toBe('app');
    expect(resolveConfig({ MONGODB_URI: 'mongodb://h:27017/app', MAILCRON_DB: 'other' }).dbName).toBe('other');
    expect(resolveConfig({ MONGODB_URI: 'mongodb://h:27017/' }).dbName).toBe('mailcron');
  });

  it('lists every problem at once, each named by flag and variable', () => {
    const issues = issuesOf(() =>
      resolveConfig({ MONGODB_URI: 'postgres://x', MAILCRON_CONCURRENCY: '0', MAIL_FROM: 'nobody', SMTP_URL: 'http://x' }),
    );
    expect(issues).toHaveLength(4);
    expect(issues.some((i) => i.startsWith('--mongodb-uri/MONGODB_URI: must start with mongodb://'))).toBe(true);
    expect(issues).toContain('--concurrency/MAILCRON_CONCURRENCY: must be at least 1');
    expect(issues.some((i) => i.startsWith('--from/MAIL_FROM: must be an address'))).toBe(true);
    expect(issues.some((i) => i.startsWith('--smtp-url/SMTP_URL: scheme http: is not supported'))).toBe(true);
  });

  it('rejects a non-integer concurrency and a newline in MAIL_FROM', () => {
    expect(issuesOf(() => resolveConfig({ MAILCRON_CONCURRENCY: '2.5' }))).toEqual([
      '--concurrency/MAILCRON_CONCURRENCY: must be a whole number',
    ]);
    expect(issuesOf(() => resolveConfig({ MAIL_FROM: 'a@b.c\r\nBcc: x@y.z' }))[0]).toMatch(/^--from\/MAIL_FROM/);
  });

  it('keeps passwords as secrets and never shows them', () => {
    const c = resolveConfig({
      MONGODB_URI: 'mongodb://app:m0ngo-pass@db:27017/app',
      SMTP_URL: 'smtp://mailer:s%40cret@smtp.example.com:587',
    });
    expect(c.secrets.sort()).toEqual(['m0ngo-pass', 's@cret']);
    expect(c.transport).toMatchObject({ kind: 'smtp', user: 'mailer', pass: 's@cret', port: 587 });
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain('m0ngo-pass');
    expect(shown).not.toContain('cret');
    expect(shown).toContain('mongodb://app:***@db:27017/app');
  });
});

describe('parseTransport', () => {
  it('knows smtps, outbox and json', () => {
    expect(parseTransport('smtps://u:p@h')).toMatchObject({ kind: 'smtp', secure: true, port: 465 });
    expect(parseTransport('outbox:./out')).toEqual({ kind: 'outbox', dir: './out' });
    expect(parseTransport('json')).toEqual({ kind: 'json' });
    expect(parseTransport('outbox:')).toMatch(/needs a directory/);
    expect(parseTransport('not a url')).toMatch(/must be smtp:/);
  });
});

describe('redaction', () => {
  it('hides the password of any URI and leaves other text alone', () => {
    expect(redactUri('smtp://user:pw@host:25')).toBe('smtp://user:***@host:25');
    expect(redactUri('mongodb+srv://u:p%40ss@c.example.net/db')).toBe('mongodb+srv://u:***@c.example.net/db');
    expect(redactUri('smtp://host:25')).toBe('smtp://host:25');
    expect(redactSecrets('auth failed for pw123 at host', ['pw123'])).toBe('auth failed for *** at host');
  });
});
