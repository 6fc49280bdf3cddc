// A real SMTP server on 127.0.0.1 for integration tests, built on the `smtp-server` package, with
// per-test behaviour (4xx/5xx replies, dropped connections, slow replies, connection limits, AUTH).
// Messages are kept as raw strings with cheaply parsed headers: tests send thousands of them, and a
// full MIME parse per message would dominate the run time.
import type { Socket, AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession, type SMTPServerDataStream } from 'smtp-server';

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: string;
  /** Lower-cased header names, first value of each, unfolded, RFC 2047 encoded-words decoded. */
  headers: Record<string, string>;
  subject: string;
  /** The Message-ID header as sent, angle brackets included (like nodemailer's `info.messageId`). */
  messageId: string;
  sessionId: string;
  /** Whether the session was encrypted (STARTTLS or implicit TLS). */
  secure: boolean;
  receivedAt: number;
}

export interface SmtpReply {
  code: number;
  message?: string;
}

export interface SmtpBehaviour {
  /**
   * Reply for a RCPT TO; return null to accept, or {code, message} (e.g. 550 / 451 / 421).
   * `session.count` is the 1-based number of RCPT TO commands seen on this connection, this one included.
   * A 421 reply closes the connection (the server does so for any 421).
   */
  onRcpt?(address: string, session: { id: string; count: number }): SmtpReply | null;
  /** Reply after DATA; return null to accept. Called with the parsed envelope + raw. */
  onData?(msg: { from: string; to: string[]; raw: string }): SmtpReply | null;
  /** Fraction (0..1) of DATA commands answered 451 at random (deterministic if `seed` given). */
  random451?: number;
  seed?: number;
  /** Destroy the socket mid-transaction (after DATA is received, before replying) for matching messages. */
  dropOnData?(msg: { from: string; to: string[] }): boolean;
  /** Delay every reply to DATA by this many ms (to stall past a client timeout). */
  stallMs?: number;
  /** Accept at most this many concurrent connections; beyond that greet with 421 and close. */
  maxConnections?: number;
  /**
   * TLS with smtp-server's built-in self-signed certificate: `starttls` offers STARTTLS on the
   * plain port, `implicit` speaks TLS from the first byte (smtps). Fixed when the server starts.
   */
  tls?: 'starttls' | 'implicit';
  /** Leave PIPELINING out of the EHLO reply (a server the client must talk to one command at a time). */
  hidePipelining?: boolean;
  /** Require AUTH PLAIN/LOGIN with these credentials (535 otherwise). */
  auth?: { user: string; pass: string };
}

export interface RejectedAttempt {
  stage: 'rcpt' | 'data' | 'connect';
  code: number;
  to?: string[];
}

export interface DroppedMessage {
  from: string;
  to: string[];
  /** `dropOnData`: the server cut the connection; `client-gone`: the client left during a stall. */
  reason: 'dropOnData' | 'client-gone';
}

export interface TestSmtp {
  port: number;
  host: '127.0.0.1';
  /** smtp://127.0.0.1:PORT */
  url: string;
  /** Accepted messages only, in the order the server accepted them. */
  messages: ReceivedMessage[];
  rejected: RejectedAttempt[];
  /** Messages received in full but never answered (dropped by `dropOnData`, or client gone during `stallMs`). */
  dropped: DroppedMessage[];
  /** Replace the behaviour at any time; it applies to the next command of every connection. */
  setBehaviour(b: SmtpBehaviour): void;
  /** Connections currently open that were greeted with 220 (refused ones are not counted). */
  openConnections(): number;
  /** Highest number of connections open at once since start or the last reset(). */
  maxConcurrentConnections(): number;
  /** Accepted messages per envelope recipient (address as given in RCPT TO). */
  countByRecipient(): Map<string, number>;
  /** Clear messages, rejected, dropped and counters (behaviour and open connections are kept). */
  reset(): void;
  /** Close the server and destroy every socket. Idempotent. */
  stop(): Promise<void>;
  /** Listen again on the same port after stop(), with the current behaviour; recorded data is kept. */
  restart(): Promise<void>;
}

