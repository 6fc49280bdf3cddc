// Proves the SMTP test helper itself with a real client (nodemailer) over TCP, so failures in
// other integration tests can be blamed on the code under test, not on the helper.
import { afterEach, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { parseHeaders, startTestSmtp, type TestSmtp } from '../helpers/smtp-server.js';

let smtp: TestSmtp | undefined;
afterEach(async () => {
  await smtp?.stop();
  smtp = undefined;
});

function transport(s: TestSmtp, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({ host: s.host, port: s.port, secure: false, ignoreTLS: true, ...extra });
}

function mail(to: string | string[], subject = 'Hello') {
  return { from: 'ops@example.test', to, subject, text: `Hi ${String(to)}`, html: `<p>Hi ${String(to)}</p>` };
}

async function errorOf(p: Promise<unknown>): Promise<{ responseCode?: number; code?: string; rejected?: string[] }> {
  try {
    await p;
  } catch (err) {
    return err as { responseCode?: number; code?: string };
  }
  throw new Error('expected the send to fail');
}

describe('test SMTP helper', () => {
  it('accepts messages and parses envelope and headers', async () => {
    smtp = await startTestSmtp();
    expect(smtp.url).toBe(`smtp://127.0.0.1:${smtp.port}`);
    const t = transport(smtp);
    const info = await t.sendMail({ ...mail('ada@example.test', 'Grüße, Ada'), headers: { 'X-Long': 'a'.repeat(70) + ' ' + 'b'.repeat(70) } });
    t.close();
    expect(smtp.messages).toHaveLength(1);
    const m = smtp.messages[0]!;
    expect(m.from).toBe('ops@example.test');
    expect(m.to).toEqual(['ada@example.test']);
    expect(m.subject).toBe('Grüße, Ada');
    expect(m.messageId).toBe(info.messageId);
    expect(m.headers['x-long']).toBe('a'.repeat(70) + ' ' + 'b'.repeat(70));
    expect(m.raw).toContain('<p>Hi ada@example.test</p>');
    expect(smtp.countByRecipient().get('ada@example.test')).toBe(1);
  });

  it('parses folded and repeated headers, first value wins', () => {
    const h = parseHeaders('Subject: one\r\n two\r\nReceived: a\r\nReceived: b\r\n\r\nbody: no');
    expect(h).toEqual({ subject: 'one two', received: 'a' });
  });

  it('answers RCPT TO with 550 for chosen recipients and records it', async () => {
    smtp = await startTestSmtp({ onRcpt: (a) => (a.startsWith('bad') ? { code: 550, message: 'No such user' } : null) });
    const t = transport(smtp);
    const err = await errorOf(t.sendMail(mail('bad@example.test')));
    expect(err.responseCode).toBe(550);
    await t.sendMail(mail('good@example.test'));
    t.close();
    expect(smtp.messages.map((m) => m.to[0])).toEqual(['good@example.test']);
    expect(smtp.rejected).toEqual([{ stage: 'rcpt', code: 550, to: ['bad@example.test'] }]);
  });

  it('answers DATA with 451 through onData, and random451 is reproducible with a seed', async () => {
    smtp = await startTestSmtp({ onData: (m) => (m.raw.includes('Subject: fail') ? { code: 451 } : null) });
    // One pooled connection: a new connection per message costs the server's 100 ms greeting delay.
    const t = transport(smtp, { pool: true, maxConnections: 1, maxMessages: Infinity });
    expect((await errorOf(t.sendMail(mail('x@example.test', 'fail')))).responseCode).toBe(451);
    await t.sendMail(mail('x@example.test', 'fine'));
    expect(smtp.rejected).toEqual([{ stage: 'data', code: 451, to: ['x@example.test'] }]);
    expect(smtp.messages).toHaveLength(1);

    const outcomes = async () => {
      smtp!.reset();
      smtp!.setBehaviour({ random451: 0.5, seed: 42 });
      const results: boolean[] = [];
      for (let i = 0; i < 20; i++) results.push(await t.sendMail(mail(`u${i}@example.test`)).then(() => true, () => false));
      return results;
    };
    const first = await outcomes();
    const second = await outcomes();
    t.close();
    expect(first).toEqual(second);
    expect(first).toContain(true);
    expect(first).toContain(false);
    expect(smtp.messages).toHaveLength(first.filter(Boolean).length);
  });

  it('drops the connection after DATA for matching messages', async () => {
    smtp = await startTestSmtp({ dropOnData: (m) => m.to.includes('drop@example.test') });
    const t = transport(smtp);
    const err = await errorOf(t.sendMail(mail('drop@example.test')));
    expect(err.code).toMatch(/ECONNECTION|ESOCKET|ETIMEDOUT/);
    await transport(smtp).sendMail(mail('keep@example.test'));
    t.close();
    expect(smtp.dropped).toEqual([{ from: 'ops@example.test', to: ['drop@example.test'], reason: 'dropOnData' }]);
    expect(smtp.messages.map((m) => m.to[0])).toEqual(['keep@example.test']);
  });

  it('stalls DATA replies past a client timeout', async () => {
    smtp = await startTestSmtp({ stallMs: 1500 });
    const t = transport(smtp, { socketTimeout: 300 });
    const err = await errorOf(t.sendMail(mail('slow@example.test')));
    expect(err.code).toMatch(/ETIMEDOUT|ESOCKET|ECONNECTION/);
    await expect.poll(() => smtp!.dropped.length, { timeout: 5000 }).toBe(1);
    expect(smtp.messages).toHaveLength(0);
  });

  it('greets connections beyond maxConnections with 421 and counts concurrency', async () => {
    smtp = await startTestSmtp({ maxConnections: 2 });
    const t = transport(smtp, { pool: true, maxConnections: 4, maxMessages: Infinity });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => t.sendMail(mail(`p${i}@example.test`))));
    t.close();
    const failures = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as { responseCode?: number }).responseCode);
    expect(smtp.maxConcurrentConnections()).toBe(2);
    expect(smtp.rejected.some((r) => r.stage === 'connect' && r.code === 421)).toBe(true);
    expect(failures.every((c) => c === 421)).toBe(true);
    expect(smtp.messages.length + failures.length).toBe(8);
    await expect.poll(() => smtp!.openConnections(), { timeout: 5000 }).toBe(0);
  });

  it('requires AUTH when configured: 535 for wrong credentials, accepts the right ones', async () => {
    smtp = await startTestSmtp({ auth: { user: 'mailer', pass: 's3cret' } });
    const anon = await errorOf(transport(smtp).sendMail(mail('a@example.test')));
    expect(anon.responseCode).toBe(530);
    const wrong = await errorOf(transport(smtp, { auth: { user: 'mailer', pass: 'nope' } }).sendMail(mail('a@example.test')));
    expect(wrong.responseCode).toBe(535);
    expect(wrong.code).toBe('EAUTH');
    await transport(smtp, { auth: { user: 'mailer', pass: 's3cret' } }).sendMail(mail('a@example.test'));
    expect(smtp.messages).toHaveLength(1);
  });

  it('restarts on the same port and serves again', async () => {
    smtp = await startTestSmtp();
    const port = smtp.port;
    await transport(smtp).sendMail(mail('before@example.test'));
    await smtp.stop();
    const down = await errorOf(transport(smtp, { connectionTimeout: 1000 }).sendMail(mail('down@example.test')));
    expect(down.code).toMatch(/ECONNECTION|ESOCKET/);
    await smtp.restart();
    expect(smtp.port).toBe(port);
    await transport(smtp).sendMail(mail('after@example.test'));
    expect(smtp.messages.map((m) => m.to[0])).toEqual(['before@example.test', 'after@example.test']);

    await smtp.stop();
    const again = await startTestSmtp({}, { port });
    try {
      await transport(again).sendMail(mail('new@example.test'));
      expect(again.port).toBe(port);
      expect(again.messages).toHaveLength(1);
    } finally {
      await again.stop();
    }
  });

  it('takes a thousand messages over a pool of 15 connections', async () => {
    smtp = await startTestSmtp();
    const t = transport(smtp, { pool: true, maxConnections: 15, maxMessages: Infinity });
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) sends.push(t.sendMail(mail(`bulk${i}@example.test`)));
    await Promise.all(sends);
    t.close();
    expect(smtp.messages).toHaveLength(1000);
    expect(smtp.countByRecipient().size).toBe(1000);
    expect(smtp.maxConcurrentConnections()).toBeLessThanOrEqual(15);
  });
});
