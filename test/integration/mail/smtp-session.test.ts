// The pipelined SMTP session against a scripted server over TCP: replies split across packets,
// multi-line replies, and the RSET after a refused DATA, which smtp-server does not exercise.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpSession, UnsentError } from '../../../src/adapters/mail/smtp-session.js';

interface Script {
  /** Reply chunks for a command line (written one by one, a tick apart). */
  reply(line: string): string[];
  /** Reply chunks after a message's closing dot. */
  afterData?(body: string): string[];
}

let server: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** A server that answers by script and logs every command line (message bodies as `<body>`). */
async function scripted(script: Script): Promise<{ session: SmtpSession; log: string[]; peer: () => Socket }> {
  const log: string[] = [];
  let peer: Socket | undefined;
  server = createServer((s) => {
    peer = s;
    sockets.push(s);
    let buf = '';
    let inData = false;
    const send = async (chunks: string[]) => {
      for (const c of chunks) {
        s.write(c);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    s.on('data', async (d) => {
      buf += d.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end === -1) return;
          const body = buf.slice(0, end);
          buf = buf.slice(end + 5);
          inData = false;
          log.push('<body>');
          await send(script.afterData?.(body) ?? ['250 ok\r\n']);
          continue;
        }
        const at = buf.indexOf('\r\n');
        if (at === -1) return;
        const line = buf.slice(0, at);
        buf = buf.slice(at + 2);
        log.push(line.split(':')[0]!);
        const chunks = script.reply(line);
        if (chunks.join('').startsWith('354')) inData = true;
        await send(chunks);
      }
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  await new Promise((r) => socket.once('connect', r));
  return { session: new SmtpSession(socket, { smtpUtf8: false, timeoutMs: 5_000 }), log, peer: () => peer! };
}

const ok = (line: string): string[] => (line === 'DATA' ? ['354 go ahead\r\n'] : ['250 ok\r\n']);

describe('SMTP session', () => {
  it('reads replies split across packets and multi-line replies', async () => {
    const { session } = await scripted({
      reply: (line) => (line.startsWith('MAIL') ? ['25', '0-first\r\n250', ' second\r\n'] : ok(line)),
      afterData: () => ['250-queued\r\n', '250 as 42\r\n'],
    });
    const info = await session.send({ from: 'a@example.com', to: ['b@example.com'] }, 'Subject: x\r\n\r\nhi\r\n');
    expect(info.response).toBe('250-queued\n250 as 42');
    expect(info.accepted).toEqual(['b@example.com']);
  });

  it('resets after a refused DATA before the next envelope, and sends that one', async () => {
    let datas = 0;
    const { session, log } = await scripted({ reply: (line) => (line === 'DATA' && ++datas === 1 ? ['554 no thanks\r\n'] : ok(line)) });
    const first = session.send({ from: 'a@example.com', to: ['b@example.com'] }, 'one\r\n');
    const second = session.send({ from: 'a@example.com', to: ['c@example.com'] }, 'two\r\n');
    await expect(first).rejects.toMatchObject({ code: 'EENVELOPE', responseCode: 554, command: 'DATA' });
    await expect(second).resolves.toMatchObject({ response: '250 ok' });
    expect(log).toEqual(['MAIL FROM', 'RCPT TO', 'DATA', 'RSET', 'MAIL FROM', 'RCPT TO', 'DATA', '<body>']);
  });

  it('writes the next envelope only after the previous body', async () => {
    const { session, log } = await scripted({ reply: ok });
    await Promise.all([1, 2, 3].map((i) => session.send({ from: 'a@example.com', to: [`u${i}@example.com`] }, `m${i}\r\n`)));
    expect(log).toEqual(['MAIL FROM', 'RCPT TO', 'DATA', '<body>', 'MAIL FROM', 'RCPT TO', 'DATA', '<body>', 'MAIL FROM', 'RCPT TO', 'DATA', '<body>']);
  });

  it('when the connection drops, fails a send whose body went out and gives back the others', async () => {
    // The server takes the first body and falls silent: the second envelope, which rode with that
    // body, is never answered.
    let silent = false;
    const { session, peer, log } = await scripted({
      reply: (line) => (silent ? [] : ok(line)),
      afterData: () => {
        silent = true;
        return [];
      },
    });
    const sends = ['b', 'c', 'd'].map((u, i) => session.send({ from: 'a@example.com', to: [`${u}@example.com`] }, `m${i}\r\n`));
    const settled = Promise.allSettled(sends);
    for (let i = 0; i < 50 && log.length < 7; i++) await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['MAIL FROM', 'RCPT TO', 'DATA', '<body>', 'MAIL FROM', 'RCPT TO', 'DATA']);
    peer().destroy();
    const [bodyOut, envelopeOut, queued] = (await settled).map((r) => (r as PromiseRejectedResult).reason);
    // Maybe delivered: a plain connection error, retried by the pipeline as a transient failure.
    expect(bodyOut).toMatchObject({ code: 'ECONNECTION' });
    expect(bodyOut).not.toBeInstanceOf(UnsentError);
    // Certainly not delivered: handed back for another connection.
    expect(envelopeOut).toBeInstanceOf(UnsentError);
    expect(queued).toBeInstanceOf(UnsentError);
    expect(session.destroyed).toBe(true);
  });

  it('refuses an address that could inject a command', async () => {
    const { session, log } = await scripted({ reply: ok });
    await expect(session.send({ from: 'a@example.com', to: ['b@example.com>\r\nRCPT TO:<c@example.com'] }, 'x\r\n')).rejects.toMatchObject({ code: 'EENVELOPE', command: 'API' });
    expect(log).toEqual([]);
  });
});
