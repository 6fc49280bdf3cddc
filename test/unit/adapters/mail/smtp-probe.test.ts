import { describe, expect, it } from 'vitest';
import { ehloKeywords, isTlsError } from '../../../../src/adapters/mail/smtp-probe.js';

describe('smtp probe helpers', () => {
  it('reads EHLO keywords from a multi-line reply', () => {
    expect(ehloKeywords('250-mx.example Hello\n250-PIPELINING\n250-SIZE 1000\n250 AUTH PLAIN LOGIN')).toEqual(['PIPELINING', 'SIZE 1000', 'AUTH PLAIN LOGIN']);
    expect(ehloKeywords('250 mx.example')).toEqual([]);
  });

  it('recognises TLS failures that nodemailer reports as socket errors', () => {
    expect(isTlsError(Object.assign(new Error('certificate has expired'), { code: 'ESOCKET', originalCode: 'CERT_HAS_EXPIRED' }))).toBe(true);
    expect(isTlsError(Object.assign(new Error('x'), { code: 'ESOCKET', originalCode: 'ERR_SSL_WRONG_VERSION_NUMBER' }))).toBe(true);
    expect(isTlsError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNECTION', originalCode: 'ECONNREFUSED' }))).toBe(false);
  });
});
