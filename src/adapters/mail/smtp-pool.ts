// A small pool of SMTP connections, opened by nodemailer's SMTPConnection (connect, EHLO,
// STARTTLS, AUTH). nodemailer's own pooled transporter wraps every message in MailMessage/MimeNode
// streams even for `raw` input; measured on this machine it carried ~4,000 pre-built messages/s
// where bare SMTPConnections over the same 15 sockets carried ~10,000. Where the server offers
// PIPELINING the transactions themselves run in smtp-session.ts (cheaper still); elsewhere through
// nodemailer. Connections open lazily up to `size`, stay open for the run, and are replaced when
// the server closes one (421, idle timeout, network error) — a failure never poisons the pool.
import SMTPConnection, { type SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import { smtpMessage } from './smtp-data.js';
import { smtpError, UnsentError, type SmtpEnvelope, type SmtpError, type SmtpSendInfo } from './smtp-session.js';
import { takeOverSession } from './smtp-takeover.js';

export type { SmtpEnvelope, SmtpSendInfo } from './smtp-session.js';

export interface SmtpPoolOptions {
  /** Maximum concurrent sends: as many connections, or half as many where the server pipelines. */
  size: number;
  connection: SMTPConnectionOptions;
  auth?: { user: string; pass: string };
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
    conn.once('end', () => fail(smtpError('Connection closed before the session was ready', 'ECONNECTION')));
    conn.connect((err) => {
      if (err) return fail(err);
      if (!auth) {
        settled = true;
        return resolve(conn);
      }
      if (!conn.allowsAuth) {
        return fail(
          smtpError(
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

/** One pooled connection, whichever code runs its transactions. */
interface Channel {
  send(envelope: SmtpEnvelope, raw: string): Promise<SmtpSendInfo>;
  readonly destroyed: boolean;
  quit(): void;
  close(): void;
  onEnd(listener: () => void): void;
}

/** Transactions through nodemailer: for servers without PIPELINING. */
class NodemailerChannel implements Channel {
  constructor(private readonly conn: SMTPConnection) {}

  get destroyed(): boolean {
    return this.conn.destroyed;
  }

  /**
   * After a refused envelope or message the connection is RSET and kept; after anything else
   * (421, timeouts, dropped sockets) it is closed.
   */
  async send(envelope: SmtpEnvelope, raw: string): Promise<SmtpSendInfo> {
    const conn = this.conn;
    try {
      return await new Promise<SmtpSendInfo>((resolve, reject) => {
        // nodemailer takes a string or anything with pipe() (its types say string | Readable).
        conn.send(envelope, smtpMessage(raw) as unknown as string, (err, info) => (err ? reject(err) : resolve(info as unknown as SmtpSendInfo)));
      });
    } catch (err) {
      const e = err as SmtpError;
      if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421 && !conn.destroyed) {
        await new Promise<void>((done) =>
          conn.reset((resetErr) => {
            if (resetErr) conn.close();
            done();
          }),
        );
      } else {
        conn.close();
      }
      throw err;
    }
  }

  quit(): void {
    this.conn.quit();
  }

  close(): void {
    this.conn.close();
  }

  onEnd(listener: () => void): void {
    this.conn.once('end', listener);
  }
}

/**
 * Sends one pipelined connection carries at once: one finishing its body while the next one's
 * envelope rides in the same packet. More would only queue on the server.
 */
const PIPELINE_DEPTH = 2;

export class SmtpPool {
  /** Open connections and how many sends each has taken. */
  private readonly live = new Map<Channel, number>();
  private opening = 0;
  /** Sends per connection: known once the first connection has seen the server's EHLO. */
  private depth = 1;
  private known = false;
  private readonly waiters: { resolve: (c: Channel) => void; reject: (e: unknown) => void }[] = [];
  private closed = false;
  private readonly ended = new Set<() => void>();

  constructor(private readonly options: SmtpPoolOptions) {}

  /** Connections open or being opened. */
  get size(): number {
    return this.live.size + this.opening;
  }

  /** One connection per concurrent send, or one per PIPELINE_DEPTH sends where the server pipelines. */
  private get maxConnections(): number {
    return Math.ceil(this.options.size / this.depth);
  }

  /** Until the first connection is up, its EHLO decides how many the pool opens: the others wait. */
  private get mayGrow(): boolean {
    return (this.known || this.opening === 0) && this.size < this.maxConnections;
  }

  private track(conn: Channel): void {
    this.live.set(conn, 1); // taken by the send that opened it
    conn.onEnd(() => {
      if (!this.live.delete(conn)) return;
      for (const done of this.ended) done();
      this.refill();
    });
  }

  private async grow(): Promise<Channel> {
    this.opening++;
    try {
      const opened = await openConnection(this.options.connection, this.options.auth);
      const session = takeOverSession(opened, this.options.connection.socketTimeout ?? 60_000);
      if (!this.known) {
        this.known = true;
        this.depth = session ? PIPELINE_DEPTH : 1;
      }
      this.opening--;
      const conn = session ?? new NodemailerChannel(opened);
      this.track(conn);
      queueMicrotask(() => this.refill()); // sends held back while the first connection opened
      return conn;
    } catch (err) {
      this.opening--;
      // Sends queued behind this attempt would otherwise wait for a connection that never comes.
      queueMicrotask(() => this.refill());
      throw err;
    }
  }

  /**
   * Takes room on the least busy open connection: an idle one, or a busy one with room once no
   * more connections may be opened. Undefined when a new connection should be opened, or waited for.
   */
  private pick(): Channel | undefined {
    let best: Channel | undefined;
    let least = Infinity;
    for (const [conn, load] of this.live) {
      if (conn.destroyed || load >= least) continue;
      best = conn;
      least = load;
      if (load === 0) break;
    }
    if (!best || least >= this.depth || (least > 0 && this.size < this.maxConnections)) return undefined;
    this.live.set(best, least + 1);
    return best;
  }

  /** Hands free room, or new connections, to waiting sends. */
  private refill(): void {
    while (!this.closed && this.waiters.length) {
      const conn = this.pick();
      if (conn) {
        this.waiters.shift()!.resolve(conn);
      } else if (this.mayGrow) {
        const waiter = this.waiters.shift()!;
        this.grow().then(waiter.resolve, waiter.reject);
      } else {
        return;
      }
    }
  }

  private acquire(): Promise<Channel> {
    if (this.closed) return Promise.reject(smtpError('The mailer is closed', 'ECONNECTION'));
    const conn = this.pick();
    if (conn) return Promise.resolve(conn);
    if (this.mayGrow) return this.grow();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(conn: Channel): void {
    const load = this.live.get(conn);
    if (load === undefined) return; // the connection has ended
    this.live.set(conn, load - 1);
    if (conn.destroyed) return;
    if (this.closed) {
      if (load === 1) conn.quit();
      return;
    }
    this.refill();
  }

  /**
   * Sends one raw message. Rejects with an error shaped like nodemailer's (`responseCode`, `code`,
   * `response` kept). A send whose connection ended before it went out is tried on another one.
   */
  async send(envelope: SmtpEnvelope, raw: string): Promise<SmtpSendInfo> {
    for (let tries = 1; ; tries++) {
      const conn = await this.acquire();
      try {
        const info = await conn.send(envelope, raw);
        this.release(conn);
        return info;
      } catch (err) {
        this.release(conn);
        if (err instanceof UnsentError && tries < 3 && !this.closed) continue;
        throw err;
      }
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
    for (const w of this.waiters.splice(0)) w.reject(smtpError('The mailer is closed', 'ECONNECTION'));
    for (const [conn, load] of this.live) if (load === 0) conn.quit();
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
        for (const conn of this.live.keys()) conn.close();
        resolve();
      }, graceMs);
      timer.unref();
      this.ended.add(check);
    });
  }
}
