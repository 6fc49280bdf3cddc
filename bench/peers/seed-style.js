#!/usr/bin/env node
// Peer "seed-style": what the seed backend's broadcast did after its scalability fixes (see
// shared/seeds/): pages of 100 active users read with skip/limit, each page's sends started at
// once and gathered (asyncio.gather) behind a semaphore of 15, a new SMTP connection per message.
// Usage: node bench/peers/seed-style.js --uri mongodb://127.0.0.1:PORT/ --db NAME --smtp-port N
// Prints one JSON object: { sent, failed, firstError? }.
import { parseArgs } from 'node:util';
import Handlebars from 'handlebars';
import { MongoClient } from 'mongodb';
import nodemailer from 'nodemailer';
import PQueue from 'p-queue';
import { FROM, SAMPLE_SPEC } from '../lib/message.js';

const { values } = parseArgs({ options: { uri: { type: 'string' }, db: { type: 'string' }, 'smtp-port': { type: 'string' } } });
const BATCH_SIZE = 100;

const subject = Handlebars.compile(SAMPLE_SPEC.subject, { noEscape: true });
const text = Handlebars.compile(SAMPLE_SPEC.text, { noEscape: true });
const html = Handlebars.compile(SAMPLE_SPEC.html);

const client = new MongoClient(values.uri, { maxPoolSize: 100, minPoolSize: 20 });
// Not pooled: every sendMail opens its own connection (EHLO, MAIL, RCPT, DATA, QUIT).
const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(values['smtp-port']), secure: false, ignoreTLS: true });
const semaphore = new PQueue({ concurrency: 15 });
let sent = 0;
let failed = 0;
let firstError;

async function sendEmail(user) {
  return semaphore.add(async () => {
    try {
      await transport.sendMail({ from: FROM, to: user.email, subject: subject(user), text: text(user), html: html(user) });
      sent++;
    } catch (err) {
      failed++;
      firstError ??= String(err.message);
    }
  });
}

try {
  const users = client.db(values.db).collection('users');
  for (let skip = 0; ; skip += BATCH_SIZE) {
    const page = await users.find({ active: true }, { projection: { _id: 0 } }).skip(skip).limit(BATCH_SIZE).toArray();
    if (page.length === 0) break;
    await Promise.all(page.map(sendEmail));
  }
} finally {
  transport.close();
  await client.close();
}
process.stdout.write(`${JSON.stringify({ sent, failed, ...(firstError ? { firstError } : {}) })}\n`);
