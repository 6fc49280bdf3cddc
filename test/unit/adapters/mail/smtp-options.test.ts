import { describe, expect, it } from 'vitest';
import { smtpAuth, smtpConnectionOptions } from '../../../../src/adapters/mail/index.js';
import { scrubError } from '../../../../src/adapters/mail/smtp-mailer.js';
import { parseTransport } from '../../../../src/core/config.js';
import { classifySmtpError, UsageError } from '../../../../src/core/errors.js';

function smtp(url: string) {
  const t = parseTransport(url);
  if (typeof t === 'string' || t.kind !== 'smtp') throw new Error(`not smtp: ${String(t)}`);
  return t;
}

describe('smtpConnectionOptions', () => {
  it('uses the URL host, port and TLS mode with the default timeouts', () => {
    expect(smtpConnectionOptions(smtp('smtp://relay.example.com:2525'))).toMatchObject({
      host: 'relay.example.com',
      port: 2525,
      secure: false,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 60_000,
    });
    expect(smtpConnectionOptions(smtp('smtps://relay.example.com'))).toMatchObject({ port: 465, secure: true });
  });

  it('reads TLS options from the query and lets callers change timeouts', () => {
    const o = smtpConnectionOptions(smtp('smtp://h:587?requireTLS=true&rejectUnauthorized=false&name=mx.example.com'), { socketMs: 5 });
    expect(o).toMatchObject({ requireTLS: true, name: 'mx.example.com', socketTimeout: 5, tls: { rejectUnauthorized: false } });
    expect(smtpConnectionOptions(smtp('smtp://h?ignoreTLS=1')).ignoreTLS).toBe(true);
    expect(smtpConnectionOptions(smtp('smtp://h?tls.rejectUnauthorized=false')).tls).toEqual({ rejectUnauthorized: false });
  });

  it('refuses unknown or contradictory options', () => {
    expect(() => smtpConnectionOptions(smtp('smtp://h?pool=false'))).toThrow(UsageError);
    expect(() => smtpConnectionOptions(smtp('smtp://h?requireTLS=maybe'))).toThrow(/must be true or false/);
    expect(() => smtpConnectionOptions(smtp('smtp://h?requireTLS=true&ignoreTLS=true'))).toThrow(/contradict/);
  });

  it('takes credentials from the URL', () => {
    expect(smtpAuth(smtp('smtp://me%40x.com:p%3Ass@h'))).toEqual({ user: 'me@x.com', pass: 'p:ss' });
    expect(smtpAuth(smtp('smtp://h'))).toBeUndefined();
  });
});

describe('scrubError', () => {
  it('removes the password from every text field but keeps codes for classification', () => {
    const err = Object.assign(new Error('Invalid login: 535 bad password s3cret!'), {
      code: 'EAUTH',
      responseCode: 535,
      response: '535 nope s3cret!',
    });
    const out = scrubError(err, ['s3cret!']) as typeof err;
    expect(out).toBe(err);
    expect(out.message).toBe('Invalid login: 535 bad password ***');
    expect(out.response).toBe('535 nope ***');
    expect(out.stack).not.toContain('s3cret!');
    expect(classifySmtpError(out)).toBe('fatal');
  });
});
