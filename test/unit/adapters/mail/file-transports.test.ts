import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMailer, emlFileName } from '../../../../src/adapters/mail/index.js';
import type { OutgoingMessage } from '../../../../src/core/ports.js';

const FROM = 'News <news@example.com>';
const msg = (n: number, extra: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  from: FROM,
  to: `u${n}@example.com`,
  subject: `Hello ${n}`,
  text: `text ${n}`,
  html: `<p>html ${n}</p>`,
  headers: { 'List-Unsubscribe': `<https://x.test/u/${n}>` },
  messageId: `<id${n}@example.com>`,
  ...extra,
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailcron-outbox-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('outbox transport', () => {
  it('creates the directory and writes one parseable .eml per message, named by Message-ID', async () => {
    const out = path.join(dir, 'nested', 'outbox');
    const mailer = createMailer({ kind: 'outbox', dir: out }, { concurrency: 4, from: FROM });
    await mailer.verify!();
    const receipts = await Promise.all([1, 2, 3].map((n) => mailer.send(msg(n))));
    await mailer.close();
    expect(receipts.map((r) => r.messageId)).toEqual(['<id1@example.com>', '<id2@example.com>', '<id3@example.com>']);
    expect((await readdir(out)).sort()).toEqual(['id1@example.com.eml', 'id2@example.com.eml', 'id3@example.com.eml']);
    const parsed = await simpleParser(await readFile(path.join(out, 'id2@example.com.eml')));
    expect(parsed.subject).toBe('Hello 2');
    expect(parsed.messageId).toBe('<id2@example.com>');
    expect(parsed.text?.trim()).toBe('text 2');
  });

  it('overwrites the file of a resent delivery instead of adding one, leaving no temp files', async () => {
    const mailer = createMailer({ kind: 'outbox', dir }, { concurrency: 1, from: FROM });
    await mailer.send(msg(1, { subject: 'first' }));
    await mailer.send(msg(1, { subject: 'second' }));
    expect(await readdir(dir)).toEqual(['id1@example.com.eml']);
    expect(await readFile(path.join(dir, 'id1@example.com.eml'), 'utf8')).toContain('Subject: second');
  });

  it('sanitises Message-IDs into safe file names', () => {
    expect(emlFileName('<abc@example.com>')).toBe('abc@example.com.eml');
    expect(emlFileName('<../../etc/passwd@x>')).toBe('__.._etc_passwd@x.eml');
    expect(emlFileName('<a/b\\c d@x>')).toBe('a_b_c_d@x.eml');
    expect(emlFileName('<>')).toBe('message.eml');
  });

  it('fails with the file-system error when the directory cannot be created', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'x');
    const mailer = createMailer({ kind: 'outbox', dir: path.join(file, 'sub') }, { concurrency: 1, from: FROM });
    await expect(mailer.send(msg(1))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('json transport', () => {
  it('writes one JSON object per line', async () => {
    const lines: string[] = [];
    const mailer = createMailer({ kind: 'json' }, { concurrency: 1, from: FROM, out: (l) => lines.push(l) });
    await mailer.send(msg(1));
    await mailer.send(msg(2, { html: undefined }));
    await mailer.close();
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.endsWith('\n') && l.indexOf('\n') === l.length - 1).toBe(true);
    expect(JSON.parse(lines[0]!)).toEqual({
      messageId: '<id1@example.com>',
      from: FROM,
      to: 'u1@example.com',
      subject: 'Hello 1',
      headers: { 'List-Unsubscribe': '<https://x.test/u/1>' },
      text: 'text 1',
      html: '<p>html 1</p>',
    });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty('html');
  });

  it('needs an out writer', () => {
    expect(() => createMailer({ kind: 'json' }, { concurrency: 1, from: FROM })).toThrow(/needs options.out/);
  });
});
