#!/usr/bin/env node
// `npm run demo`: the whole broadcast flow on a fresh machine, nothing outside 127.0.0.1.
// Starts the test database (FerretDB, as the tests do) and a local SMTP sink, seeds users, runs a
// broadcast with the progress bar, shows `status`, then cleans everything up.
//
//   node scripts/demo.js [--users 10000] [--keep]     (--keep: leave the servers running until Ctrl-C)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { SMTPServer } from 'smtp-server';
import { startFerretdb } from './ferretdb.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const userCount = Number(args[args.indexOf('--users') + 1]) > 0 && args.includes('--users') ? Number(args[args.indexOf('--users') + 1]) : 10_000;
const keep = args.includes('--keep');
const say = (m) => process.stderr.write(`\x1b[1mdemo:\x1b[0m ${m}\n`);

/** A sink that accepts everything and keeps only a count per recipient. */
function startSink() {
  const perRecipient = new Map();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        for (const r of session.envelope.rcptTo) perRecipient.set(r.address, (perRecipient.get(r.address) ?? 0) + 1);
        callback();
      });
    },
  });
  server.on('error', () => {});
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      res({ port: server.server.address().port, perRecipient, stop: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

function run(argv, env) {
  return new Promise((res) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'mailcron.js'), ...argv], { stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
}

async function seed(uri, n) {
  const client = new MongoClient(uri);
  await client.connect();
  const users = client.db('mailcron_demo').collection('users');
  const names = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Radia', 'Leslie'];
  for (let i = 0; i < n; i += 1000) {
    const docs = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      docs.push({
        email: `user${j}@example.test`,
        name: `${names[j % names.length]} ${j}`,
        // Every 20th user is inactive; every 250th has no usable email: both are left out.
        active: j % 20 !== 0,
        ...(j % 250 === 7 ? { email: 'not-an-address' } : {}),
      });
    }
    await users.insertMany(docs, { ordered: false });
  }
  await client.close();
}

const cleanups = [];
async function cleanup() {
  while (cleanups.length) await cleanups.pop()().catch(() => {});
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  say('starting the local database (FerretDB, built once per machine; the first run takes about a minute)');
  const db = await startFerretdb({ log: (m) => say(m) });
  cleanups.push(() => db.stop());
  const sink = await startSink();
  cleanups.push(() => sink.stop());
  say(`SMTP sink on 127.0.0.1:${sink.port}; seeding ${userCount} users`);
  const uri = `${db.uri}mailcron_demo`;
  await seed(uri, userCount);

  const dir = mkdtempSync(join(tmpdir(), 'mailcron-demo-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const template = join(dir, 'welcome.tpl');
  writeFileSync(
    template,
    [
      'subject: Welcome aboard, {{name}}',
      '---- html',
      '<h1>Hello {{name}}!</h1>',
      '<p>This message was sent by <b>mailcron</b> to {{email}}.</p>',
      '',
    ].join('\n'),
  );
  const env = { MONGODB_URI: uri, SMTP_URL: `smtp://127.0.0.1:${sink.port}`, MAIL_FROM: 'Demo <demo@example.test>' };

  say('mailcron broadcast --template welcome.tpl --yes');
  const code = await run(['broadcast', '--template', template, '--yes', '--unsubscribe-url', 'https://example.test/unsub?u={{_id}}'], env);
  say(`broadcast exited with ${code}`);
  say('mailcron status');
  await run(['status'], env);
  const received = [...sink.perRecipient.values()];
  const dupes = received.filter((n) => n > 1).length;
  say(`the sink received ${received.reduce((a, b) => a + b, 0)} messages for ${received.length} recipients (${dupes} duplicates)`);
  say('running the same command again resumes the same broadcast: nothing is sent twice');
  await run(['broadcast', '--template', template, '--yes', '--unsubscribe-url', 'https://example.test/unsub?u={{_id}}'], env);
  if (keep) {
    say(`servers kept running: MONGODB_URI=${uri} SMTP_URL=smtp://127.0.0.1:${sink.port} (Ctrl-C stops and cleans up)`);
    await new Promise(() => {});
  }
  await cleanup();
  say('done; everything cleaned up');
  process.exit(code);
} catch (err) {
  say(`failed: ${err?.stack ?? err}`);
  await cleanup();
  process.exit(1);
}
