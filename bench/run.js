#!/usr/bin/env node
// Side-by-side benchmark (issue #5): each peer against the same FerretDB, the same Postfix
// smtp-sink, the same users and the same ~2 KB message, each as a child process measured the same
// way (wall time, peak RSS, CPU seconds). Writes bench/results.json and bench/scale.svg.
//
//   npm run bench                 full run (about 10 minutes: 20k users per peer, scale 10k / 100k / 1M)
//   npm run bench -- --quick      smaller sizes, under 5 minutes, same file
//   options: --users N (throughput run), --reps N (runs per peer, best kept), --sizes 10000,100000,1000000,
//            --schedule-large N, --budget-minutes M, --out PATH (default bench/results.json; scale.svg beside it)
//
// Everything is loopback, every child has a timeout, and every child is killed when this exits.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { killAll, lastJson, procCpuSeconds, round, runMeasured } from './lib/measure.js';
import { FROM, SAMPLE_SPEC, userFields, writeMessageFiles } from './lib/message.js';
import { scaleSvg } from './lib/plot.js';
import { cpuBudget, label, markdown, ratios, targets } from './lib/report.js';
import { ferretdbCost } from './lib/ferretdb-cost.js';
import { SCHEDULE_NOW, loadScheduleHash, seedUsers } from './lib/seed.js';
import { startFerretdb } from '../scripts/ferretdb.js';
import { postfixToolsMissing, settledCount, startSink } from './lib/services.js';
import { limitCommand } from './peers/limit.js';
import { broadcastCommand, commandMissing, scheduleCommand, sentOf } from './peers/mailcron.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const scratch = join(root, 'bench', 'out');
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    users: { type: 'string' },
    reps: { type: 'string' },
    sizes: { type: 'string' },
    'schedule-large': { type: 'string' },
    out: { type: 'string' },
    'budget-minutes': { type: 'string' },
  },
});

const plan = flags.quick
  ? { users: 6000, reps: 2, sizes: [1000, 5000, 20000], scheduleDue: 1000, scheduleLarge: 20000, budgetS: 270, coldRuns: 7 }
  : { users: 20000, reps: 2, sizes: [10000, 100000, 1000000], scheduleDue: 1000, scheduleLarge: 1000000, budgetS: 50 * 60, coldRuns: 15 };
if (flags.users) plan.users = Number(flags.users);
if (flags.reps) plan.reps = Number(flags.reps);
if (flags.sizes) plan.sizes = flags.sizes.split(',').map(Number);
if (flags['schedule-large']) plan.scheduleLarge = Number(flags['schedule-large']);
if (flags['budget-minutes']) plan.budgetS = Number(flags['budget-minutes']) * 60;
const outFile = resolve(flags.out ?? join(root, 'bench', 'results.json'));

const started = performance.now();
const elapsedS = () => (performance.now() - started) / 1000;
const remainingMs = () => Math.max(0, (plan.budgetS - elapsedS()) * 1000);
const log = (line) => process.stderr.write(`[bench ${elapsedS().toFixed(0).padStart(4)}s] ${line}\n`);