function replyError(reply: SmtpReply, fallback: string): Error & { responseCode: number } {
  const err = new Error(reply.message ?? fallback) as Error & { responseCode: number };
  err.responseCode = reply.code;
  return err;
}

/** mulberry32: small, fast, good enough to make random451 reproducible. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENCODED_WORD = /=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g;

function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  // Whitespace between adjacent encoded-words is not part of the text (RFC 2047 section 6.2).
  const joined = value.replace(/(\?=)\s+(=\?)/g, '$1$2');
  return joined.replace(ENCODED_WORD, (whole, charset: string, enc: string, text: string) => {
    try {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            );
      return new TextDecoder(charset.toLowerCase()).decode(bytes);
    } catch {
      return whole;
    }
  });
}

/** Header block → first value of each header, names lower-cased, folded lines joined. */
export function parseHeaders(raw: string): Record<string, string> {
  let end = raw.indexOf('\r\n\r\n');
  if (end < 0) end = raw.indexOf('\n\n');
  const block = end < 0 ? raw : raw.slice(0, end);
  const headers: Record<string, string> = {};
  let name = '';
  let value = '';
  const flush = () => {
    if (name && !(name in headers)) headers[name] = decodeWords(value.trim());
  };
  for (const line of block.split(/\r?\n/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && name) {
      value += ' ' + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon <= 0) {
      name = '';
      continue;
    }
    name = line.slice(0, colon).trim().toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return headers;
}

export async function startTestSmtp(behaviour: SmtpBehaviour = {}, options: { port?: number } = {}): Promise<TestSmtp> {
  let b: SmtpBehaviour = behaviour;
  let random = seededRandom(behaviour.seed ?? Date.now());
  let server: SMTPServer | null = null;
  let port = options.port ?? 0;
  // Net sockets by client port: the session knows its remote port, so this finds its socket.
  const sockets = new Map<number, Socket>();
  const accepted = new Set<string>();
  const rcptCounts = new Map<string, number>();
  let peak = 0;

  const messages: ReceivedMessage[] = [];
  const rejected: RejectedAttempt[] = [];
  const dropped: DroppedMessage[] = [];

  const envelope = (session: SMTPServerSession) => ({
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    to: session.envelope.rcptTo.map((r) => r.address),
  });

  const socketOf = (session: SMTPServerSession) => sockets.get(session.remotePort);

  function onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    if (b.maxConnections !== undefined && accepted.size >= b.maxConnections) {
      rejected.push({ stage: 'connect', code: 421 });
      callback(replyError({ code: 421, message: 'Too many connections, try again later' }, ''));
      return;
    }
    const id = session.id;
    accepted.add(id);
    peak = Math.max(peak, accepted.size);
    // The socket's own close event, not onClose (which runs a tick later), keeps the count exact.
    const socket = socketOf(session);
    if (socket && !socket.destroyed) {
      socket.once('close', () => {
        accepted.delete(id);
        rcptCounts.delete(id);
      });
    } else {
      accepted.delete(id);
    }
    callback();
  }

  function onAuth(
    auth: { method: string; username?: string; password?: string | null },
    _session: SMTPServerSession,
    callback: (err: Error | null | undefined, response?: { user?: unknown }) => void,
  ): void {
    const want = b.auth;
    if (!want || (auth.username === want.user && auth.password === want.pass)) {
      callback(null, { user: auth.username ?? 'anonymous' });
      return;
    }
    callback(replyError({ code: 535, message: 'Authentication credentials invalid' }, ''));
  }

  function onRcptTo(address: { address: string }, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const count = (rcptCounts.get(session.id) ?? 0) + 1;
    rcptCounts.set(session.id, count);
    const reply = b.onRcpt?.(address.address, { id: session.id, count }) ?? null;
    if (reply) {
      rejected.push({ stage: 'rcpt', code: reply.code, to: [address.address] });
      callback(replyError(reply, `Recipient rejected (${reply.code})`));
      return;
    }
    callback();
  }

  function onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void {
    const chunks: Buffer[] = [];
    let failed = false;
    stream.on('data', (c: Buffer) => chunks.push(c));
    // The client may vanish mid-message; the server then destroys the stream with an error.
    stream.on('error', () => {
      failed = true;
    });
    stream.on('end', () => {
      if (failed) return;
      void finish(Buffer.concat(chunks).toString('utf8'));
    });

    async function finish(raw: string): Promise<void> {
      const env = envelope(session);
      if (b.dropOnData?.(env)) {
        dropped.push({ ...env, reason: 'dropOnData' });
        socketOf(session)?.destroy();
        return;
      }
      if (b.stallMs && b.stallMs > 0) {
        await new Promise((r) => setTimeout(r, b.stallMs));
        const socket = socketOf(session);
        if (!socket || socket.destroyed) {
          dropped.push({ ...env, reason: 'client-gone' });
          return;
        }
      }
      let reply: SmtpReply | null = null;
      if (b.random451 && random() < b.random451) reply = { code: 451, message: 'Temporary failure, try again later' };
      reply ??= b.onData?.({ ...env, raw }) ?? null;
      if (reply) {
        rejected.push({ stage: 'data', code: reply.code, to: env.to });
        callback(replyError(reply, `Message rejected (${reply.code})`));
        return;
      }
      const headers = parseHeaders(raw);
      messages.push({
        ...env,
        raw,
        headers,
        subject: headers['subject'] ?? '',
        messageId: headers['message-id'] ?? '',
        sessionId: session.id,
        secure: Boolean((session as { secure?: boolean }).secure),
        receivedAt: Date.now(),
      });
      callback(null, `OK queued as ${messages.length}`);
    }
  }

  async function listen(): Promise<void> {
    const s = new SMTPServer({
      name: 'mailcron-test',
      disabledCommands: b.tls === 'starttls' ? [] : ['STARTTLS'],
      secure: b.tls === 'implicit',
      allowInsecureAuth: true,
      authOptional: !b.auth,
      authMethods: ['PLAIN', 'LOGIN'],
      hidePIPELINING: !!b.hidePipelining,
      disableReverseLookup: true,
      logger: false,
      closeTimeout: 1000,
      maxAllowedUnauthenticatedCommands: false,
      onConnect,
      onAuth: onAuth as never,
      onRcptTo,
      onData,
    });
    s.on('error', () => {
      // Client resets (ECONNRESET) land here; the test sees their effect on the client side.
    });
    s.server.on('connection', (socket: Socket) => {
      const key = socket.remotePort;
      if (key === undefined) return;
      sockets.set(key, socket);
      socket.once('close', () => {
        if (sockets.get(key) === socket) sockets.delete(key);
      });
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      s.server.once('error', onError);
      s.listen(port, '127.0.0.1', () => {
        s.server.off('error', onError);
        resolve();
      });
    });
    port = (s.server.address() as AddressInfo).port;
    server = s;
  }

  async function stop(): Promise<void> {
    const s = server;
    if (!s) return;
    server = null;
    for (const socket of sockets.values()) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    accepted.clear();
    rcptCounts.clear();
  }

  await listen();

  const api: TestSmtp = {
    get port() {
      return port;
    },
    host: '127.0.0.1',
    get url() {
      return b.tls === 'implicit'
        ? `smtps://127.0.0.1:${port}?rejectUnauthorized=false`
        : b.tls === 'starttls'
          ? `smtp://127.0.0.1:${port}?requireTLS=true&rejectUnauthorized=false`
          : `smtp://127.0.0.1:${port}`;
    },
    messages,
    rejected,
    dropped,
    setBehaviour(next: SmtpBehaviour) {
      b = next;
      if (next.seed !== undefined) random = seededRandom(next.seed);
      // The server reads this option per command, so switching AUTH on or off takes effect at once.
      if (server) server.options.authOptional = !next.auth;
    },
    openConnections: () => accepted.size,
    maxConcurrentConnections: () => peak,
    countByRecipient() {
      const counts = new Map<string, number>();
      for (const m of messages) for (const to of m.to) counts.set(to, (counts.get(to) ?? 0) + 1);
      return counts;
    },
    reset() {
      messages.length = 0;
      rejected.length = 0;
      dropped.length = 0;
      peak = accepted.size;
    },
    stop,
    async restart() {
      await stop();
      await listen();
    },
  };
  return api;
}
