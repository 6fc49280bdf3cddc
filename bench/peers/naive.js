#!/usr/bin/env node
// Peer "naive": what a careful developer writes by hand in an afternoon. One cursor over the
// active users (`for await`), the message compiled once with Handlebars, nodemailer pooled with
// 15 connections, p-queue with 15 sends in flight and a bounded backlog. No ledger: no record of
// who got what, no resume.
// Usage: node bench/peers/naive.js --uri mongodb://127.0.0.1:PORT/ --db NAME --smtp-port N
// Prints one JSON object: { sent, failed, firstError? }.
import { parseArgs } from 'node:util';
import Handlebars from 'handlebars';
import { MongoClient } from 'mongodb';
import nodemailer from 'nodemailer';
import PQueue from 'p-queue';
import { FROM, SAMPLE_SPEC } from '../lib/message.js';

const { values } = parseArgs({ options: { uri: { type: 'string' }, db: { type: 'string' }, 'smtp-port': { type: 'string' } } });

const subject = Handlebars.compile(SAMPLE_SPEC.subject, { noEscape: true });
const text = Handlebars.compile(SAMPLE_SPEC.text, { noEscape: true });
const html = Handlebars.compile(SAMPLE_SPEC.html);

const client = new MongoClient(values.uri);
const transport = nodemailer.createTransport({
  host: '127.0.0.1',
  port: Number(values['smtp-port']),
  secure: false,
  ignoreTLS: true,
  pool: true,
  maxConnections: 15,
  maxMessages: Infinity,
});
const queue = new PQueue({ concurrency: 15 });
let sent = 0;
let failed = 0;
let firstError;

try {
  const users = client.db(values.db).collection('users');
  for await (const user of users.find({ active: true }, { projection: { email: 1, name: 1, city: 1 } }).batchSize(1000)) {
    await queue.onSizeLessThan(100);
    void queue.add(async () => {
      try {
        await transport.sendMail({ from: FROM, to: user.email, subject: subject(user), text: text(user), html: html(user) });
        sent++;
      } catch (err) {
        failed++;
        firstError ??= String(err.message);
      }
    });
  }
  await queue.onIdle();
} finally {
  transport.close();
  await client.close();
}
process.stdout.write(`${JSON.stringify({ sent, failed, ...(firstError ? { firstError } : {}) })}\n`);
