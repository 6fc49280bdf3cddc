// Probes an SMTP server one stage at a time — connect (TCP and greeting), EHLO, TLS (implicit for
// smtps://, STARTTLS otherwise) and AUTH — then QUITs without sending anything. Built on
// nodemailer's SMTPConnection, which performs the handshake; its transaction log (kept in
// memory, never printed: it can contain AUTH exchanges) tells how far the session got.
import { isIP } from 'node:net';
import { format } from 'node:util';
import SMTPConnection, { type SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import type { SmtpStage } from '../../core/doctor.js';
import { redactSecrets } from '../../core/redact.js';
import { smtpAuth, smtpConnectionOptions, type SmtpTransport } from './smtp-options.js';

type Stage = SmtpStage['stage'];
type SmtpError = Error & { code?: string; command?: string; responseCode?: number; response?: string; originalCode?: string };

const ORDER: Stage[] = ['connect', 'ehlo', 'tls', 'auth'];

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** The EHLO keywords from a multi-line 250 reply (`250-PIPELINING`, `250 AUTH PLAIN LOGIN`…). */
export function ehloKeywords(reply: string): string[] {
  return reply
    .split(/\r?\n/)
    .slice(1)
    .map((l) => l.replace(/^\d{3}[ -]/, '').trim())
    .filter(Boolean);
}

function fixFor(stage: Stage, err: SmtpError, t: SmtpTransport): string {
  const where = `${t.host}:${t.port}`;
  const code = err.originalCode ?? err.code ?? '';
  const msg = err.message ?? '';
  switch (stage) {
    case 'connect':
      if (/ECONNREFUSED/.test(code + msg)) return `nothing accepts connections on ${where}: check the host and port in SMTP_URL (587 submission, 465 smtps://, 25 relay)`;
      if (/ENOTFOUND|EAI_AGAIN|EDNS/.test(code + msg)) return `cannot resolve ${t.host}: check the host name in SMTP_URL`;
      if (/Greeting never received/i.test(msg)) return `${where} accepted the connection but sent no SMTP greeting: if it expects implicit TLS (usually port 465) use smtps://`;
      if (/ETIMEDOUT|timeout/i.test(code + msg)) {
        return `no answer from ${where} in time: check the host, the port and any firewall in between; if the port expects implicit TLS (usually 465) use smtps://`;
      }
      if (err.responseCode === 421 || err.responseCode === 554) return 'the server refuses this client (busy or blocked); try later or ask its operator';
      return `check that ${where} is an SMTP server and that SMTP_URL's scheme matches (smtps:// for implicit TLS on 465)`;
    case 'ehlo':
      return 'the server rejected EHLO/HELO; set ?name=<this host> in SMTP_URL if it wants a resolvable name';
    case 'tls':
      if (/certificate|self[- ]signed|CERT|unable to verify/i.test(code + msg)) {
        return 'the server certificate is not trusted: fix it on the server (name and chain), or for a test relay only add ?rejectUnauthorized=false';
      }
      if (/wrong version|EPROTO|packet length/i.test(code + msg)) return 'TLS handshake failed: use smtps:// only for implicit TLS (usually 465), smtp:// for STARTTLS (587)';
      return 'the TLS upgrade failed; check the server TLS configuration or use the port and scheme it expects';
    case 'auth':
      if (err.responseCode === 535 || /Invalid login|credentials/i.test(msg)) return 'the server rejected the user name or password in SMTP_URL; correct them (URL-encode special characters)';
      if (/does not support|not advertised|Unknown authentication/i.test(msg)) return 'the server offers no AUTH method mailcron can use here; many servers offer AUTH only after STARTTLS';
      return 'check the credentials in SMTP_URL and which AUTH methods the server accepts';
  }
}

/** TLS failures arrive as ESOCKET with the OpenSSL/Node code kept in `originalCode`. */
export function isTlsError(err: SmtpError): boolean {
  if (err.code === 'ETLS') return true;
  if (/^(CERT_|ERR_SSL|ERR_TLS|ERR_OSSL|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_TLS_CERT)/.test(err.originalCode ?? '')) return true;
  return /certificate|SSL routines|TLS/i.test(err.message ?? '');
}

type Line = { dir: 'S' | 'C'; text: string };

function sawEhloAccepted(transcript: Line[]): boolean {
  const i = transcript.findIndex((l) => l.dir === 'C' && /^(EHLO|HELO|LHLO)\b/i.test(l.text));
  return i !== -1 && transcript.slice(i + 1).some((l) => l.dir === 'S' && /^2/.test(l.text));
}

/** The server's reply to the last EHLO/HELO in the transcript. */
function ehloReplyIn(transcript: Line[]): string {
  let reply = '';
  transcript.forEach((l, i) => {
    if (l.dir === 'C' && /^(EHLO|HELO|LHLO)\b/i.test(l.text)) reply = transcript.slice(i + 1).find((x) => x.dir === 'S')?.text ?? '';
  });
  return reply;
}

function ehloDetail(reply: string): string {
  const keywords = ehloKeywords(reply);
  if (keywords.length === 0) return 'accepted (no extensions announced): one send per connection';
  // What the pool does with it (smtp-pool.ts): worth knowing when a relay caps connections per client.
  const pipelining = keywords.some((k) => /^PIPELINING$/i.test(k));
  return `extensions: ${keywords.join(', ')}; ${pipelining ? 'two sends per connection (PIPELINING)' : 'one send per connection (no PIPELINING)'}`;
}

/** The error's message, with OpenSSL's internal prefix reduced to the reason. */
function errorText(err: SmtpError): string {
  const msg = err.message || String(err);
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(msg);
  return ssl ? `TLS handshake failed: ${ssl[1]}` : msg;
}

function stageOfError(err: SmtpError, transcript: Line[]): Stage {
  const cmd = err.command ?? '';
  if (/^AUTH/.test(cmd) || err.code === 'EAUTH' || err.code === 'ENOAUTH') return 'auth';
  if (cmd === 'STARTTLS' || isTlsError(err)) return 'tls';
  if (cmd === 'EHLO' || cmd === 'HELO' || cmd === 'LHLO') return 'ehlo';
  if (!transcript.some((l) => l.dir === 'S')) return 'connect';
  if (transcript.some((l) => l.dir === 'C' && /^STARTTLS\b/i.test(l.text))) return 'tls';
  return sawEhloAccepted(transcript) ? 'auth' : 'ehlo';
}

/**
 * Runs the probe. Each stage gets `timeoutMs` (default 5 s); the whole probe is cut off after
 * 3 × timeoutMs whatever happens. Never throws: failures become stages with status `fail`, and
 * every text has the configured secrets removed.
 */
export async function probeSmtp(t: SmtpTransport, options: { timeoutMs?: number; secrets?: readonly string[] } = {}): Promise<SmtpStage[]> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const secrets = [...(options.secrets ?? []), ...(t.pass ? [t.pass] : [])];
  const clean = (s: string) => redactSecrets(s, secrets).replace(/\s+/g, ' ').trim();
  let connOptions: SMTPConnectionOptions;
  try {
    connOptions = smtpConnectionOptions(t, { connectionMs: timeoutMs, greetingMs: timeoutMs, socketMs: timeoutMs });
  } catch (err) {
    return [{ stage: 'connect', status: 'fail', detail: clean((err as Error).message), fix: 'correct SMTP_URL' }];
  }

  const transcript: Line[] = [];
  const log = (data: unknown, msg: unknown, ...args: unknown[]) => {
    const tnx = (data as { tnx?: string } | undefined)?.tnx;
    if (tnx === 'server' || tnx === 'client') transcript.push({ dir: tnx === 'server' ? 'S' : 'C', text: format(String(msg), ...args) });
  };
  const noop = () => {};
  connOptions.logger = { level: noop, trace: noop, debug: log, info: noop, warn: noop, error: noop, fatal: noop } as unknown as SMTPConnectionOptions['logger'];
  connOptions.transactionLog = true;
  connOptions.debug = false;
  connOptions.socketCloseTimeout = 1000;

  const conn = new SMTPConnection(connOptions);
  const stages = new Map<Stage, SmtpStage>();
  // Set once every stage has an answer: a late error (e.g. no reply to QUIT) changes nothing.
  let finished = false;
  const set = (stage: Stage, status: SmtpStage['status'], detail: string, fix?: string) => {
    stages.set(stage, { stage, status, detail: clean(detail), ...(fix ? { fix: clean(fix) } : {}) });
  };
  const where = `${t.host}:${t.port}`;

  const fail = (err: SmtpError) => {
    if (finished) return;
    const stage = stageOfError(err, transcript);
    // Earlier stages are marked passed only on evidence: a TLS error means TCP connected, a 2xx
    // after EHLO means EHLO passed. Anything else before the failure was not reached.
    const connected = transcript.some((l) => l.dir === 'S') || isTlsError(err) || stage === 'auth';
    for (const s of ORDER.slice(0, ORDER.indexOf(stage))) {
      if (stages.has(s)) continue;
      if (s === 'connect' && connected) set(s, 'ok', connectedDetail());
      else if (s === 'ehlo' && sawEhloAccepted(transcript)) set(s, 'ok', ehloDetail(ehloReplyIn(transcript)));
      else if (s === 'tls' && stage === 'auth') set(s, 'ok', conn.secure ? 'encrypted' : 'plaintext');
    }
    set(stage, 'fail', errorText(err), fixFor(stage, err, t));
  };
  const connectedDetail = () => {
    const greeting = transcript.find((l) => l.dir === 'S')?.text.split(/\r?\n/)[0];
    return `connected to ${where}${greeting ? `: ${greeting}` : ''}`;
  };

  const session = new Promise<void>((resolve) => {
    let settled = false;
    const done = () => {
      if (!settled) {
        settled = true;
        resolve();
      }
    };
    conn.on('error', (err: SmtpError) => {
      fail(err);
      done();
    });
    conn.on('end', done);
    conn.connect((connectErr) => {
      if (connectErr) {
        fail(connectErr as SmtpError);
        done();
        return;
      }
      set('connect', 'ok', connectedDetail());
      const ehloReply = typeof conn.lastServerResponse === 'string' ? conn.lastServerResponse : '';
      const keywords = ehloKeywords(ehloReply);
      set('ehlo', 'ok', ehloDetail(ehloReply));
      const usedStartTls = transcript.some((l) => l.dir === 'C' && /^STARTTLS\b/i.test(l.text));
      if (t.secure) set('tls', 'ok', 'implicit TLS (smtps://)');
      else if (conn.secure && usedStartTls) set('tls', 'ok', 'upgraded with STARTTLS');
      else if (connOptions.ignoreTLS) set('tls', 'skip', 'STARTTLS not attempted (?ignoreTLS=true in SMTP_URL)');
      else if (t.port === 587) set('tls', 'fail', 'the server does not offer STARTTLS on the submission port 587', 'enable STARTTLS on the server, or use smtps:// on port 465');
      else if (isLoopback(t.host)) set('tls', 'ok', 'plaintext: STARTTLS not offered (fine for a relay on this machine)');
      else set('tls', 'warn', 'plaintext: the server does not offer STARTTLS, so mail and credentials travel unencrypted', 'enable STARTTLS on the server, or use smtps:// if it offers implicit TLS');
      if (stages.get('tls')?.status === 'fail') return conn.close();

      const auth = smtpAuth(t);
      if (!auth) {
        const offered = keywords.find((k) => /^AUTH\b/i.test(k));
        set('auth', 'skip', offered ? `no credentials in SMTP_URL (server offers ${offered}); fine if the relay trusts this host` : 'no credentials in SMTP_URL');
        finished = true;
        conn.quit();
        return;
      }
      conn.login(auth, (err) => {
        if (err) {
          fail(err as SmtpError);
          conn.close();
          return;
        }
        set('auth', 'ok', `authenticated as ${auth.user}`);
        finished = true;
        conn.quit();
      });
    });
  });

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs * 3);
  });
  const outcome = await Promise.race([session, deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    fail(Object.assign(new Error(`no answer within ${(timeoutMs * 3) / 1000} s`), { code: 'ETIMEDOUT' }));
  }
  conn.close();
  for (const s of ORDER) if (!stages.has(s)) stages.set(s, { stage: s, status: 'skip', detail: 'not reached' });
  return ORDER.map((s) => stages.get(s)!);
}
