// The SMTP mailer against a real SMTP server over TCP: pooling, error codes, recovery, AUTH.
import { simpleParser } from 'mailparser';
import { Socket } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMailer } from '../../../src/adapters/mail/index.js';
import { parseTransport, type TransportConfig } from '../../../src/core/config.js';
import { classifySmtpError } from '../../../src/core/errors.js';
import { compileMessage, makeMessageId } from '../../../src/core/message/index.js';
import type { Mailer, OutgoingMessage } from '../../../src/core/ports.js';
import { startTestSmtp, type SmtpBehaviour, type TestSmtp } from '../../helpers/smtp-server.js';

const FROM = 'News <news@example.com>';
let smtp: TestSmtp | undefined;
let mailer: Mailer | undefined;

afterEach(async () => {
  await mailer?.close();
  mailer = undefined;
  await smtp?.stop();
  smtp = undefined;
});

function transport(url: string): TransportConfig {
  const t = parseTransport(url);
  if (typeof t === 'string') throw new Error(t);
  return t;
}

async function start(b: SmtpBehaviour = {}, url?: (s: TestSmtp) => string, concurrency = 15) {
  smtp = await startTestSmtp(b);
  mailer = createMailer(transport(url ? url(smtp) : smtp.url), { concurrency, from: FROM, timeouts: { socketMs: 5_000 } });
  return { smtp, mailer };
}

function message(to: string, n = 0): OutgoingMessage {
  return {
    from: FROM,
    to,
    subject: `Grüße ${n}`,
    text: `Hello ${n}`,
    html: `<p>Hello ${n}</p>`,
    headers: {},
    messageId: makeMessageId(`it:${to}:${n}`, FROM),
  };
}

async function failure(p: Promise<unknown>): Promise<Error & { responseCode?: number; code?: string; response?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { responseCode?: number; code?: string };
  }
  throw new Error('expected the send to fail');
}

