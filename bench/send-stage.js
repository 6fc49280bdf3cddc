#!/usr/bin/env node
// The sending stage alone: render + build MIME + send over mailcron's SMTP mailer (pooled, two
// sends per connection where the sink offers PIPELINING) to a local sink. Users come from memory, no database.
// Usage: npm run build && node bench/send-stage.js [--count 20000] [--concurrency 15] [--port N] [--prebuilt]
//   --prebuilt: one message rendered and built once, then only sent (mailcron's SMTP pool alone).
//   Without --port it starts Postfix smtp-sink (/usr/sbin/smtp-sink) on a free port, or a Node
//   smtp-server sink when Postfix is not installed (or MAILCRON_BENCH_SINK=node). Prints one JSON object.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMailer } from '../dist/adapters/mail/index.js';
import { compileMessage, makeMessageId } from '../dist/core/message/index.js';
import { FROM, SAMPLE_SPEC, makeUsers } from './lib/message.js';
const SMTP_SINK = '/usr/sbin/smtp-sink';

/**
 * Renders, builds and sends `count` messages with `concurrency` sends in flight (a fixed set of
 * workers, so at most `concurrency` messages exist at once). Returns the throughput.
 */
export async function runSendStage({
  port,
  host = '127.0.0.1',
  count = 20_000,
  concurrency = 15,
  unsubscribeUrl = 'https://example.com/unsub?u={{_id}}',
  prebuilt = false,
}) {
  const users = makeUsers(Math.min(count, 50_000));
  // bench/run.js passes null: the CLI peers send no List-Unsubscribe header, so neither does its send stage.
  const compiled = compileMessage(SAMPLE_SPEC, { from: FROM, ...(unsubscribeUrl ? { unsubscribeUrl } : {}) });
  let next = 0;
  let sent = 0;
  let failed = 0;
  let firstError;
  let render = (user, n) => compiled.render(user, makeMessageId(`bench:${n}`, FROM));
  // The full mailer (MIME per message), or with --prebuilt the SMTP pool alone over one message.
  let mailer;
  if (prebuilt) {
    const { SmtpPool } = await import('../dist/adapters/mail/smtp-pool.js');
    const { buildMime } = await import('../dist/core/message/index.js');
    const pool = new SmtpPool({ size: concurrency, connection: { host, port, secure: false, ignoreTLS: true } });
    const once = render(users[0], 0);
    const raw = buildMime(once.message);
    render = () => once;
    mailer = { send: () => pool.send({ from: 'news@example.com', to: ['user@example.com'] }, raw), close: () => pool.close() };
  } else {
    mailer = createMailer({ kind: 'smtp', url: `smtp://${host}:${port}`, secure: false, host, port }, { concurrency, from: FROM });
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const user = users[n % users.length];
      const r = render(user, n);
      if (!r.ok) {
        failed++;
        continue;
      }
      try {
        await mailer.send(r.message);
        sent++;
      } catch (err) {
        failed++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await mailer.close();
  if (firstError && !sent) throw firstError;
  return {
    messages: sent,
    failed,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round(sent / seconds),
    clientCpuMicrosecondsPerMessage: sent ? Math.round((cpu.user + cpu.system) / sent) : null,
    ...(firstError ? { firstError: String(firstError.message ?? firstError) } : {}),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms = 5_000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`sink did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a sink: Postfix smtp-sink when installed, else a Node smtp-server that discards mail. */
export async function startSink({ kind = process.env.MAILCRON_BENCH_SINK } = {}) {
  const port = await freePort();
  if (kind !== 'node' && existsSync(SMTP_SINK)) {
    const args = [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '1000'];
    const child = spawn(SMTP_SINK, args, { stdio: 'ignore' });
    await waitForPort(port);
    return { kind: 'postfix smtp-sink', port, stop: async () => void child.kill('SIGTERM') };
  }
  const { SMTPServer } = await import('smtp-server');
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, cb) {
      stream.on('data', () => {});
      stream.on('end', () => cb());
    },
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { kind: 'node smtp-server', port, stop: () => new Promise((r) => server.close(r)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? dflt : Number(process.argv[i + 1]);
  };
  const count = arg('--count', 20_000);
  const concurrency = arg('--concurrency', 15);
  const prebuilt = process.argv.includes('--prebuilt');
  let port = arg('--port', undefined);
  let sink;
  if (port === undefined) {
    sink = await startSink();
    port = sink.port;
  }
  try {
    const result = await runSendStage({ port, count, concurrency, prebuilt });
    console.log(JSON.stringify({ bench: prebuilt ? 'send-stage --prebuilt' : 'send-stage', node: process.version, sink: sink?.kind ?? `port ${port}`, count, concurrency, ...result }, null, 2));
  } finally {
    await sink?.stop();
  }
}
