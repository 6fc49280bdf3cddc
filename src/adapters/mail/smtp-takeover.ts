// Hands the socket of a ready nodemailer connection to an SmtpSession (see smtp-session.ts for why).
// The one place that knows nodemailer's private fields: if they are not as expected, nothing is
// touched and the caller keeps sending through nodemailer.
import type { Socket } from 'node:net';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { SmtpSession } from './smtp-session.js';

/** nodemailer's SMTPConnection fields this module relies on (checked before use). */
interface ConnectionInternals {
  _socket?: Socket | false;
  _supportedExtensions?: unknown;
  _onSocketData?: unknown;
  _onSocketError?: unknown;
  _onConnectionSocketError?: unknown;
  _onSocketClose?: unknown;
  _onSocketEnd?: unknown;
  _onSocketTimeout?: unknown;
}

/**
 * Takes the socket of a ready nodemailer connection (EHLO, STARTTLS and AUTH done) when the
 * server offers PIPELINING. Null when it does not, or when the connection is not laid out as this
 * was written against (then the caller keeps sending through nodemailer).
 */
export function takeOverSession(conn: SMTPConnection, timeoutMs: number): SmtpSession | null {
  const c = conn as unknown as ConnectionInternals;
  const socket = c._socket;
  const ext = c._supportedExtensions;
  if (!socket || socket.destroyed || !Array.isArray(ext) || !ext.includes('PIPELINING')) return null;
  // Exactly nodemailer's own reader on the socket, or this is not the layout this was written for.
  const readers = socket.listeners('data');
  if (typeof c._onSocketData !== 'function' || readers.length !== 1 || readers[0] !== c._onSocketData) return null;
  const own: [string, unknown][] = [
    ['data', c._onSocketData],
    ['error', c._onSocketError],
    ['error', c._onConnectionSocketError],
    ['close', c._onSocketClose],
    ['end', c._onSocketEnd],
    ['timeout', c._onSocketTimeout],
  ];
  for (const [event, fn] of own) if (typeof fn === 'function') socket.removeListener(event, fn as never);
  c._socket = false; // nodemailer must never write to it again
  return new SmtpSession(socket, { smtpUtf8: ext.includes('SMTPUTF8'), timeoutMs });
}