describe('SMTP mailer', () => {
  it('sends 500 rendered messages over at most 15 pooled connections, each once', async () => {
    const { smtp, mailer } = await start();
    const compiled = compileMessage(
      { subject: 'Digest for {{name}} ✓', text: 'Hi {{name}}', html: '<p>Hi {{name}}</p>' },
      { from: FROM, unsubscribeUrl: 'https://x.test/u?id={{_id}}' },
    );
    const users = Array.from({ length: 500 }, (_, i) => ({ _id: `u${i}`, email: `user${i}@example.com`, name: `User ${i}` }));
    let next = 0;
    const receipts: string[] = [];
    // 15 workers: what the pipeline's queue does, bounded.
    await Promise.all(
      Array.from({ length: 15 }, async () => {
        while (next < users.length) {
          const u = users[next++]!;
          const r = compiled.render(u, makeMessageId(`bc:${u._id}`, FROM));
          if (!r.ok) throw new Error(r.reason);
          const receipt = await mailer.send(r.message);
          receipts.push(receipt.response ?? '');
        }
      }),
    );
    expect(smtp.messages).toHaveLength(500);
    const counts = smtp.countByRecipient();
    expect(counts.size).toBe(500);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(smtp.maxConcurrentConnections()).toBeLessThanOrEqual(15);
    expect(smtp.maxConcurrentConnections()).toBeGreaterThan(1);
    expect(receipts.every((r) => /^250/.test(r))).toBe(true);
    const m = smtp.messages.find((x) => x.to[0] === 'user7@example.com')!;
    expect(m.from).toBe('news@example.com');
    expect(m.subject).toBe('Digest for User 7 ✓');
    expect(m.messageId).toBe(makeMessageId('bc:u7', FROM));
    expect(m.headers['list-unsubscribe']).toBe('<https://x.test/u?id=u7>');
    const parsed = await simpleParser(m.raw);
    expect(parsed.html).toBe('<p>Hi User 7</p>');
  });

  it('writes each message in two socket writes (envelope, then body and "."), lines starting with a dot intact', async () => {
    const { smtp, mailer } = await start({}, undefined, 1);
    await mailer.send(message('warm@example.com')); // connect, EHLO
    // Every socket write reaches the kernel through _write (one chunk) or _writev (several).
    const single = vi.spyOn(Socket.prototype, '_write');
    const many = vi.spyOn(Socket.prototype, '_writev');
    try {
      for (let i = 0; i < 10; i++) await mailer.send({ ...message(`u${i}@example.com`, i), text: `.dot line ${i}\n..two dots\nend` });
      // The test server lives in this process too: count the client's side only.
      const client = (ctx: unknown) => (ctx as Socket).remotePort === smtp.port;
      expect(single.mock.contexts.filter(client).length + many.mock.contexts.filter(client).length).toBe(20);
    } finally {
      single.mockRestore();
      many.mockRestore();
    }
    const parsed = await simpleParser(smtp.messages.find((m) => m.to[0] === 'u3@example.com')!.raw);
    expect(parsed.text?.trim()).toBe('.dot line 3\n..two dots\nend');
  });

  it('pipelines: two sends share a connection, each body going out with the next envelope', async () => {
    const { smtp, mailer } = await start({}, undefined, 2);
    await mailer.send(message('warm@example.com')); // connect, EHLO
    const single = vi.spyOn(Socket.prototype, '_write');
    const many = vi.spyOn(Socket.prototype, '_writev');
    const viaNodemailer = vi.spyOn(SMTPConnection.prototype, 'send');
    try {
      let next = 0;
      await Promise.all([0, 1].map(async () => {
        while (next < 20) {
          const i = next++;
          await mailer.send({ ...message(`p${i}@example.com`, i), text: `.dot line ${i}` });
        }
      }));
      const client = (ctx: unknown) => (ctx as Socket).remotePort === smtp.port;
      // One envelope alone, then each body with the envelope after it (a send waiting behind a
      // body that is still out adds a write now and then): far fewer than 2 per message.
      expect(single.mock.contexts.filter(client).length + many.mock.contexts.filter(client).length).toBeLessThanOrEqual(26);
      expect(viaNodemailer).not.toHaveBeenCalled();
    } finally {
      single.mockRestore();
      many.mockRestore();
      viaNodemailer.mockRestore();
    }
    expect(smtp.maxConcurrentConnections()).toBe(1);
    expect(smtp.countByRecipient().size).toBe(21);
    expect([...smtp.countByRecipient().values()].every((c) => c === 1)).toBe(true);
    const parsed = await simpleParser(smtp.messages.find((m) => m.to[0] === 'p7@example.com')!.raw);
    expect(parsed.text?.trim()).toBe('.dot line 7');
  });

  for (const tls of ['starttls', 'implicit'] as const) {
    it(`pipelines over ${tls === 'starttls' ? 'STARTTLS' : 'implicit TLS (smtps)'}, with AUTH, on the encrypted socket`, async () => {
      const { smtp, mailer } = await start({ tls, auth: { user: 'mailer', pass: 's3cret' } }, (s) => s.url.replace('//', '//mailer:s3cret@'), 4);
      const viaNodemailer = vi.spyOn(SMTPConnection.prototype, 'send');
      try {
        await Promise.all(Array.from({ length: 12 }, (_, i) => mailer.send(message(`t${i}@example.com`, i))));
        expect(viaNodemailer).not.toHaveBeenCalled();
      } finally {
        viaNodemailer.mockRestore();
      }
      expect(smtp.countByRecipient().size).toBe(12);
      expect(smtp.messages.every((m) => m.secure)).toBe(true);
      expect(smtp.maxConcurrentConnections()).toBe(2);
    });
  }

  it('sends through nodemailer, one send per connection, where the server does not pipeline', async () => {
    const { smtp, mailer } = await start({ hidePipelining: true, onRcpt: (a) => (a.startsWith('gone') ? { code: 550, message: 'No such user' } : null) }, undefined, 4);
    const viaNodemailer = vi.spyOn(SMTPConnection.prototype, 'send');
    try {
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => mailer.send(message(i === 5 ? 'gone@example.com' : `n${i}@example.com`))));
      expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.responseCode)).toEqual([550]);
      expect(viaNodemailer).toHaveBeenCalledTimes(12);
    } finally {
      viaNodemailer.mockRestore();
    }
    expect(smtp.messages).toHaveLength(11);
    expect(smtp.maxConcurrentConnections()).toBe(4);
  });

  it('hands a send queued behind a 421 to a new connection, where it is delivered once', async () => {
    const { smtp, mailer } = await start({ onRcpt: (a) => (a.startsWith('busy') ? { code: 421, message: 'Too busy' } : null) }, undefined, 2);
    const [busy, ok] = await Promise.allSettled([mailer.send(message('busy@example.com')), mailer.send(message('queued@example.com'))]);
    expect(busy.status).toBe('rejected');
    expect((busy as PromiseRejectedResult).reason.responseCode).toBe(421);
    expect(ok.status).toBe('fulfilled');
    expect(smtp.messages.map((m) => m.to[0])).toEqual(['queued@example.com']);
    expect(new Set(smtp.messages.map((m) => m.sessionId)).size).toBe(1);
  });

  it('surfaces 550, 451 and 421 with their responseCode, and keeps sending afterwards', async () => {
    const { smtp, mailer } = await start(
      {
        onRcpt: (addr) =>
          addr.startsWith('gone') ? { code: 550, message: 'No such user' } : addr.startsWith('later') ? { code: 451, message: 'Try later' } : addr.startsWith('busy') ? { code: 421, message: 'Too busy' } : null,
      },
      undefined,
      2,
    );
    const e550 = await failure(mailer.send(message('gone@example.com')));
    expect(e550.responseCode).toBe(550);
    expect(classifySmtpError(e550)).toBe('permanent');
    const e451 = await failure(mailer.send(message('later@example.com')));
    expect(e451.responseCode).toBe(451);
    expect(classifySmtpError(e451)).toBe('transient');
    const e421 = await failure(mailer.send(message('busy@example.com')));
    expect(e421.responseCode).toBe(421);
    expect(classifySmtpError(e421)).toBe('transient');
    // The 421 closed that connection; the pool replaces it.
    for (let i = 0; i < 5; i++) await mailer.send(message(`ok${i}@example.com`));
    expect(smtp.messages.map((m) => m.to[0])).toEqual(['ok0@example.com', 'ok1@example.com', 'ok2@example.com', 'ok3@example.com', 'ok4@example.com']);
    expect(smtp.rejected.map((r) => r.code)).toEqual([550, 451, 421]);
  });

  it('recovers from 421s in the middle of a concurrent run', async () => {
    // Every third RCPT on a connection is answered 421 and the server closes that connection.
    const { smtp, mailer } = await start({ onRcpt: (_a, s) => (s.count % 3 === 0 ? { code: 421, message: 'Slow down' } : null) }, undefined, 5);
    const pending = new Set(Array.from({ length: 60 }, (_, i) => `r${i}@example.com`));
    for (let round = 0; round < 20 && pending.size; round++) {
      const batch = [...pending];
      const results = await Promise.allSettled(batch.map((to) => mailer.send(message(to))));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') pending.delete(batch[i]!);
        else expect((r.reason as { responseCode?: number }).responseCode).toBe(421);
      });
    }
    expect(pending.size).toBe(0);
    expect(smtp.countByRecipient().size).toBe(60);
    expect(smtp.rejected.length).toBeGreaterThan(0);
  });

  it('surfaces a 554 after DATA as permanent and reuses the connection', async () => {
    const { smtp, mailer } = await start({ onData: (m) => (m.to[0] === 'spam@example.com' ? { code: 554, message: 'Rejected as spam' } : null) }, undefined, 1);
    const err = await failure(mailer.send(message('spam@example.com')));
    expect(err.responseCode).toBe(554);
    expect(classifySmtpError(err)).toBe('permanent');
    await mailer.send(message('fine@example.com'));
    expect(smtp.messages.map((m) => m.to[0])).toEqual(['fine@example.com']);
    expect(new Set(smtp.messages.map((m) => m.sessionId)).size).toBe(1);
  });

  it('treats a dropped connection as transient and reconnects', async () => {
    const { smtp, mailer } = await start({ dropOnData: (m) => m.to[0] === 'drop@example.com' }, undefined, 1);
    const err = await failure(mailer.send(message('drop@example.com')));
    expect(classifySmtpError(err)).toBe('transient');
    await mailer.send(message('after@example.com'));
    expect(smtp.messages.map((m) => m.to[0])).toEqual(['after@example.com']);
  });

  it('refuses connections over the server limit with a transient 421', async () => {
    // 6 concurrent sends take 3 pipelined connections; the server allows 2.
    const { smtp, mailer } = await start({ maxConnections: 2 }, undefined, 6);
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => mailer.send(message(`c${i}@example.com`))));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) {
      expect(f.reason.responseCode).toBe(421);
      expect(classifySmtpError(f.reason)).toBe('transient');
    }
    expect(smtp.messages.length).toBe(6 - failed.length);
  });

  it('fails queued sends instead of hanging when no connection can be opened', async () => {
    const { smtp, mailer } = await start({ maxConnections: 0 }, undefined, 2);
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => mailer.send(message(`q${i}@example.com`))));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { responseCode?: number }).responseCode === 421)).toBe(true);
    smtp.setBehaviour({});
    await mailer.send(message('back@example.com'));
    expect(smtp.messages.map((m) => m.to[0])).toEqual(['back@example.com']);
  });

  it('logs in with the credentials from the URL', async () => {
    const { smtp, mailer } = await start({ auth: { user: 'mailer', pass: 'p@ss:w0rd' } }, (s) => `smtp://mailer:${encodeURIComponent('p@ss:w0rd')}@127.0.0.1:${s.port}`);
    await mailer.verify!();
    await mailer.send(message('a@example.com'));
    expect(smtp.messages).toHaveLength(1);
  });

  it('fails fatally on a wrong password without echoing it', async () => {
    const { mailer } = await start({ auth: { user: 'mailer', pass: 'right' } }, (s) => `smtp://mailer:Wr0ngSecret@127.0.0.1:${s.port}`);
    const err = await failure(mailer.send(message('a@example.com')));
    expect(err.code).toBe('EAUTH');
    expect(err.responseCode).toBe(535);
    expect(classifySmtpError(err)).toBe('fatal');
    expect(`${err.message} ${err.response ?? ''} ${err.stack ?? ''}`).not.toContain('Wr0ngSecret');
    const verifyErr = await failure(mailer.verify!());
    expect(classifySmtpError(verifyErr)).toBe('fatal');
  });

  it('fails fatally when the server demands AUTH and none is configured', async () => {
    const { mailer } = await start({ auth: { user: 'mailer', pass: 'right' } });
    const err = await failure(mailer.send(message('a@example.com')));
    expect(err.responseCode).toBe(530);
    expect(classifySmtpError(err)).toBe('fatal');
  });

  it('times out a stalled reply as transient', async () => {
    smtp = await startTestSmtp({ stallMs: 3_000 });
    mailer = createMailer(transport(smtp.url), { concurrency: 1, from: FROM, timeouts: { socketMs: 300 } });
    const err = await failure(mailer.send(message('slow@example.com')));
    expect(err.code).toBe('ETIMEDOUT');
    expect(classifySmtpError(err)).toBe('transient');
  });

  it('closes its connections on close()', async () => {
    const { smtp, mailer } = await start({}, undefined, 3);
    await Promise.all([0, 1, 2].map((i) => mailer.send(message(`x${i}@example.com`))));
    expect(smtp.openConnections()).toBeGreaterThan(0);
    await mailer.close();
    for (let i = 0; i < 50 && smtp.openConnections() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(smtp.openConnections()).toBe(0);
    await expect(mailer.send(message('late@example.com'))).rejects.toThrow(/closed/);
  });

  it('verify() fails with ECONNREFUSED when nothing listens', async () => {
    smtp = await startTestSmtp();
    const url = smtp.url;
    await smtp.stop();
    mailer = createMailer(transport(url), { concurrency: 1, from: FROM });
    const err = await failure(mailer.verify!());
    expect(classifySmtpError(err)).toBe('transient');
    expect(err.code).toBe('ESOCKET');
    expect((err as { originalCode?: string }).originalCode).toBe('ECONNREFUSED');
  });
});
