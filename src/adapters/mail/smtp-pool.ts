// A small pool of nodemailer SMTPConnections. nodemailer's own pooled transporter wraps every
// message in MailMessage/MimeNode streams even for `raw` input; measured on this machine it carried
// ~4,000 pre-built messages/s where bare SMTPConnections over the same 15 sockets carried ~10,000.
// Connections open lazily up to `size`, stay open for the run, and are replaced when the server
// closes one (421, idle timeout, network error) — a failure never poisons the pool.
import SMTPConnection, { type SMTPConnectionOptions, type SMTPConnectionSendInfo } from 'nodemailer/lib/smtp-connection';
import { smtpMessage } from './smtp-data.js';

export interface SmtpPoolOptions {
  /** Maximum open connections (= concurrent sends). */
  size: number;
  connection: SMTPConnectionOptions;
  auth?: { user: string; pass: string };
}

export interface SmtpEnvelope {
  from: string;
  to: string[];
}

type SmtpError = Error & { code?: string; responseCode?: number; command?: string };

function poolError(message: string, code: string): SmtpError {
  return Object.assign(new Error(message), { code });
}

/** Connects, says EHLO (and STARTTLS as configured) and logs in. Rejects with nodemailer's error. */
export function openConnection(options: SMTPConnectionOptions, auth?: { user: string; pass: string }): Promise<SMTPConnection> {
  return new Promise((resolve, reject) => {
    const conn = new SMTPConnection(options);
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      conn.close();
      reject(err);
    };
    conn.on('error', fail); // stays attached: a later 'error' without a listener would crash the process
    conn.once('end', () => fail(poolError('Connection closed before the session was ready', 'ECONNECTION')));
    conn.connect((err) => {
      if (err) return fail(err);
      if (!auth) {
        settled = true;
        return resolve(conn);
      }
      if (!conn.allowsAuth) {
        return fail(
          poolError(
            'The SMTP server does not offer AUTH on this connection, but SMTP_URL has credentials: use smtps://, or add ?requireTLS=true for STARTTLS',
            'EAUTH',
          ),
        );
      }
      conn.login({ credentials: { user: auth.user, pass: auth.pass } }, (loginErr) => {
        if (loginErr) return fail(loginErr);
        settled = true;
        resolve(conn);
      });
    });
  });
}

function sendOn(conn: SMTPConnection, envelope: SmtpEnvelope, raw: string): Promise<SMTPConnectionSendInfo> {
  return new Promise((resolve, reject) => {
    // nodemailer takes a string or anything with pipe() (its types say string | Readable).
    conn.send(envelope, smtpMessage(raw) as unknown as string, (err, info) => (err ? reject(err) : resolve(info!)));
  });
}

export class SmtpPool {
  private readonly idle: SMTPConnection[] = [];
  private readonly live = new Set<SMTPConnection>();
  private opening = 0;
  private readonly waiters: { resolve: (c: SMTPConnection) => void; reject: (e: unknown) => void }[] = [];
  private closed = false;
  private readonly ended = new Set<() => void>();

  constructor(private readonly options: SmtpPoolOptions) {}

  /** Connections open or being opened. */
  get size(): number {
    return this.live.size + this.opening;
  }

  private track(conn: SMTPConnection): void {
    this.live.add(conn);
    conn.once('end', () => {
      if (!this.live.delete(conn)) return;
      const i = this.idle.indexOf(conn);
      if (i !== -1) this.idle.splice(i, 1);
      for (const done of this.ended) done();
      this.refill();
    });
  }

  private async grow(): Promise<SMTPConnection> {
    this.opening++;
    try {
      const conn = await openConnection(this.options.connection, this.options.auth);
      this.opening--;
      this.track(conn);
      return conn;
    } catch (err) {
      this.opening--;
      // Sends queued behind this attempt would otherwise wait for a connection that never comes.
      queueMicrotask(() => this.refill());
      throw err;
    }
  }

  /** A waiter gets a new connection when one ended or failed to open. */
  private refill(): void {
    if (this.closed || !this.waiters.length || this.size >= this.options.size) return;
    const waiter = this.waiters.shift()!;
    this.grow().then(waiter.resolve, waiter.reject);
  }

  private acquire(): Promise<SMTPConnection> {
    if (this.closed) return Promise.reject(poolError('The mailer is closed', 'ECONNECTION'));
    while (this.idle.length) {
      const conn = this.idle.pop()!;
      if (!conn.destroyed) return Promise.resolve(conn);
    }
    if (this.size < this.options.size) return this.grow();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(conn: SMTPConnection): void {
    if (conn.destroyed) return;
    if (this.closed) return conn.quit();
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(conn);
    else this.idle.push(conn);
  }

  /**
   * Sends one raw message. Rejects with nodemailer's error (`responseCode`, `code`, `response`
   * kept). After a refused envelope or message the connection is RSET and reused; after anything
   * else (421, timeouts, dropped sockets) it is closed and a fresh one replaces it on demand.
   */
  async send(envelope: SmtpEnvelope, raw: string): Promise<SMTPConnectionSendInfo> {
    const conn = await this.acquire();
    try {
      const info = await sendOn(conn, envelope, raw);
      this.release(conn);
      return info;
    } catch (err) {
      const e = err as SmtpError;
      if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421 && !conn.destroyed) {
        conn.reset((resetErr) => (resetErr ? conn.close() : this.release(conn)));
      } else {
        conn.close();
      }
      throw err;
    }
  }

  /** Opens one extra connection (connect, EHLO, STARTTLS, AUTH) and quits it. */
  async verify(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const opening = openConnection(this.options.connection, this.options.auth);
    const onAbort = () => opening.then((c) => c.close(), () => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const conn = await opening;
      signal?.throwIfAborted();
      conn.quit();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Refuses new sends, QUITs idle connections and those finishing a send; waits up to `graceMs` for them to close. */
  async close(graceMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(poolError('The mailer is closed', 'ECONNECTION'));
    for (const conn of this.idle.splice(0)) conn.quit();
    if (!this.live.size) return;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (this.live.size) return;
        clearTimeout(timer);
        this.ended.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.ended.delete(check);
        for (const conn of this.live) conn.close();
        resolve();
      }, graceMs);
      timer.unref();
      this.ended.add(check);
    });
  }
}