let db;
let sink;
let client;
async function shutdown() {
  killAll();
  await client?.close().catch(() => {});
  await sink?.stop().catch(() => {});
  await db?.stop().catch(() => {});
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: stopping children`);
    void shutdown().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

/**
 * Waits (up to maxS) until FerretDB is idle: a query of a peer that was killed at its timeout goes
 * on running in the server and would be billed to the next step.
 */
async function databaseIdle(maxS = 180) {
  const end = Date.now() + maxS * 1000;
  let prev = procCpuSeconds(db.pid);
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = procCpuSeconds(db.pid);
    if (now == null || prev == null || now - prev < 0.05) return;
    prev = now;
  }
  log(`FerretDB still busy after ${maxS} s; measuring anyway`);
}

let stepsLeft = 0; // set once the plan is known: each later step keeps STEP_RESERVE_S of the budget
const STEP_RESERVE_S = 15;

/**
 * Runs one measured step: the child's own figures plus the FerretDB and sink CPU it caused and the
 * messages the sink received meanwhile. `capS` bounds it; the run's budget bounds it too.
 */
async function step(name, [cmd, args], { capS }) {
  stepsLeft = Math.max(0, stepsLeft - 1);
  await databaseIdle();
  const timeoutMs = Math.min(capS * 1000, remainingMs() - stepsLeft * STEP_RESERVE_S * 1000);
  if (timeoutMs < 5000) return { reason: 'skipped: out of the time budget' };
  const dbCpu0 = procCpuSeconds(db.pid);
  const sinkCpu0 = procCpuSeconds(sink.pid);
  const received0 = sink.received();
  log(`${name}: ${[cmd.replace(root + '/', ''), ...args].join(' ').replace(/mongodb:\/\/\S+/, 'mongodb://…')}`);
  // The sink's counter over time: when the first message arrived, and the pace once under way.
  const t0 = performance.now();
  const timeline = [];
  const sampler = setInterval(() => timeline.push([performance.now() - t0, sink.received() - received0]), 20);
  const r = await runMeasured(cmd, args, { timeoutMs, cwd: root, scratchDir: scratch, label: name, env: { NO_COLOR: '1' } });
  clearInterval(sampler);
  const received = (await settledCount(sink)) - received0;
  const dbCpu = procCpuSeconds(db.pid);
  const sinkCpu = procCpuSeconds(sink.pid);
  const json = lastJson(r.stdout);
  const out = {
    seconds: r.seconds,
    peakRssMB: r.peakRssMB,
    cpuSeconds: r.cpuSeconds,
    dbCpuSeconds: dbCpu0 == null || dbCpu == null ? null : round(dbCpu - dbCpu0, 2),
    sinkCpuSeconds: sinkCpu0 == null || sinkCpu == null ? null : round(sinkCpu - sinkCpu0, 2),
    sinkReceived: received,
    ...pace(timeline, received),
    summary: json,
  };
  if (!r.ok) {
    out.reason = r.timedOut
      ? `timed out after ${round(timeoutMs / 1000, 0)} s (sink had ${received} messages)`
      : `exit ${r.code ?? r.signal}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 300)}`;
    writeFileSync(join(scratch, `${name}.stderr.log`), r.stderr);
  }
  log(`${name}: ${r.ok ? 'ok' : out.reason} — ${r.seconds}s, ${received} received, RSS ${r.peakRssMB} MB, CPU ${r.cpuSeconds}s, FerretDB CPU ${out.dbCpuSeconds}s`);
  return out;
}

/**
 * From the sink's counter sampled during a step: seconds from spawn to the first message, and
 * messages/s between the 10% and the 90% mark (start-up and the last stragglers left out).
 */
function pace(timeline, total) {
  const first = timeline.find(([, n]) => n > 0);
  const at = (share) => timeline.find(([, n]) => n >= share * total);
  const a = at(0.1);
  const b = at(0.9);
  return {
    firstMessageSeconds: first ? round(first[0] / 1000, 3) : null,
    steadyMessagesPerSecond: total > 0 && a && b && b[0] > a[0] ? round((b[1] - a[1]) / ((b[0] - a[0]) / 1000), 0) : null,
  };
}

/**
 * messages/s of a sending step: `expected` messages over its wall time, provided the sink received
 * them all and the peer's own count (when it reports one) agrees. Extra copies are noted, not counted.
 */
function throughputOf(s, expected) {
  if (!s || s.reason) return null;
  if (s.summary?.unavailable) {
    s.reason = s.summary.unavailable;
    return null;
  }
  const reported = sentOf(s.summary);
  if (s.sinkReceived < expected || (reported != null && reported !== expected)) {
    s.reason = `the sink received ${s.sinkReceived} and the peer reported ${reported ?? 'nothing'} of ${expected} messages`;
    return null;
  }
  if (s.sinkReceived > expected) s.duplicates = s.sinkReceived - expected;
  return round(expected / s.seconds, 0);
}

function withDb(uri, name) {
  const u = new URL(uri);
  u.pathname = `/${name}`;
  return u.toString();
}

function coldStart(runs) {
  const time = (args) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore', timeout: 30_000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return r.status === 0 ? ms : null;
  };
  const median = (xs) => {
    const s = xs.filter((v) => v != null).sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : null;
  };
  const node = [];
  const help = [];
  for (let i = 0; i < 2; i++) time(['bin/mailcron.js', '--help']); // warm the file cache
  for (let i = 0; i < runs; i++) {
    node.push(time(['-e', '0']));
    help.push(time(['bin/mailcron.js', '--help']));
  }
  const nodeMs = median(node);
  const mailcronHelpMs = median(help);
  return { nodeMs: round(nodeMs, 1), mailcronHelpMs: mailcronHelpMs == null ? null : round(mailcronHelpMs, 1), ratio: mailcronHelpMs == null ? null : round(mailcronHelpMs / nodeMs, 2), runs };
}

async function main() {
  mkdirSync(scratch, { recursive: true });
  const results = {
    generatedAt: new Date().toISOString(),
    quick: flags.quick,
    machine: { cores: cpus().length, node: process.version, cpu: cpus()[0]?.model ?? null, memoryMB: Math.round(totalmem() / 2 ** 20), loadAverageAtStart: loadavg().map((v) => round(v, 2)) },
    setup: { users: plan.users, concurrency: 15, message: 'text + HTML digest with the user name and city', sink: 'smtp-sink -c 127.0.0.1:PORT 256', database: 'FerretDB v1.24.2 (SQLite), scripts/ferretdb.js' },
    throughput: { limit: null, seedStyle: null, naive: null, mailcron: null, sendStage: null },
    ratios: {},
    peers: {},
    scale: plan.sizes.map((users) => ({ users, secondsPerUser: null, peakRssMB: null })),
    schedule: { smallSeconds: null, largeSeconds: null, ratio: null, due: plan.scheduleDue, smallUsers: plan.scheduleDue, largeUsers: plan.scheduleLarge },
    coldStart: { nodeMs: null, mailcronHelpMs: null, ratio: null },
    ferretdbCost: null,
    budget: null,
    seeding: {},
    targets: [],
    notes: [],
  };

  const toolsMissing = postfixToolsMissing();
  if (toolsMissing) throw new Error(toolsMissing);
  const broadcastMissing = commandMissing(root, 'broadcast');
  const scheduleMissing = commandMissing(root, 'schedule');
  const messageArgs = writeMessageFiles(scratch);
  results.setup.messageBytes = await messageBytes();

  log('starting FerretDB and smtp-sink');
  db = await startFerretdb({ log: (m) => log(`ferretdb: ${m}`) });
  sink = await startSink();
  client = new MongoClient(db.uri);
  await client.connect();

  // Seeding (not measured as a peer; its time is reported).
  const seed = async (name, n, opts) => {
    const r = await seedUsers(client, name, n, opts);
    results.seeding[name] = { users: n, seconds: round(r.seconds, 1), ...(opts?.schedule ? { due: r.due } : {}) };
    log(`seeded ${name}: ${n} users in ${round(r.seconds, 1)} s`);
  };
  await seed('bench_throughput', plan.users);
  const scheduleHash = await loadScheduleHash();

  stepsLeft = 5 * plan.reps + 2 + plan.sizes.length;

  // Throughput: every peer on the same users. mailcron last: it is the only one that writes (its ledger).
  const sinkPort = sink.port;
  const uri = withDb(db.uri, 'bench_throughput');
  const cap = flags.quick ? 60 : Math.max(120, plan.users / 20);
  const peers = results.peers;
  const nodePeer = (file) => [process.execPath, [file, '--uri', db.uri, '--db', 'bench_throughput', '--smtp-port', String(sinkPort)]];
  const throughputPeers = {
    limit: { command: () => limitCommand({ port: sinkPort, messages: plan.users }), capS: cap },
    sendStage: { command: () => [process.execPath, ['bench/peers/send-stage.js', '--smtp-port', String(sinkPort), '--messages', String(plan.users)]], capS: cap },
    naive: { command: () => nodePeer('bench/peers/naive.js'), capS: cap },
    seedStyle: { command: () => nodePeer('bench/peers/seed-style.js'), capS: cap * 3 },
    mailcron: {
      missing: broadcastMissing,
      command: (rep) => broadcastCommand({ smtpPort: sinkPort, mongodbUri: uri, messageArgs, id: `bench-${Date.now()}-${rep}` }),
      capS: cap * 2,
    },
  };
  // Other work on this shared machine comes and goes: each peer runs `reps` times, interleaved,
  // and keeps its best run; all rates are listed under peers.<name>.runs.
  for (let rep = 1; rep <= plan.reps; rep++) {
    for (const [key, peer] of Object.entries(throughputPeers)) {
      if (peer.missing) {
        peers[key] = { reason: peer.missing };
        continue;
      }
      const run = await step(plan.reps > 1 ? `${key}-${rep}` : key, peer.command(rep), { capS: peer.capS });
      const messagesPerSecond = throughputOf(run, plan.users);
      const prev = peers[key];
      const keep = prev && (messagesPerSecond == null || (prev.messagesPerSecond ?? -1) >= messagesPerSecond) ? prev : { ...run, messagesPerSecond };
      peers[key] = { ...keep, runs: [...(prev?.runs ?? []), messagesPerSecond] };
      results.throughput[key] = peers[key].messagesPerSecond;
    }
  }
  results.ratios = ratios(results.throughput, [], results.peers);

  // FerretDB's own cost of what a broadcast asks of it, from the documents mailcron's runs wrote.
  await databaseIdle();
  results.ferretdbCost = await ferretdbCost(client.db('bench_throughput'), db.pid, { users: plan.users });
  log(`FerretDB cost per user: ${JSON.stringify(results.ferretdbCost)}`);

  results.coldStart = existsSync(join(root, 'dist', 'cli', 'main.js')) ? coldStart(plan.coldRuns) : { ...results.coldStart, reason: 'dist/ not built' };
  log(`cold start: node -e 0 ${results.coldStart.nodeMs} ms, mailcron --help ${results.coldStart.mailcronHelpMs} ms`);

  // Schedule: the same 1,000 due users among 1,000 and among many.
  if (scheduleMissing || scheduleHash.reason) {
    results.schedule.reason = scheduleMissing ?? scheduleHash.reason;
  } else {
    const runSchedule = async (name, n) => {
      await seed(name, n, { schedule: { due: plan.scheduleDue, hash: scheduleHash.hash } });
      // Steady state: the indexes an earlier run created are there too (built here, untimed).
      const t0 = performance.now();
      const { scheduleIndexes } = await import('../dist/adapters/mongo/schedule-store.js');
      const { ensureIndexes, REQUIRED_INDEXES } = await import('../dist/adapters/mongo/indexes.js');
      const specs = [...scheduleIndexes('schedule'), ...REQUIRED_INDEXES.filter((x) => x.command === 'status')];
      await ensureIndexes(client.db(name), { usersCollection: 'users' }, specs);
      log(`${name}: indexes of an earlier run built in ${((performance.now() - t0) / 1000).toFixed(1)} s (not timed)`);
      const s = await step(name, scheduleCommand({ smtpPort: sinkPort, mongodbUri: withDb(db.uri, name), messageArgs, now: SCHEDULE_NOW }), { capS: flags.quick ? 60 : 240 });
      const sent = sentOf(s.summary);
      if (!s.reason && sent !== plan.scheduleDue) s.reason = `sent ${sent} instead of ${plan.scheduleDue} (sink: ${s.sinkReceived})`;
      await client.db(name).dropDatabase();
      return s;
    };
    const small = await runSchedule('bench_schedule_small', plan.scheduleDue);
    const large = await runSchedule('bench_schedule_large', plan.scheduleLarge);
    Object.assign(results.schedule, {
      smallSeconds: small.reason ? null : small.seconds,
      largeSeconds: large.reason ? null : large.seconds,
      small,
      large,
    });
    if (small.reason || large.reason) results.schedule.reason = small.reason ?? large.reason;
    else results.schedule.ratio = round(large.seconds / small.seconds, 2);
  }

  // Scale curve: mailcron broadcast on 3 sizes, each its own database (and ledger).
  for (const entry of results.scale) {
    if (broadcastMissing) {
      entry.reason = broadcastMissing;
      continue;
    }
    if (remainingMs() < 30_000) {
      entry.reason = 'skipped: out of the time budget';
      continue;
    }
    const name = `bench_scale_${label(entry.users)}`;
    await seed(name, entry.users);
    const s = await step(`scale-${label(entry.users)}`, broadcastCommand({ smtpPort: sinkPort, mongodbUri: withDb(db.uri, name), messageArgs, id: `bench-scale-${entry.users}` }), {
      capS: flags.quick ? 30 + entry.users / 200 : Math.max(180, entry.users / 400),
    });
    Object.assign(entry, {
      seconds: s.seconds,
      peakRssMB: s.peakRssMB,
      cpuSeconds: s.cpuSeconds,
      dbCpuSeconds: s.dbCpuSeconds,
      sinkCpuSeconds: s.sinkCpuSeconds,
      sinkReceived: s.sinkReceived,
      firstMessageSeconds: s.firstMessageSeconds,
      steadyMessagesPerSecond: s.steadyMessagesPerSecond,
    });
    if (throughputOf(s, entry.users) == null) {
      entry.reason = s.reason;
      entry.peakRssMB = null; // of a partial run: not comparable
    } else entry.secondsPerUser = round(s.seconds / entry.users, 7);
    await client.db(name).dropDatabase();
  }

  results.ratios = ratios(results.throughput, results.scale, results.peers);
  results.budget = cpuBudget(results);
  results.targets = targets(results);
  results.totalSeconds = round(elapsedS(), 1);
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  const svgFile = join(dirname(outFile), 'scale.svg');
  writeFileSync(svgFile, scaleSvg(results.scale));
  const md = markdown(results);
  writeFileSync(join(scratch, 'results.md'), md);
  process.stdout.write(md);
  log(`wrote ${[outFile, svgFile].map((f) => f.replace(root + '/', '')).join(', ')} and bench/out/results.md in ${round(elapsedS(), 0)} s`);
}

/** Size of one rendered message as mailcron builds it, for the record (null if not built). */
async function messageBytes() {
  try {
    const { compileMessage, makeMessageId, buildMime } = await import('../dist/core/message/index.js');
    const r = compileMessage(SAMPLE_SPEC, { from: FROM }).render({ _id: 'u1', ...userFields(1) }, makeMessageId('size', FROM));
    return r.ok ? Buffer.byteLength(buildMime(r.message)) : null;
  } catch {
    return null;
  }
}

try {
  await main();
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await shutdown();
}
