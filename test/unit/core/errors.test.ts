import { describe, expect, it } from 'vitest';
import { classifySmtpError, describeSmtpError, ConfigError, FatalError, LockHeldError, UsageError, AbortedError } from '../../../src/core/errors.js';
import { exitCodeFor, formatError } from '../../../src/cli/exit-codes.js';

describe('classifySmtpError', () => {
  it.each([
    [{ responseCode: 421, code: 'EENVELOPE' }, 'transient'],
    [{ responseCode: 450 }, 'transient'],
    [{ responseCode: 451 }, 'transient'],
    [{ responseCode: 452 }, 'transient'],
    [{ responseCode: 454 }, 'transient'],
    [{ code: 'ECONNECTION' }, 'transient'],
    [{ code: 'ETIMEDOUT' }, 'transient'],
    [{ code: 'ESOCKET' }, 'transient'],
    [{ responseCode: 550, code: 'EENVELOPE' }, 'permanent'],
    [{ responseCode: 554, code: 'EMESSAGE' }, 'permanent'],
    [{ responseCode: 535, code: 'EAUTH' }, 'fatal'],
    [{ responseCode: 530 }, 'fatal'],
    [{ code: 'EAUTH' }, 'fatal'],
    [{ code: 'ETLS' }, 'fatal'],
    [{ message: 'self-signed certificate in certificate chain' }, 'fatal'],
    [new Error('something odd'), 'transient'],
  ] as const)('%j is %s', (err, kind) => {
    expect(classifySmtpError(err)).toBe(kind);
  });

  it('describes a failure by code, reply code and reply text', () => {
    expect(describeSmtpError({ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 no such user' })).toEqual({
      code: 'EENVELOPE',
      responseCode: 550,
      message: '550 5.1.1 no such user',
    });
  });
});

describe('exit codes', () => {
  it('maps each expected error to its documented code', () => {
    expect(exitCodeFor(new ConfigError(['x: y']))).toBe(2);
    expect(exitCodeFor(new UsageError('bad'))).toBe(2);
    expect(exitCodeFor(new FatalError('smtp auth'))).toBe(3);
    expect(exitCodeFor(new AbortedError('max errors'))).toBe(3);
    expect(exitCodeFor(new LockHeldError('schedule', 'h:1:a', new Date(0), new Date(60_000)))).toBe(75);
    expect(exitCodeFor(new TypeError('bug'))).toBe(1);
  });

  it('prints one line for expected failures and the stack for bugs, without secrets', () => {
    const line = formatError(new FatalError('AUTH failed for pw123'), ['pw123']);
    expect(line).toBe('mailcron: AUTH failed for ***');
    expect(line.split('\n')).toHaveLength(1);
    const bug = formatError(new TypeError('boom'));
    expect(bug).toMatch(/internal error/);
    expect(bug).toMatch(/at /);
  });
});
