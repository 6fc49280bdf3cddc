// Turns the measurements into the figures of bench/results.json: throughput, ratios, targets, and
// the Markdown table the README shows.
import { round } from './measure.js';

// Three digits: a ratio of 0.246 must not show, or pass, as 0.25.
const ratio = (a, b) => (a != null && b != null && b > 0 ? round(a / b, 3) : null);

/** The largest scale run that completed (the figures of partial runs are not comparable). */
const largestScaleRun = (scale) => scale.filter((s) => s.secondsPerUser != null && s.seconds > 0).at(-1);

export function ratios(t, scale = [], peers = {}) {
  // The same end-to-end ratio on the largest scale run (users / wall time): start-up — process,
  // connection, FerretDB's first sorted batch — weighs less there than on the throughput run.
  const largest = largestScaleRun(scale);
  return {
    mailcronVsNaive: ratio(t.mailcron, t.naive),
    mailcronVsSeedStyle: ratio(t.mailcron, t.seedStyle),
    mailcronVsLimit: ratio(t.mailcron, t.limit),
    sendStageVsLimit: ratio(t.sendStage, t.limit),
    mailcronAtScaleVsLimit: largest ? ratio(largest.users / largest.seconds, t.limit) : null,
    mailcronAtScaleUsers: largest?.users ?? null,
    // Not targets: the pace once the first message is out (start-up left out), against the limit.
    mailcronSteadyVsLimit: ratio(peers.mailcron?.steadyMessagesPerSecond, t.limit),
    mailcronAtScaleSteadyVsLimit: ratio(largest?.steadyMessagesPerSecond, t.limit),
  };
}

/**
 * The CPU budget of the end-to-end run. The processes a broadcast keeps busy (mailcron, FerretDB,
 * smtp-sink) share `cores` cores, so no overlap, however perfect, sends faster than
 * cores × 10⁶ / (their CPU µs per message): `cpuBoundMessagesPerSecond`. `busyShare` is how much of
 * the cores' time over the run's wall time they used. Null when a figure is missing.
 */
export function cpuBudget(results) {
  const users = results.setup.users;
  const cores = results.machine.cores;
  const { mailcron: m, limit: lim, sendStage: st } = results.peers;
  const limitRate = results.throughput.limit;
  if (!m?.messagesPerSecond || !limitRate) return null;
  const b = runBound(m, users, cores);
  if (!b) return null;
  const us = (seconds) => (seconds == null ? null : round((seconds / users) * 1e6, 1));
  const run = { mailcron: us(m.cpuSeconds), ferretdb: us(m.dbCpuSeconds), sink: us(m.sinkCpuSeconds), total: b.total };
  const c = results.ferretdbCost;
  const known = c && [c.sortedReadMicrosecondsPerUser, c.claimInsertMicroseconds, c.recordInsertMicroseconds].every((v) => v != null);
  const target = 0.25 * limitRate;
  return {
    cores,
    cpuMicrosecondsPerMessage: run,
    ferretdbPerMessage: known
      ? {
          sortedRead: c.sortedReadMicrosecondsPerUser,
          claimInsert: c.claimInsertMicroseconds,
          recordInsert: c.recordInsertMicroseconds,
          rest: round(run.ferretdb - c.sortedReadMicrosecondsPerUser - c.claimInsertMicroseconds - c.recordInsertMicroseconds, 1),
        }
      : null,
    limitRunMicrosecondsPerMessage: { smtpSource: us(lim?.cpuSeconds), sink: us(lim?.sinkCpuSeconds) },
    sendStageMicrosecondsPerMessage: st?.messagesPerSecond ? { client: us(st.cpuSeconds), sink: us(st.sinkCpuSeconds) } : null,
    busyShare: b.busy / 100,
    cpuBoundMessagesPerSecond: round(b.bound, 0),
    cpuBoundVsLimit: round(b.bound / limitRate, 3),
    targetMessagesPerSecond: round(target, 0),
    targetMicrosecondsPerMessage: round((cores * 1e6) / target, 1),
  };
}

