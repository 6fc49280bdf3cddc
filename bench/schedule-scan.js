#!/usr/bin/env node
// What one `mailcron schedule` run costs on a server without a usable index (FerretDB v1, which
// filters and sorts every query in Go after reading every document), as evidence for issue #5:
// the server's explain of the run's queries, the cost of one scan per user document, and the
// queries (so scans) one run makes, counted in the CLI process.
//
//   node bench/schedule-scan.js [--users 100000] [--due 1000] [--out bench/out/schedule-scan.json]
//
// Needs dist/ (npm run build) and Postfix's smtp-sink (scripts/install-postfix-tools.sh).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { startFerretdb } from '../scripts/ferretdb.js';
import { writeMessageFiles } from './lib/message.js';
import { SCHEDULE_NOW, loadScheduleHash, seedUsers } from './lib/seed.js';
import { startSink } from './lib/services.js';
import { scheduleCommand, sentOf } from './peers/mailcron.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({ options: { users: { type: 'string', default: '100000' }, due: { type: 'string', default: '1000' }, out: { type: 'string' } } });
const users = Number(flags.users);
const due = Number(flags.due);
const outFile = resolve(flags.out ?? join(root, 'bench', 'out', 'schedule-scan.json'));
const log = (line) => process.stderr.write(`[schedule-scan] ${line}\n`);
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

function run(cmd, args, env) {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const { scheduleQueries } = await import('../dist/adapters/mongo/schedule-store.js');
const hash = await loadScheduleHash();
if (hash.reason) throw new Error(hash.reason);
const db = await startFerretdb({ log });
const sink = await startSink();
const client = new MongoClient(db.uri);
try {
  await client.connect();
  const name = 'schedule_scan';
  const seeded = await seedUsers(client, name, users, { schedule: { due, hash: hash.hash } });
  log(`seeded ${users} users (${seeded.due} due) in ${round(seeded.seconds)} s`);
  const coll = client.db(name).collection('users');
  const now = new Date(SCHEDULE_NOW);
  const q = scheduleQueries('schedule');
  const sort = { 'mailcron.nextAt': 1, _id: 1 };

  const explain = {};
  for (const [label, filter] of [['due', q.due(now)], ['pending', q.pending(now)]]) {
    const e = await coll.find(filter).sort(sort).explain('queryPlanner');
    explain[label] = { filterPushdown: e.filterPushdown, sortPushdown: e.sortPushdown, limitPushdown: e.limitPushdown, queryPlanner: e.queryPlanner };
  }

  // One scan, as the run makes it, and one that matches nothing (the bare cost of reading).
  const scan = {};
  for (const [label, filter] of [['pending', q.pending(now)], ['matchesNothing', { name: '\u0000nobody' }]]) {
    const t = performance.now();
    const got = await coll.find(filter).sort(sort).toArray();
    const s = (performance.now() - t) / 1000;
    scan[label] = { seconds: round(s, 2), microsecondsPerUser: round((s * 1e6) / users), returned: got.length };
    log(`scan (${label}): ${round(s, 2)} s = ${round((s * 1e6) / users)} µs per user`);
  }

  const messageArgs = writeMessageFiles(join(root, 'bench', 'out'));
  const [cmd, args] = scheduleCommand({ smtpPort: sink.port, mongodbUri: `${db.uri.replace(/\/$/, '')}/${name}`, messageArgs, now: SCHEDULE_NOW });
  const traceFile = join(root, 'bench', 'out', `schedule-scan-trace-${process.pid}.json`);
  const t = performance.now();
  const r = await run(cmd, args, { ...process.env, NODE_OPTIONS: `--import=${join(root, 'bench', 'lib', 'trace-commands.js')}`, TRACE_OUT: traceFile });
  const seconds = (performance.now() - t) / 1000;
  let summary = null;
  try {
    summary = JSON.parse(r.stdout);
  } catch {
    // reported below
  }
  const commands = JSON.parse(readFileSync(traceFile, 'utf8'));
  const usersQueries = ['find users', 'aggregate users', 'count users'].reduce((n, k) => n + (commands[k]?.commands ?? 0), 0);
  const result = {
    generatedAt: new Date().toISOString(),
    users,
    due: seeded.due,
    explain,
    scan,
    run: {
      exit: r.code,
      seconds: round(seconds, 2),
      sent: sentOf(summary),
      dueAccess: summary?.dueAccess ?? null,
      reads: summary?.reads ?? null,
      usersQueries,
      commands,
      ...(r.code === 0 ? {} : { stderr: r.stderr }),
    },
  };
  log(`schedule run: exit ${r.code}, ${round(seconds, 2)} s, sent ${result.run.sent}, ${usersQueries} quer${usersQueries === 1 ? 'y' : 'ies'} on users`);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(result, null, 1)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
} finally {
  await client.close().catch(() => {});
  await sink.stop().catch(() => {});
  await db.stop().catch(() => {});
}
