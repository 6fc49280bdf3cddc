// Turns the measurements into the figures of bench/results.json: throughput, ratios, targets, and
// the Markdown table the README shows.
import { round } from './measure.js';

const ratio = (a, b) => (a != null && b != null && b > 0 ? round(a / b, 2) : null);

export function ratios(t, scale = []) {
  // The same end-to-end ratio on the largest scale run (users / wall time): start-up — process,
  // connection, FerretDB's first sorted batch — weighs less there than on the throughput run.
  const largest = scale.filter((s) => s.secondsPerUser != null && s.seconds > 0).at(-1);
  return {
    mailcronVsNaive: ratio(t.mailcron, t.naive),
    mailcronVsSeedStyle: ratio(t.mailcron, t.seedStyle),
    mailcronVsLimit: ratio(t.mailcron, t.limit),
    sendStageVsLimit: ratio(t.sendStage, t.limit),
    mailcronAtScaleVsLimit: largest ? ratio(largest.users / largest.seconds, t.limit) : null,
    mailcronAtScaleUsers: largest?.users ?? null,
  };
}

/** The issue's targets, each with the measured value and whether it holds (null: not measured). */
export function targets(results) {
  const r = results.ratios;
  const scale = results.scale.filter((s) => s.secondsPerUser != null);
  const first = scale[0];
  const last = scale.length > 1 ? scale[scale.length - 1] : undefined;
  const middle = scale.length > 2 ? scale[scale.length - 2] : undefined;
  const rows = [];
  const add = (name, value, limit, cmp) => rows.push({ name, value, target: `${cmp} ${limit}`, pass: value == null ? null : cmp === '≥' ? value >= limit : value <= limit });
  add('mailcron / naive', r.mailcronVsNaive, 1.0, '≥');
  add('mailcron / seed-style', r.mailcronVsSeedStyle, 3, '≥');
  add('mailcron / smtp-source limit', r.mailcronVsLimit, 0.25, '≥');
  if (r.mailcronAtScaleUsers) add(`mailcron / smtp-source limit, ${label(r.mailcronAtScaleUsers)}-user scale run`, r.mailcronAtScaleVsLimit, 0.25, '≥');
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
  add(`schedule: ${results.schedule.due ?? 1000} due among ${label(results.schedule.largeUsers)} / among ${label(results.schedule.smallUsers)}`, results.schedule.ratio, 2, '≤');
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
  return `${out.join('\n')}\n`;
}