/** CPU µs per message of a broadcast run (mailcron + FerretDB + sink), the bound it implies, and how busy the cores were. */
function runBound(run, users, cores) {
  if (!run || [run.cpuSeconds, run.dbCpuSeconds, run.sinkCpuSeconds, run.seconds].some((v) => v == null)) return null;
  const total = ((run.cpuSeconds + run.dbCpuSeconds + run.sinkCpuSeconds) / users) * 1e6;
  return { total: round(total, 1), bound: (cores * 1e6) / total, busy: Math.round(((total * users) / 1e6 / (run.seconds * cores)) * 100) };
}

/** Why a missed target is missed, where the run itself shows it. */
function whyMissed(results, name) {
  const cores = results.machine.cores;
  const limit = results.throughput.limit;
  const largest = name === 'scale' ? largestScaleRun(results.scale) : undefined;
  const at = name === 'limit' ? { run: results.peers.mailcron, users: results.setup.users } : largest ? { run: largest, users: largest.users } : null;
  const b = at && limit ? runBound(at.run, at.users, cores) : null;
  if (b) {
    const r = at.run;
    const start = r.firstMessageSeconds != null && r.steadyMessagesPerSecond != null
      ? `; the first message left ${r.firstMessageSeconds} s after spawn, then ${r.steadyMessagesPerSecond.toLocaleString('en-US')} msg/s (${round(r.steadyMessagesPerSecond / limit, 3)}× the limit)`
      : '';
    const head = `mailcron, FerretDB and the sink spent ${b.total} µs of CPU per message, start-up included${start}`;
    const bound = round(b.bound / limit, 3);
    return bound < 0.25
      ? `${head}; on ${cores} cores that CPU allows at most ${round(b.bound, 0).toLocaleString('en-US')} msg/s end to end (${bound}× the limit) even with perfect overlap; 0.25× needs ≤ ${round((cores * 1e6) / (0.25 * limit), 1)} µs`
      : `${head}; that CPU would allow ${bound}× the limit end to end with perfect overlap, and the cores were busy ${b.busy}% of the run`;
  }
  if (name === 'schedule' && results.schedule.large?.summary?.dueAccess === 'scan') {
    return 'the server answered the due query with a full scan (dueAccess "scan"): FerretDB v1 uses no index but `_id`; on MongoDB the same query reads the `mailcron.nextAt` index';
  }
  return undefined;
}

/** The issue's targets, each with the measured value and whether it holds (null: not measured). */
export function targets(results) {
  const r = results.ratios;
  const scale = results.scale.filter((s) => s.secondsPerUser != null);
  const first = scale[0];
  const last = scale.length > 1 ? scale[scale.length - 1] : undefined;
  const middle = scale.length > 2 ? scale[scale.length - 2] : undefined;
  const rows = [];
  const add = (name, value, limit, cmp, why) => {
    const pass = value == null ? null : cmp === '≥' ? value >= limit : value <= limit;
    const reason = pass === false && why ? whyMissed(results, why) : undefined;
    rows.push({ name, value, target: `${cmp} ${limit}`, pass, ...(reason ? { why: reason } : {}) });
  };
  add('mailcron / naive', r.mailcronVsNaive, 1.0, '≥');
  add('mailcron / seed-style', r.mailcronVsSeedStyle, 3, '≥');
  add('mailcron / smtp-source limit', r.mailcronVsLimit, 0.25, '≥', 'limit');
  if (r.mailcronAtScaleUsers) add(`mailcron / smtp-source limit, ${label(r.mailcronAtScaleUsers)}-user scale run`, r.mailcronAtScaleVsLimit, 0.25, '≥', 'scale');
  add('send stage / smtp-source limit', r.sendStageVsLimit, 0.5, '≥');
  const rss = results.scale.map((s) => s.peakRssMB).filter((v) => v != null);
  add('peak RSS at every size (MB)', rss.length ? Math.max(...rss) : null, 150, '≤');
  add(
    `peak RSS ${label(last?.users)} / ${label(first?.users)}`,
    first && last && first.peakRssMB && last.peakRssMB ? round(last.peakRssMB / first.peakRssMB, 2) : null,
    1.25,
    '≤',
  );
  add(`time per user ${label(last?.users)} / ${label(middle?.users)}`, middle && last ? round(last.secondsPerUser / middle.secondsPerUser, 2) : null, 1.2, '≤');
  add(`schedule: ${results.schedule.due ?? 1000} due among ${label(results.schedule.largeUsers)} / among ${label(results.schedule.smallUsers)}`, results.schedule.ratio, 2, '≤', 'schedule');
  add('mailcron --help / node -e 0', results.coldStart.ratio, 2, '≤');
  return rows;
}

