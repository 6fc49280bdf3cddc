// Mail transactions over a session that nodemailer opened (connect, EHLO, STARTTLS, AUTH — the
// parts worth a well-kept library). Once the server offers PIPELINING (RFC 2920), mailcron takes
// the socket over (smtp-takeover.ts) and runs MAIL/RCPT/DATA itself. nodemailer's send() cost
// twice the client CPU per message (a callback chain, a setImmediate per reply, a stream per body;
// 40 against 20 µs with pre-built messages, bench/send-stage.js --prebuilt) and takes one message
// at a time, while this session writes the next message's envelope in the same packet as the
// previous body (RFC 2920 allows message content to open a command group), so a busy connection
// costs one write and one read per message on each side. Errors have nodemailer's shape (`code`, `responseCode`, `response`, `command`), so
// classifySmtpError treats both paths alike.
import type { Socket } from 'node:net';
import { dataPayload } from './smtp-data.js';

export interface SmtpEnvelope {
  from: string;
  to: string[];
}

export interface SmtpSendInfo {
  response: string;
  accepted: string[];
  rejected: string[];
}

export type SmtpError = Error & { code?: string; responseCode?: number; response?: string; command?: string };

/** An error shaped like nodemailer's (`message: response`, `responseCode` from the reply). */
export function smtpError(message: string, code: string, response?: string, command?: string): SmtpError {
  const err: SmtpError = new Error(response ? `${message}: ${response}` : message);
  err.code = code;
  if (response) {
    err.response = response;
    const rc = Number(/^\d{3}/.exec(response)?.[0]);
    if (rc) err.responseCode = rc;
  }
  if (command) err.command = command;
  return err;
}

/**
 * A send that never reached the server (its connection ended first): the pool hands it to another
 * connection. Classified as transient if it ever escapes.
 */
export class UnsentError extends Error {
  override name = 'UnsentError';
  readonly code = 'ECONNECTION';
}

interface Txn {
  envelope: SmtpEnvelope;
  payload: Buffer;
  resolve(info: SmtpSendInfo): void;
  reject(err: unknown): void;
  accepted: string[];
  rejected: string[];
  rcptErrors: SmtpError[];
  mailError?: SmtpError;
}

type Expect = { kind: 'MAIL' | 'DATA' | 'BODY' | 'DOT'; txn: Txn } | { kind: 'RCPT'; txn: Txn; to: string } | { kind: 'RSET' };

const UNSAFE_ADDRESS = /[\r\n<>]/;
const NON_ASCII = /[\x80-\uFFFF]/;
/** A reply line longer than this without an end is not SMTP. */
const MAX_PENDING_TEXT = 64 * 1024;

