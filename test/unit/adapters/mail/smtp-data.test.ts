import type { Writable } from 'node:stream';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { describe, expect, it } from 'vitest';
import { dataPayload, smtpMessage } from '../../../../src/adapters/mail/smtp-data.js';

/** What nodemailer's own DATA stream sends for `raw`. */
async function nodemailerPayload(raw: string): Promise<Buffer> {
  const stream = new DataStream();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => stream.on('end', r));
  stream.end(raw);
  await done;
  return Buffer.concat(chunks);
}

const CASES = [
  '',
  'a',
  '.',
  '..',
  '.\r\n',
  'Subject: x\r\n\r\nbody\r\n',
  'Subject: x\r\n\r\nbody',
  '.leading\r\n.\r\nmiddle\r\n..two\r\n',
  'bare lf\nline\n.dot after bare lf\n',
  'bare cr\rline\r.dot after bare cr\r',
  'mixed\r\n\n\r\r\n.\r.\n.',
  'ends with cr\r',
  'ends with lf\n',
  'Zürich ✓\r\n.é\r\n',
  '\r\n.\r\n',
];

describe('dataPayload', () => {
  it.each(CASES.map((c) => [JSON.stringify(c), c]))('matches nodemailer for %s', async (_, raw) => {
    expect(dataPayload(raw).toString('latin1')).toBe((await nodemailerPayload(raw)).toString('latin1'));
  });

  it('matches nodemailer on 2,000 random strings of dots, CRs, LFs and text', async () => {
    const alphabet = ['.', '\r', '\n', 'a', 'é', ' '];
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const raw = Array.from({ length: Math.floor(rnd() * 24) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
      expect(dataPayload(raw).equals(await nodemailerPayload(raw)), JSON.stringify(raw)).toBe(true);
    }
  });
});

describe('smtpMessage', () => {
  it('pushes the whole payload out of a DATA stream in one chunk and never ends its writable side', async () => {
    const stream = new DataStream();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((r) => stream.on('end', r));
    smtpMessage('one\r\n.two\r\n').pipe(stream);
    await ended;
    expect(chunks.map(String)).toEqual(['one\r\n..two\r\n.\r\n']);
    expect(stream.writableEnded).toBe(false);
  });

  it('gives anything that is not a Transform the plain message to encode', async () => {
    const sink: string[] = [];
    const w = { end: (s: string) => sink.push(s) } as unknown as Writable;
    smtpMessage('x\r\n').pipe(w);
    expect(sink).toEqual(['x\r\n']);
  });
});