export function label(n) {
  if (n == null) return '?';
  if (n >= 1e6 && n % 1e6 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 1e3 === 0) return `${n / 1e3}k`;
  return String(n);
}

const cell = (v, unit = '') => (v == null ? '—' : `${typeof v === 'number' ? v.toLocaleString('en-US') : v}${unit}`);

/** Markdown tables for the README, from a results object. */
export function markdown(results) {
  const out = [];
  const p = results.peers;
  const t = results.throughput;
  out.push(
    `Measured by \`npm run bench${results.quick ? ' -- --quick' : ''}\` on ${results.machine.cores} cores, Node ${results.machine.node}, ` +
      `${results.setup.users.toLocaleString('en-US')} users, ~2 KB messages, 15 SMTP connections, one FerretDB and one Postfix smtp-sink for all.`,
  );
  out.push('');
  out.push('| peer | messages/s | × limit | mailcron × this | wall s | peak RSS MB | CPU s | FerretDB CPU s |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const names = { limit: 'smtp-source (limit)', seedStyle: 'seed-style', naive: 'naive', mailcron: 'mailcron broadcast (ledger on)', sendStage: 'mailcron send stage (no DB)' };
  for (const [key, name] of Object.entries(names)) {
    const m = p[key] ?? {};
    const rate = t[key];
    out.push(
      `| ${name} | ${rate == null ? `— (${m.reason ?? 'not run'})` : cell(rate)} | ${cell(ratio(rate, t.limit))} | ${key === 'mailcron' ? '1' : cell(ratio(t.mailcron, rate))} | ${cell(m.seconds)} | ${cell(m.peakRssMB)} | ${cell(m.cpuSeconds)} | ${cell(m.dbCpuSeconds)} |`,
    );
  }
  const mc = p.mailcron;
  if (mc?.firstMessageSeconds != null && mc.steadyMessagesPerSecond != null) {
    // The run mailcronAtScaleSteadyVsLimit is about.
    const largest = largestScaleRun(results.scale);
    const big = largest?.steadyMessagesPerSecond != null ? largest : undefined;
    out.push('');
    out.push(
      `Start-up and pace of the mailcron broadcast (the sink's counter, sampled every 20 ms): first message ${mc.firstMessageSeconds} s after spawn, ` +
        `then ${cell(mc.steadyMessagesPerSecond)} messages/s between the 10% and 90% marks (${results.ratios.mailcronSteadyVsLimit}× the limit)` +
        (big ? `; on the ${label(big.users)}-user scale run ${cell(big.steadyMessagesPerSecond)} messages/s (${results.ratios.mailcronAtScaleSteadyVsLimit}×).` : '.'),
    );
  }
  out.push('');
  out.push('| users | time per user | peak RSS MB | wall s |');
  out.push('| ---: | ---: | ---: | ---: |');
  for (const s of results.scale) {
    out.push(`| ${label(s.users)} | ${s.secondsPerUser == null ? `— (${s.reason ?? 'not run'})` : `${round(s.secondsPerUser * 1e6, 0)} µs`} | ${cell(s.peakRssMB)} | ${cell(s.seconds)} |`);
  }
  out.push('');
  const sc = results.schedule;
  const cs = results.coldStart;
  out.push('| other | value |');
  out.push('| --- | ---: |');
  out.push(`| schedule, ${sc.due ?? 1000} due among ${label(sc.smallUsers)} | ${sc.smallSeconds == null ? `— (${sc.reason ?? 'not run'})` : `${sc.smallSeconds} s`} |`);
  out.push(`| schedule, ${sc.due ?? 1000} due among ${label(sc.largeUsers)} | ${sc.largeSeconds == null ? `— (${sc.reason ?? 'not run'})` : `${sc.largeSeconds} s (×${sc.ratio})`} |`);
  out.push(`| \`node -e 0\` | ${cell(cs.nodeMs)} ms |`);
  out.push(`| \`mailcron --help\` | ${cs.mailcronHelpMs == null ? '—' : `${cs.mailcronHelpMs} ms (×${cs.ratio})`} |`);
  out.push('');
  out.push('| target | measured | wanted | |');
  out.push('| --- | ---: | ---: | --- |');
  for (const g of results.targets) out.push(`| ${g.name} | ${cell(g.value)} | ${g.target} | ${g.pass == null ? 'not measured' : g.pass ? 'met' : '**missed**'} |`);
  const b = results.budget;
  if (b) {
    const f = b.ferretdbPerMessage;
    out.push('');
    out.push('CPU per message (µs) in the kept runs, from GNU `time` and `/proc/<pid>/stat` of FerretDB and the sink:');
    out.push('');
    out.push('| run | client | FerretDB | smtp-sink | total |');
    out.push('| --- | ---: | ---: | ---: | ---: |');
    const c = b.cpuMicrosecondsPerMessage;
    out.push(`| mailcron broadcast | ${cell(c.mailcron)} | ${cell(c.ferretdb)} | ${cell(c.sink)} | ${cell(c.total)} |`);
    if (b.sendStageMicrosecondsPerMessage) out.push(`| send stage | ${cell(b.sendStageMicrosecondsPerMessage.client)} | 0 | ${cell(b.sendStageMicrosecondsPerMessage.sink)} | ${cell(round(b.sendStageMicrosecondsPerMessage.client + b.sendStageMicrosecondsPerMessage.sink, 1))} |`);
    out.push(`| smtp-source (limit) | ${cell(b.limitRunMicrosecondsPerMessage.smtpSource)} | 0 | ${cell(b.limitRunMicrosecondsPerMessage.sink)} | ${cell(round((b.limitRunMicrosecondsPerMessage.smtpSource ?? 0) + (b.limitRunMicrosecondsPerMessage.sink ?? 0), 1))} |`);
    out.push('');
    if (f) {
      const first = results.ferretdbCost?.sortedReadFirstBatchSeconds;
      out.push(
        `FerretDB's share, replayed with mailcron's own documents: sorted read ${f.sortedRead} µs per user${first != null ? ` (its first batch arrives after ${first} s: FerretDB v1 sorts all ${cell(results.ferretdbCost.usersRead)} users in memory first)` : ''}, ` +
          `claim insert ${f.claimInsert} µs, record insert ${f.recordInsert} µs, the rest (broadcast and lease writes, checkpoints) ${f.rest} µs.`,
      );
    }
    out.push(`On ${b.cores} cores that work allows at most ${cell(b.cpuBoundMessagesPerSecond)} messages/s (${b.cpuBoundVsLimit}× the limit) if the processes overlapped perfectly; the run kept the cores ${Math.round(b.busyShare * 100)}% busy. 0.25× the limit (${cell(b.targetMessagesPerSecond)} messages/s) needs at most ${b.targetMicrosecondsPerMessage} µs per message in all.`);
  }
  const missed = results.targets.filter((g) => g.why);
  if (missed.length) {
    out.push('');
    for (const g of missed) out.push(`- ${g.name}: ${g.why}.`);
  }
  return `${out.join('\n')}\n`;
}