export class SmtpSession {
  /** Sends not written yet. */
  private readonly queue: Txn[] = [];
  /** Replies expected, in the order the commands went out. */
  private readonly expected: Expect[] = [];
  /** Sends on the wire (envelope or body written, final reply not in yet). */
  private inFlight = 0;
  /** The send whose envelope is out and whose body is not: the next envelope waits for it. */
  private open: Txn | null = null;
  /** A body cleared to go (354), written on the next turn of the event loop with whatever envelope is queued by then. */
  private body: Buffer | null = null;
  private rest = '';
  private lines: string[] = [];
  private ended = false;
  private quitting = false;
  private readonly endListeners: (() => void)[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly options: { smtpUtf8: boolean; timeoutMs: number },
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error & { code?: string }) => this.shutdown(Object.assign(smtpError(err.message, 'ESOCKET', undefined, 'CONN'), { originalCode: err.code })));
    socket.on('close', () => this.shutdown(smtpError('Connection closed unexpectedly', 'ECONNECTION', undefined, 'CONN')));
    socket.setTimeout(options.timeoutMs, () => this.onTimeout());
  }

  /** Sends queued or on the wire. */
  get load(): number {
    return this.queue.length + this.inFlight;
  }

  get destroyed(): boolean {
    return this.ended;
  }

  /** Calls `listener` once, when the connection has ended for whatever reason. */
  onEnd(listener: () => void): void {
    if (this.ended) queueMicrotask(listener);
    else this.endListeners.push(listener);
  }

  send(envelope: SmtpEnvelope, raw: string): Promise<SmtpSendInfo> {
    if (this.ended || this.quitting) return Promise.reject(new UnsentError('The SMTP connection is closed'));
    const bad = [envelope.from, ...envelope.to].find((a) => UNSAFE_ADDRESS.test(a));
    if (bad !== undefined) return Promise.reject(smtpError(`Invalid address ${JSON.stringify(bad)}`, 'EENVELOPE', undefined, 'API'));
    if (envelope.to.length === 0) return Promise.reject(smtpError('No recipients defined', 'EENVELOPE', undefined, 'API'));
    return new Promise<SmtpSendInfo>((resolve, reject) => {
      this.queue.push({ envelope, payload: dataPayload(raw), resolve, reject, accepted: [], rejected: [], rcptErrors: [] });
      if (!this.open && !this.body) this.write([]);
    });
  }

  /** QUIT once the sends already taken are done. */
  quit(): void {
    this.quitting = true;
    if (this.load === 0) this.sayQuit();
  }

  /** Drops the connection now; sends on the wire fail, sends not written yet go back as UnsentError. */
  close(): void {
    this.socket.destroy();
    this.shutdown(smtpError('Connection closed', 'ECONNECTION', undefined, 'CONN'));
  }

  private sayQuit(): void {
    if (this.ended) return;
    this.socket.end('QUIT\r\n');
    this.shutdown(smtpError('Connection closed', 'ECONNECTION', undefined, 'CONN'));
  }

  /**
   * Writes `head` (a body, a RSET) and, when no envelope is out, the next send's envelope, in one
   * socket write. The next envelope goes out only once the server has no open transaction left
   * (its predecessor's body is written, or it was reset), so a failed envelope never spills over.
   */
  private write(head: Buffer[]): void {
    if (this.ended) return;
    const next = this.open ? undefined : this.queue.shift();
    if (next) {
      const { from, to } = next.envelope;
      const utf8 = this.options.smtpUtf8 && (NON_ASCII.test(from) || to.some((t) => NON_ASCII.test(t)));
      let cmd = `MAIL FROM:<${from}>${utf8 ? ' SMTPUTF8' : ''}\r\n`;
      this.expected.push({ kind: 'MAIL', txn: next });
      for (const t of to) {
        cmd += `RCPT TO:<${t}>\r\n`;
        this.expected.push({ kind: 'RCPT', txn: next, to: t });
      }
      cmd += 'DATA\r\n';
      this.expected.push({ kind: 'DATA', txn: next });
      this.open = next;
      this.inFlight++;
      head.push(Buffer.from(cmd, 'utf8'));
    }
    if (head.length === 0) return;
    if (head.length === 1) {
      this.socket.write(head[0]!);
      return;
    }
    // One writev: one syscall and, over loopback, one wake-up of the receiver.
    this.socket.cork();
    for (const b of head) this.socket.write(b);
    this.socket.uncork();
  }

  private onData(chunk: Buffer): void {
    const text = this.rest + chunk.toString('latin1');
    let start = 0;
    let at: number;
    while ((at = text.indexOf('\n', start)) !== -1) {
      const line = text.charCodeAt(at - 1) === 13 ? text.slice(start, at - 1) : text.slice(start, at);
      start = at + 1;
      if (line.length === 0) continue;
      if (line.charCodeAt(3) === 45 /* - */) {
        this.lines.push(line);
        continue;
      }
      const reply = this.lines.length ? [...this.lines.splice(0), line].join('\n') : line;
      this.onReply(Number(reply.slice(0, 3)), NON_ASCII.test(reply) ? Buffer.from(reply, 'latin1').toString('utf8') : reply);
      if (this.ended) return;
    }
    this.rest = text.slice(start);
    if (this.rest.length > MAX_PENDING_TEXT) this.protocolError('Reply line too long');
  }

  private onReply(code: number, reply: string): void {
    const e = this.expected.shift();
    if (!e || !(code >= 200 && code < 600)) {
      // RFC 5321 4.2: a server about to close may say 421 at any time, even unasked.
      if (!e && code === 421) return this.shutdown(smtpError('The server closed the connection', 'ECONNECTION', reply, 'CONN'));
      return this.protocolError(`Unexpected reply: ${reply.slice(0, 200)}`);
    }
    const ok = code < 400;
    switch (e.kind) {
      case 'MAIL':
        if (!ok) e.txn.mailError = smtpError('Mail command failed', 'EENVELOPE', reply, 'MAIL FROM');
        break;
      case 'RCPT':
        if (ok) e.txn.accepted.push(e.to);
        else {
          e.txn.rejected.push(e.to);
          e.txn.rcptErrors.push(Object.assign(smtpError('Recipient command failed', 'EENVELOPE', reply, 'RCPT TO'), { recipient: e.to }));
        }
        break;
      case 'DATA':
        this.onDataReply(e.txn, code, reply);
        break;
      case 'BODY':
        this.finish(e.txn, ok ? null : smtpError('Message failed', 'EMESSAGE', reply, 'DATA'), reply);
        break;
      case 'DOT':
        break; // the answer to a "." that only ended a DATA the server should have refused
      case 'RSET':
        if (!ok) return this.protocolError(`RSET failed: ${reply}`);
        break;
    }
    if (code === 421) {
      // The send it answered fails with its own error; the others on this connection with this one.
      if ('txn' in e) e.txn.reject(e.txn.mailError ?? e.txn.rcptErrors.at(-1) ?? smtpError('The server closed the connection', 'ECONNECTION', reply, 'CONN'));
      return this.shutdown(smtpError('The server closed the connection', 'ECONNECTION', reply, 'CONN'));
    }
    if (this.quitting && this.load === 0) this.sayQuit();
  }

  /** The reply to DATA decides the envelope (all its replies are in by now). */
  private onDataReply(t: Txn, code: number, reply: string): void {
    this.open = null;
    let err = t.mailError ?? null;
    if (!err && t.accepted.length === 0) {
      // nodemailer's choice of reply: a deferral (4xx) if any, so the send is retried.
      const shown = t.rcptErrors.find((x) => (x.responseCode ?? 500) < 500) ?? t.rcptErrors.at(-1);
      err = Object.assign(smtpError("Can't send mail - all recipients were rejected", 'EENVELOPE', shown?.response ?? reply, 'RCPT TO'), { rejected: t.rejected, rejectedErrors: t.rcptErrors });
    }
    if (!err && code !== 354) err = smtpError('Data command failed', 'EENVELOPE', reply, 'DATA');
    if (!err) {
      this.expected.push({ kind: 'BODY', txn: t });
      // The server's replies to the previous message and to this envelope usually arrive in one
      // packet, and the send that follows the previous message is only queued a few promise
      // turns later: waiting one turn lets its envelope ride with this body.
      this.body = t.payload;
      setImmediate(() => {
        const body = this.body;
        this.body = null;
        if (body) this.write([body]);
      });
      return;
    }
    this.finish(t, err, reply);
    if (code === 354) {
      // Refused recipients yet a 354: end that DATA with an empty message, as nodemailer does.
      this.expected.push({ kind: 'DOT', txn: t });
      return this.write([Buffer.from('.\r\n')]);
    }
    // The server may still hold the MAIL FROM: reset before the next envelope.
    this.expected.push({ kind: 'RSET' });
    this.write([Buffer.from('RSET\r\n')]);
  }

  private finish(t: Txn, err: SmtpError | null, reply: string): void {
    this.inFlight--;
    if (err) t.reject(err);
    else t.resolve({ response: reply, accepted: t.accepted, rejected: t.rejected });
  }

  private onTimeout(): void {
    if (this.load === 0) return this.sayQuit(); // idle too long: leave quietly
    this.socket.destroy();
    this.shutdown(smtpError('Timeout', 'ETIMEDOUT', undefined, 'CONN'));
  }

  private protocolError(message: string): void {
    this.socket.destroy();
    this.shutdown(smtpError(message, 'EPROTOCOL', undefined, 'CONN'));
  }

  /**
   * Ends the session. A send whose body went out may have been delivered: it fails with `err`.
   * Any other (queued, or only its envelope out) cannot have been: it goes back as UnsentError, for
   * the pool to hand to another connection.
   */
  private shutdown(err: SmtpError): void {
    if (this.ended) return;
    this.ended = true;
    this.open = null;
    this.body = null;
    const bodySent = new Set<Txn>();
    const envelopeOnly = new Set<Txn>();
    for (const e of this.expected.splice(0)) {
      if (e.kind === 'BODY') bodySent.add(e.txn);
      else if (e.kind !== 'RSET' && e.kind !== 'DOT') envelopeOnly.add(e.txn);
    }
    this.inFlight = 0;
    const unsent = () => new UnsentError('The SMTP connection ended before this message was sent');
    for (const t of bodySent) t.reject(err);
    for (const t of envelopeOnly) if (!bodySent.has(t)) t.reject(unsent());
    for (const t of this.queue.splice(0)) t.reject(unsent());
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.destroy();
    for (const l of this.endListeners.splice(0)) l();
  }
}
